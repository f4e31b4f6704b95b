"""`sim bench`: how fast the simulator runs a scenario, in figures (never a pass/fail test)."""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import asdict, dataclass

from sim.scenario.model import Scenario
from sim.world.model import simulate


@dataclass(frozen=True, slots=True)
class BenchResult:
    scenario: str
    variant: str
    messages: int
    simulated_s: float
    wall_s: float
    messages_per_wall_s: float
    time_compression: float  # simulated seconds per wall second
    redis_commands_per_message: float
    peak_memory_mib: float

    def as_dict(self) -> dict[str, float | str | int]:
        return asdict(self)


def bench(scenario: Scenario, variant_name: str | None = None) -> BenchResult:
    variant = scenario.variant(variant_name) if variant_name else scenario.variants[0]
    started = time.perf_counter()
    run = simulate(scenario, variant, 0)
    wall = time.perf_counter() - started
    messages = len(run.records)
    simulated = max((r.done_at for r in run.records), default=0.0)
    commands = sum(r.redis_commands for r in run.records)
    return BenchResult(
        scenario=scenario.name,
        variant=variant.name,
        messages=messages,
        simulated_s=round(simulated, 3),
        wall_s=round(wall, 3),
        messages_per_wall_s=round(messages / wall, 1),
        time_compression=round(simulated / wall, 1),
        redis_commands_per_message=round(commands / max(messages, 1), 2),
        peak_memory_mib=round(_peak_rss_mib(), 1),
    )


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
