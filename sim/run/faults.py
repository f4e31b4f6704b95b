"""What is broken when, as the planned services ask it: CRM errors, stalls, restarts.

The Redis faults themselves are carried out by the engine that owns the server
(`sim.world.faults.install` on simulated time); `sim live` refuses faults.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.scenario.model import CrmErrors, Failover, Fault, RedisRestart, Stall


class FaultSchedule:
    def __init__(self, faults: Sequence[Fault]) -> None:
        self.faults = tuple(faults)
        self._crm = [f for f in faults if isinstance(f, CrmErrors)]
        self._stalls = [f for f in faults if isinstance(f, Stall)]

    def crm_error_rate(self, t: float) -> float:
        return max((f.rate for f in self._crm if f.active(t)), default=0.0)

    def stall(self, t: float) -> float:
        """Extra seconds for an LLM call starting at t: a worker stuck longer than the lock TTL."""
        return sum(f.extra for f in self._stalls if f.active(t))

    def restarts(self) -> tuple[float, ...]:
        """When Redis restarted (and lost every key)."""
        return tuple(f.start for f in self.faults if isinstance(f, RedisRestart))

    def failovers(self) -> tuple[float, ...]:
        """When the Redis primary died in a failover (the writes its replicas lacked were lost then)."""
        return tuple(sorted(f.start for f in self.faults if isinstance(f, Failover)))


NO_FAULTS = FaultSchedule(())
