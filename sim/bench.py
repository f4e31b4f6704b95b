"""`sim bench`: how fast the simulator runs a scenario, in figures (never a pass/fail test).

Besides the speed of a full run it measures the *floor*: the same Redis
command stream replayed straight into fakeredis (recorded from the run, with
its timestamps) plus a bare SimPy loop of the same number of events. The
ratio full / floor is what the simulator adds on top of its two engines.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import simpy
from fakeredis import FakeServer

from sim.scenario.model import Scenario, Variant
from sim.world import fakeredis_clock
from sim.world.executors import DirectExecutor, Executor
from sim.world.model import simulate

Recorded = list[tuple[float, tuple[Any, ...]]]  # (simulated time, command fields)


@dataclass(frozen=True, slots=True)
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

    def as_dict(self) -> dict[str, float | str | int]:
        return asdict(self)


def bench(scenario: Scenario, variant_name: str | None = None, redis_path: str = "direct") -> BenchResult:
    variant = scenario.variant(variant_name) if variant_name else scenario.variants[0]
    started = time.perf_counter()
    run = simulate(scenario, variant, 0, redis_path=redis_path)
    wall = time.perf_counter() - started
    peak = _peak_rss_mib()
    messages = max(len(run.records), 1)
    simulated = max((r.done_at for r in run.records), default=0.0)
    replay_s = _replay_seconds(_record_commands(scenario, variant))
    simpy_s = _bare_simpy_seconds(run.events)
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
    )


class _Recorder:
    """An executor that notes every command (scripts as EVALSHA) before passing it on."""

    def __init__(self, inner: DirectExecutor, clock: Callable[[], float], log: Recorded) -> None:
        self.inner, self.clock, self.log = inner, clock, log

    def command(self, args: tuple[Any, ...]) -> Any:
        self.log.append((self.clock(), args))
        return self.inner.command(args)

    def script(self, source: str, keys: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        sha = hashlib.sha1(source.encode()).hexdigest()
        self.log.append((-1.0, ("SCRIPT", "LOAD", source)))  # loaded before the replay starts
        self.log.append((self.clock(), ("EVALSHA", sha, len(keys), *keys, *args)))
        return self.inner.script(source, keys, args)


def _record_commands(scenario: Scenario, variant: Variant) -> Recorded:
    log: Recorded = []

    def recording(server: FakeServer) -> Executor:
        database = server.dbs[0]
        return _Recorder(DirectExecutor(server), lambda: database.time, log)

    simulate(scenario, variant, 0, executor=recording)
    return log


def _replay_seconds(log: Recorded) -> float:
    """Every recorded command run by fakeredis itself, at its recorded time, nothing else."""
    now = [0.0]
    server = fakeredis_clock.clocked_server(lambda: now[0])
    executor = DirectExecutor(server)
    for _, args in (entry for entry in log if entry[0] < 0):
        executor.command(args)
    stream = [(t, executor.prepare(args)) for t, args in log if t >= 0]
    run, lock = executor.table.run, server.lock
    started = time.perf_counter()
    for t, (func, signature, arguments, _, _) in stream:
        now[0] = t
        with lock:
            run(func, signature, arguments, False)
    return time.perf_counter() - started


def _bare_simpy_seconds(events: int) -> float:
    env = simpy.Environment()

    def loop():  # type: ignore[no-untyped-def]
        for _ in range(events):
            yield env.timeout(0.001)

    env.process(loop())
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
