"""`sim bench --memory`: peak memory against run length, to see how it grows per message.

Each length runs once, in its own fresh interpreter (so one size's peak never hides
another's), and reports its messages, wall time and peak resident memory. The slope
of the peaks against the messages (least squares) is the memory a run needs per
million messages; the intercept is the interpreter, the libraries and the world.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import sim
from sim.bench import peak_rss_mib, stretched
from sim.scenario.load import load_scenario
from sim.scenario.model import Scenario
from sim.world.model import simulate

MEMORY_DAYS = (1, 7, 30)  # `--memory` without sizes

# What the child runs: one run of one size, its figures as JSON on stdout.
_ONE_RUN = "import sys; from sim.bench.memory import one_run; print(one_run(*sys.argv[1:]))"


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeFigures:
    days: int
    messages: int
    wall_s: float
    messages_per_wall_s: float
    peak_memory_mib: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryCurve:
    scenario: str
    variant: str
    sizes: tuple[SizeFigures, ...]
    mib_per_million_messages: float | None  # None with fewer than two distinct sizes

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"{self.scenario} {self.variant}",
            f"{'days':>5}{'messages':>11}{'wall_s':>9}{'msg/s':>8}{'peak MiB':>10}",
        ]
        lines += [
            f"{s.days:>5}{s.messages:>11,}{s.wall_s:>9.1f}{s.messages_per_wall_s:>8.0f}{s.peak_memory_mib:>10.1f}"
            for s in self.sizes
        ]
        slope = self.mib_per_million_messages
        lines.append(f"peak memory per million messages: {'-' if slope is None else f'{slope:.1f} MiB'}")
        return "\n".join(lines)


def memory_curve(
    scenario: Scenario,
    variant_name: str | None,
    redis_path: str,
    days: Sequence[int],
    on_size: Callable[[int], None] = lambda days: None,
) -> MemoryCurve:
    """One run of each length in `days`, each in a fresh interpreter; `on_size(days)` is called after each
    (progress counts simulated days: a 30-day run takes 30 times as long as one day)."""
    variant = scenario.variant(variant_name) if variant_name else scenario.variants[0]
    for d in days:
        stretched(scenario, d)  # every size checked before the first runs
    sizes = []
    for d in days:
        sizes.append(_in_fresh_interpreter(scenario, variant.name, redis_path, d))
        on_size(d)
    slope = mib_per_million(sizes)
    return MemoryCurve(scenario=scenario.name, variant=variant.name, sizes=tuple(sizes), mib_per_million_messages=slope)


def one_run(path: str, variant_name: str, redis_path: str, days: str) -> str:
    """In the child: one run of `days` days, its figures as one line of JSON."""
    scenario = stretched(load_scenario(path), int(days))
    started = time.perf_counter()
    run = simulate(scenario, scenario.variant(variant_name), 0, redis_path=redis_path)
    wall = time.perf_counter() - started
    messages = len(run.records)
    figures = SizeFigures(
        days=int(days),
        messages=messages,
        wall_s=round(wall, 3),
        messages_per_wall_s=round(messages / wall, 1),
        peak_memory_mib=round(peak_rss_mib(), 1),
    )
    return json.dumps(asdict(figures))


def _in_fresh_interpreter(scenario: Scenario, variant: str, redis_path: str, days: int) -> SizeFigures:
    source = str(Path(sim.__file__).resolve().parents[1])  # this `sim`, not another installed one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))}
    command = [sys.executable, "-c", _ONE_RUN, os.path.abspath(scenario.path), variant, redis_path, str(days)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, env=env)
    return SizeFigures(**json.loads(done.stdout))


def mib_per_million(sizes: Sequence[SizeFigures]) -> float | None:
    """MiB of peak memory per million messages: the least-squares slope of peak against messages."""
    messages = np.array([s.messages for s in sizes], dtype=float)
    if len(set(messages)) < 2:
        return None
    peaks = np.array([s.peak_memory_mib for s in sizes])
    return round(float(np.polyfit(messages / 1e6, peaks, 1)[0]), 1)
