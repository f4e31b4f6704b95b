"""`ctx.call` for a team's handler: the scenario's services as one message meets them (either engine).

The same plan as the built-in bot's `PlannedCrm` and `PlannedLlm`: this message's drawn latency,
its draw against the CRM error rate (common random numbers), the services' timeouts and the
scenario's faults. A call is counted where it is served (`Served`, the whole run's) and in the
message's own `ServiceCalls` when it starts, so a call cut short (cancelled, timed out) still counts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sim.code.context import ServiceCalls
from sim.code.contract import ServiceError, ServiceTimeout
from sim.run.faults import FaultSchedule
from sim.run.services import Served
from sim.run.workload import PlannedMessage
from sim.scenario.model import Services

SERVICES = ("crm", "llm")

Wait = Callable[[float], Awaitable[None]]  # waits exactly this many seconds of the engine's clock


class PlannedDesk:
    """Serves one message's `ctx.call(service)` as the scenario planned it (see the module docstring).

    `scale`: engine seconds per scenario second (`sim live --time-scale`); `now`: the engine's clock,
    in scenario seconds (when a fault is active)."""

    __slots__ = ("_faults", "_now", "_planned", "_scale", "_served", "_services", "_wait")

    def __init__(
        self,
        planned: PlannedMessage,
        services: Services,
        faults: FaultSchedule,
        served: Served,
        *,
        wait: Wait,
        now: Callable[[], float],
        scale: float = 1.0,
    ) -> None:
        self._planned = planned
        self._services = services
        self._faults = faults
        self._served = served
        self._wait = wait
        self._now = now
        self._scale = scale

    async def call(self, service: str, calls: ServiceCalls) -> Any:
        if service == "crm":
            return await self._crm(calls)
        if service == "llm":
            return await self._llm(calls)
        raise ValueError(f"ctx.call({service!r}): the scenario's services are {', '.join(SERVICES)}")

    async def _crm(self, calls: ServiceCalls) -> dict[str, Any]:
        p = self._planned
        self._served.crm += 1
        failing = p.fault_draw < self._faults.crm_error_rate(self._now())
        await self._take(calls, "crm", p.crm_latency, self._services.crm_timeout)
        if failing:
            raise ServiceError("CRM answered with an error")
        return {"points": [f"point-{k + 1}" for k in range(p.points)], "in_outage": p.in_outage}

    async def _llm(self, calls: ServiceCalls) -> str:
        p = self._planned
        self._served.llm += 1
        latency = p.llm_latency + self._faults.stall(self._now())
        await self._take(calls, "llm", latency, self._services.llm_timeout)
        return f"answer to message {p.index + 1}"

    async def _take(self, calls: ServiceCalls, service: str, latency: float, timeout: float | None) -> None:
        """Wait out a call (scenario seconds); past its timeout the caller gives up at the timeout."""
        calls.add(service, 0.0)
        timed_out = timeout is not None and latency > timeout
        seconds = timeout if timed_out and timeout is not None else latency
        started = self._now()
        try:
            await self._wait(seconds * self._scale)
        finally:
            calls.seconds[service] += self._now() - started
        if timed_out:
            raise ServiceTimeout(f"{service.upper()} timed out after {seconds:g} s")
