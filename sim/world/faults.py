"""Faults in time windows: Redis unavailable or restarted, CRM errors, stalled workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import fakeredis
import simpy

from sim.scenario.model import Fault


class FaultSchedule:
    """What is broken when; the services ask it, the model installs the Redis faults."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        self.faults = tuple(faults)
        self._crm = [f for f in faults if f.kind == "crm_errors"]
        self._stalls = [f for f in faults if f.kind == "stall"]

    def crm_error_rate(self, t: float) -> float:
        return max((f.rate for f in self._crm if f.active(t)), default=0.0)

    def stall(self, t: float) -> float:
        """Extra seconds for an LLM call starting at t: a worker stuck longer than the lock TTL."""
        return sum(f.extra for f in self._stalls if f.active(t))

    def restarts(self) -> tuple[float, ...]:
        """When Redis restarted (and lost every key)."""
        return tuple(f.start for f in self.faults if f.kind == "redis_restart")

    def install(
        self, env: simpy.Environment, server: fakeredis.FakeServer, disconnect: Callable[[], None] = lambda: None
    ) -> None:
        """Start the Redis faults; `disconnect` breaks the connections of clients blocked in BLPOP."""
        for fault in self.faults:
            if fault.kind == "redis_down":
                env.process(_redis_down(env, server, fault, disconnect))
            elif fault.kind == "redis_restart":
                env.process(_redis_restart(env, server, fault, disconnect))


NO_FAULTS = FaultSchedule(())


def _redis_down(env: simpy.Environment, server: fakeredis.FakeServer, fault: Fault, disconnect: Callable[[], None]):  # type: ignore[no-untyped-def]
    """Every command is refused (ConnectionError) inside the window; blocked clients are cut off."""
    yield env.timeout(fault.start)
    server.connected = False
    disconnect()
    yield env.timeout(fault.duration)
    server.connected = True


def _redis_restart(env: simpy.Environment, server: fakeredis.FakeServer, fault: Fault, disconnect: Callable[[], None]):  # type: ignore[no-untyped-def]
    """A restart without persistence: every key (cache entries and locks) and every loaded script is gone,
    and every blocked client's connection breaks."""
    yield env.timeout(fault.start)
    with server.lock:
        for database in server.dbs.values():
            database.clear()
        server.script_cache.clear()
    disconnect()
