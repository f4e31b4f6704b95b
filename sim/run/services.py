"""The CRM and the LLM as a run sees them: a planned latency, a canned answer, faults (either engine)."""

from __future__ import annotations

from sim.run.faults import NO_FAULTS, FaultSchedule
from sim.sut.cache import OutageInfo
from sim.sut.effects import NOW, Sleep, Step
from sim.sut.handler import ServiceError


class Served:
    """Calls the world's CRM and LLM received in one run: counted where they are served."""

    __slots__ = ("crm", "llm")

    def __init__(self) -> None:
        self.crm = 0
        self.llm = 0


class PlannedCrm:
    """Answers the outage check after this message's planned latency — or fails, as the scenario says.

    `calls` counts this message's calls; `served` the whole world's (shared by every message).
    """

    __slots__ = ("calls", "draw", "faults", "info", "latency", "served", "timeout")

    def __init__(
        self,
        latency: float,
        points: int,
        in_outage: bool = False,
        timeout: float | None = None,
        faults: FaultSchedule = NO_FAULTS,
        draw: float = 1.0,
        served: Served | None = None,
    ) -> None:
        self.latency = latency
        self.info = OutageInfo(tuple(f"point-{k + 1}" for k in range(points)), in_outage)
        self.timeout = timeout
        self.faults = faults
        self.draw = draw  # this message's uniform draw against the CRM error rate (common random numbers)
        self.served = served or Served()
        self.calls = 0

    def outage_info(self, tax_id: str) -> Step[OutageInfo]:
        self.calls += 1
        self.served.crm += 1
        now = yield NOW
        failing = self.draw < self.faults.crm_error_rate(now)
        yield from _call("CRM", self.latency, self.timeout)
        if failing:
            raise ServiceError("CRM answered with an error")
        return self.info


class PlannedLlm:
    """Answers after this message's planned latency (plus any stall); `calls` and `served` as for the CRM."""

    __slots__ = ("calls", "faults", "latency", "served", "timeout")

    def __init__(
        self,
        latency: float,
        timeout: float | None = None,
        faults: FaultSchedule = NO_FAULTS,
        served: Served | None = None,
    ) -> None:
        self.latency = latency
        self.timeout = timeout
        self.faults = faults
        self.served = served or Served()
        self.calls = 0

    def answer(self, text: str, outage_points: int) -> Step[str]:
        self.calls += 1
        self.served.llm += 1
        now = yield NOW
        yield from _call("LLM", self.latency + self.faults.stall(now), self.timeout)
        return f"answer to {text!r}"


def _call(name: str, latency: float, timeout: float | None) -> Step[None]:
    """Wait out a call; past its timeout the caller gives up at the timeout."""
    if timeout is not None and latency > timeout:
        yield Sleep(timeout, timer=False)
        raise ServiceError(f"{name} timed out after {timeout:g} s")
    yield Sleep(latency, timer=False)
