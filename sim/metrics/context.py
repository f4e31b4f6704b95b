"""What a comparison simulated, in the results model: reports read it, never the scenario itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ShadeKind(StrEnum):
    """Why a stretch of simulated time is shaded on every time plot."""

    FAULT = "fault"
    SURGE = "surge"


@dataclass(frozen=True, slots=True, kw_only=True)
class Shaded:
    kind: ShadeKind
    label: str  # "Redis down", "surge ×5"
    start: float  # seconds from the start of the run
    end: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    duration: float  # seconds during which bursts start (the run drains after it)
    shaded: tuple[Shaded, ...] = ()  # fault windows and surges, in start order
    workload: tuple[str, ...] = ()  # what was simulated, a line each, in words
    setup: Mapping[str, Any] = field(default_factory=dict)  # the whole resolved scenario, JSON-ready
    # The workload has customers who wait for answers: every run reports their metrics (`CONVERSATION_METRICS`),
    # a run that happened to open none included (0 conversations).
    conversations: bool = False
    # Variants served by a team's own handler (`[code]`): the invariants that hold by the built-in bot's
    # design are not checked on them (`sim.metrics.invariants.ANY_HANDLER`).
    team_handlers: tuple[str, ...] = ()
    # Lock safety is measured (a failover, replicas, fencing or WAIT): every run reports `LOCK_SAFETY_METRICS`.
    lock_safety: bool = False
