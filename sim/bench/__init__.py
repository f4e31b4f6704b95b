"""`sim bench`: how fast the simulator runs a scenario, in figures (never a pass/fail test).

Besides the speed of a full run it measures the *floor*: the same Redis
command stream replayed straight into fakeredis (recorded from the run, with
its timestamps) plus a bare SimPy loop of the same number of events. The
ratio full / floor is what the simulator adds on top of its two engines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import sim
from sim.core.errors import ArgumentError, ScenarioError
from sim.scenario.model import Scenario
from sim.scenario.work import check_work
from sim.terminal.startup import cli_import_seconds
from sim.world.floor import bare_simpy_seconds, record_commands, replay_seconds
from sim.world.model import simulate


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    scenario: str
    variant: str
    redis_path: str
    messages: int
    simulated_s: float
    wall_s: float
    messages_per_wall_s: float
    time_compression: float  # simulated seconds per wall second
    redis_commands_per_message: float
    events_per_message: float
    peak_memory_mib: float
    floor_redis_replay_s: float
    floor_simpy_s: float
    floor_ratio: float  # full run / (replay + bare SimPy)
    cli_import_s: float  # importing sim.cli in a fresh interpreter: what `sim --help` waits for
    memory_per_message_kib: float  # what the run added to the process's peak memory, per message

    def as_dict(self) -> dict[str, float | str | int]:
        return asdict(self)


PHASES = 5  # the run, recording its commands, replaying them, the bare SimPy loop, the CLI import
MAX_DAYS = 365  # `--days`: a year of the reference day is ~36 M messages, past the scenario limit anyway
DAY = 86400.0


def stretched(scenario: Scenario, days: int) -> Scenario:
    """The scenario run for `days` simulated days: its rates go on (a daily curve repeats every 24 h);
    scripted messages, surges and faults stay where they are. Refused past the scenario's work limits."""
    if not 1 <= days <= MAX_DAYS:
        raise ArgumentError(f"--days must be a whole number from 1 to {MAX_DAYS}, got {days}")
    longer = dataclasses.replace(scenario, duration=days * DAY)
    try:
        check_work(longer)
    except ScenarioError as error:
        raise ArgumentError(f"--days {days}: {error}") from None
    return longer


def bench(
    scenario: Scenario,
    variant_name: str | None = None,
    redis_path: str = "direct",
    on_phase: Callable[[], None] = lambda: None,
) -> BenchResult:
    """The figures of one run of a variant (default: the first); `on_phase` is called after each of PHASES."""
    variant = scenario.variant(variant_name) if variant_name else scenario.variants[0]
    before = current_rss_mib()
    started = time.perf_counter()
    run = simulate(scenario, variant, 0, redis_path=redis_path)
    wall = time.perf_counter() - started
    peak = peak_rss_mib()
    on_phase()
    messages = max(len(run.records), 1)
    simulated = max((r.done_at for r in run.records), default=0.0)
    recorded = record_commands(scenario, variant)
    on_phase()
    replay_s = replay_seconds(recorded)
    on_phase()
    simpy_s = bare_simpy_seconds(run.events)
    on_phase()
    import_s = cli_import_seconds()
    on_phase()
    return BenchResult(
        scenario=scenario.name,
        variant=variant.name,
        redis_path=redis_path,
        messages=len(run.records),
        simulated_s=round(simulated, 3),
        wall_s=round(wall, 3),
        messages_per_wall_s=round(len(run.records) / wall, 1),
        time_compression=round(simulated / wall, 1),
        redis_commands_per_message=round(sum(r.redis_commands for r in run.records) / messages, 2),
        events_per_message=round(run.events / messages, 2),
        peak_memory_mib=round(peak, 1),
        floor_redis_replay_s=round(replay_s, 3),
        floor_simpy_s=round(simpy_s, 3),
        floor_ratio=round(wall / (replay_s + simpy_s), 3),
        cli_import_s=round(import_s, 3),
        memory_per_message_kib=round(max(peak - before, 0.0) * 1024 / messages, 2),
    )


def current_rss_mib() -> float:
    """The memory this process holds now (resident set, MiB); its peak where the platform tells no more."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


# `sim bench` without a scenario: the reference day served by the built-in bot, and by the same bot written
# as a team writes it (examples/seed-bot/bot.py): what running a team's own asyncio + redis-py code costs.
PAIR = ("reference-day", "seed-bot/reference-day.toml")  # a bundled name, and a file of the checkout's examples
_ONE_BENCH = "import sys; from sim.bench import bench_in_this_process; print(bench_in_this_process(*sys.argv[1:]))"


def bench_in_this_process(path: str, redis_path: str) -> str:
    """One bench of the scenario at `path` as JSON: the body of `bench_pair`'s fresh interpreters."""
    from sim.scenario.load import load_scenario

    return json.dumps(bench(load_scenario(path), None, redis_path).as_dict())


def bench_pair(paths: tuple[str, str], redis_path: str, on_phase: Callable[[], None]) -> tuple[BenchResult, ...]:
    """Each scenario benched in a fresh interpreter (one run's peak memory must not hide the other's)."""
    source = str(Path(sim.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH")))),
           "PYTHONHASHSEED": "0"}  # fmt: skip
    results = []
    for path in paths:
        done = subprocess.run(
            [sys.executable, "-c", _ONE_BENCH, path, redis_path], capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench of {path} failed: {done.stderr.strip()[-500:]}")
        results.append(BenchResult(**json.loads(done.stdout)))
        on_phase()
    return tuple(results)


def pair_table(builtin: BenchResult, handler: BenchResult) -> str:
    """The two benches side by side, and what the team's handler path costs against the built-in's."""
    width = max(len(k) for k in builtin.as_dict())
    lines = [f"{'':<{width}}  {'built-in bot':>14}  {'team handler':>14}"]
    for key, value in builtin.as_dict().items():
        lines.append(f"{key:<{width}}  {value!s:>14}  {handler.as_dict()[key]!s:>14}")
    share = handler.messages_per_wall_s / builtin.messages_per_wall_s if builtin.messages_per_wall_s else 0.0
    lines.append(
        f"the team handler's path runs at {share:.0%} of the built-in bot's rate "
        f"({handler.messages_per_wall_s:,.0f} against {builtin.messages_per_wall_s:,.0f} messages per wall-second)"
    )
    return "\n".join(lines)


def peak_rss_mib() -> float:
    """The most memory this process has held so far (resident set, MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
