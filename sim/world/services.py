"""The CRM and the LLM as the simulation sees them: a planned latency, a canned answer."""

from __future__ import annotations

from sim.sut.cache import OutageInfo
from sim.sut.effects import Sleep, Step


class PlannedCrm:
    """Answers the outage check after this message's planned CRM latency."""

    __slots__ = ("info", "latency")

    def __init__(self, latency: float, points: int) -> None:
        self.latency = latency
        self.info = OutageInfo(tuple(f"point-{k + 1}" for k in range(points)))

    def outage_info(self, tax_id: str) -> Step:
        yield Sleep(self.latency)
        return self.info


class PlannedLlm:
    __slots__ = ("latency",)

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def answer(self, text: str, outage_points: int) -> Step:
        yield Sleep(self.latency)
        return f"answer to {text!r}"
