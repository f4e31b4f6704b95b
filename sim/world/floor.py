"""The floor of `sim bench`: what the simulator's two engines cost on their own.

The Redis command stream of a run, recorded with its timestamps and replayed
straight into fakeredis, plus a bare SimPy loop of the same number of events.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Generator
from typing import Any

import simpy
from fakeredis import FakeServer

from sim.scenario.model import Scenario, Variant
from sim.world import fakeredis_clock
from sim.world.executors import DirectExecutor, Executor
from sim.world.model import simulate

Recorded = list[tuple[float, tuple[Any, ...]]]  # (simulated time, command fields)


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


def record_commands(scenario: Scenario, variant: Variant) -> Recorded:
    log: Recorded = []
    if variant.code is not None:  # a team's handler: its commands as the server executed them
        simulate(scenario, variant, 0, command_log=log)
        return log

    def recording(server: FakeServer) -> Executor:
        database = server.dbs[0]
        return _Recorder(DirectExecutor(server), lambda: database.time, log)

    simulate(scenario, variant, 0, executor=recording)
    return log


def replay_seconds(log: Recorded) -> float:
    """Every recorded command run by fakeredis itself, at its recorded time, nothing else."""
    now = [0.0]
    server = fakeredis_clock.clocked_server(lambda: now[0])
    executor = DirectExecutor(server)
    for _, args in (entry for entry in log if entry[0] < 0):
        executor.command(args)
    stream = [(t, executor.prepare(args)) for t, args in log if t >= 0 and _replayable(args)]
    run, lock = executor.table.run, server.lock
    started = time.perf_counter()
    for t, (func, signature, arguments, _, _) in stream:
        now[0] = t
        with lock:
            run(func, signature, arguments, False)
    return time.perf_counter() - started


# Commands a one-connection replay cannot run as recorded: they block, or belong to a connection's state.
_NOT_REPLAYED = frozenset(
    b"blpop brpop blmove brpoplpush bzpopmin bzpopmax blmpop bzmpop xread xreadgroup wait waitaof "
    b"subscribe psubscribe ssubscribe unsubscribe punsubscribe sunsubscribe multi exec discard watch unwatch".split()
)


def _replayable(args: tuple[Any, ...]) -> bool:
    name = args[0] if isinstance(args[0], bytes) else str(args[0]).encode()
    return name.lower() not in _NOT_REPLAYED


def bare_simpy_seconds(events: int) -> float:
    env = simpy.Environment()

    def loop() -> Generator[simpy.Event, object, None]:
        for _ in range(events):
            yield env.timeout(0.001)

    env.process(loop())
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started
