"""Run a team's handler in tests: scenarios and handler files written from inline text, and a bare
simulated loop for asyncio semantics without a scenario."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import simpy

from sim.code import containment as contained
from sim.metrics.records import RunResult
from sim.scenario.load import load_scenario
from sim.world.event_loop import SimulatedLoop
from sim.world.model import simulate

SCRIPTED = """
[scenario]
name = "code-test"
seed = 7
replications = 2

[workload]
[[workload.script]]
customer = "magna"
tax_id = "123"
messages = {messages}

[services]
crm = {{ dist = "uniform", low = "8s", high = "10s" }}
llm = {{ dist = "uniform", low = "15s", high = "20s" }}
installation_points = 2

[redis]
rtt = "1ms"

[code]
handler = "bot.py:handle"
"""


def handler_scenario(folder: Path, code: str, *, messages: str = '["0s", "12s", "14s"]', extra: str = "") -> Path:
    """`bot.py` holding `code` and a scripted scenario that runs it on `messages`."""
    (folder / "bot.py").write_text(textwrap.dedent(code))
    path = folder / "scenario.toml"
    path.write_text(SCRIPTED.format(messages=messages) + textwrap.dedent(extra))
    return path


def run(path: Path, replication: int = 0, **kwargs: Any) -> list[RunResult]:
    """One replication of every variant of the scenario at `path`."""
    scenario = load_scenario(path)
    return [simulate(scenario, v, replication, **kwargs) for v in scenario.variants]


class BareLoop:
    """A simulated loop on its own SimPy environment, contained as a run's is."""

    def __init__(self, seed: int = 1, jitter: Callable[[float], float] | None = None) -> None:
        self.env = simpy.Environment()
        self.containment = contained.Containment(contained.Clock(now=lambda: self.env.now, epoch=1_000_000.0), seed)
        self.loop = SimulatedLoop(self.env, containment=self.containment, jitter=jitter)  # type: ignore[abstract]

    def run(self, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Run `main()` to its end on simulated time; its result."""
        self.containment.start()
        try:
            task = self.loop.create_task(main())
            self.loop.run_ready()
            self.env.run()
        finally:
            self.containment.finish()
        return task.result()
