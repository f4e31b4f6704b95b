"""Metrics per group of messages, like k6's tags: who suffered, and when.

Each `Grouping` cuts a run's messages in two sides — customers inside a massive outage or
not, scripted customers or generated ones, arrived inside a fault window or not, inside a
surge or not, first message of a burst or a follow-up. Per side, per variant: messages,
busy rate, p95 latency of the answered messages and the failed share, each mean [95 % CI]
across replications. A grouping whose one side is empty in every replication says
nothing and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

import numpy as np

from sim.metrics.context import RunContext, ShadeKind
from sim.metrics.records import MessageRecord, Outcome, RunResult
from sim.metrics.stats import Estimate, mean_ci
from sim.metrics.summary import Metric, Unit, percentiles


class Grouping(StrEnum):
    OUTAGE = "outage"  # customers of a region with an active massive outage
    SCRIPTED = "scripted"  # the scenario's scripted customers
    FAULT = "fault"  # arrived inside a fault window
    SURGE = "surge"  # arrived inside a surge
    FIRST = "first"  # the first message of its burst


# Each grouping's two sides, as reports name them: the side the grouping is about first.
SIDES: dict[Grouping, tuple[str, str]] = {
    Grouping.OUTAGE: ("customers in a massive outage", "other customers"),
    Grouping.SCRIPTED: ("scripted customers", "generated customers"),
    Grouping.FAULT: ("arrived during a fault", "arrived outside faults"),
    Grouping.SURGE: ("arrived during a surge", "arrived outside surges"),
    Grouping.FIRST: ("first message of a burst", "follow-up messages"),
}

SEGMENT_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("messages", None, Unit.COUNT, "messages"),
        Metric("busy_rate", False, Unit.RATIO, "busy apologies, share of messages"),
        Metric("latency_answered_p95_s", False, Unit.SECONDS, "latency p95, answered messages only"),
        Metric("failed_share", False, Unit.RATIO, "failure apologies, share of messages"),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    grouping: Grouping
    side: str  # one of SIDES[grouping]
    inside: bool  # the side the grouping is about (SIDES[grouping][0])
    estimates: dict[str, dict[str, Estimate]]  # variant → metric (SEGMENT_METRICS) → mean [95 % CI]


def segments(runs: Mapping[str, Sequence[RunResult]], context: RunContext) -> tuple[Segment, ...]:
    """Both sides of every grouping that has messages on both sides in some replication."""
    columns = {v: [_Columns(run.records) for run in rs] for v, rs in runs.items()}
    found: list[Segment] = []
    for grouping in Grouping:
        sides = {inside: _per_variant(columns, grouping, context, inside) for inside in (True, False)}
        if any(_empty_everywhere(side) for side in sides.values()):
            continue
        found += [
            Segment(grouping=grouping, side=SIDES[grouping][0 if inside else 1], inside=inside, estimates=estimates)
            for inside, estimates in sides.items()
        ]
    return tuple(found)


def segment_metrics(outcome: np.ndarray, latency: np.ndarray) -> dict[str, float]:
    """SEGMENT_METRICS of one group of one run's messages, from their outcomes and latencies; NaN: not applicable."""
    n = len(outcome)
    answered = latency[outcome == _CODES[Outcome.ANSWERED]]
    return {
        "messages": n,
        "busy_rate": float(np.count_nonzero(outcome == _CODES[Outcome.BUSY])) / n if n else math.nan,
        "latency_answered_p95_s": percentiles(answered, (95,))[0],
        "failed_share": float(np.count_nonzero(outcome == _CODES[Outcome.FAILED])) / n if n else math.nan,
    }


_CODES = {outcome: code for code, outcome in enumerate(Outcome)}


class _Columns:
    """One run's records as the arrays the groupings and metrics read."""

    def __init__(self, records: Sequence[MessageRecord]) -> None:
        n = len(records)
        self.arrival = np.fromiter((r.arrival for r in records), dtype=float, count=n)
        self.latency = np.fromiter((r.reply_at - r.arrival for r in records), dtype=float, count=n)
        self.outcome = np.fromiter((_CODES[r.outcome] for r in records), dtype=np.int8, count=n)
        self.in_outage = np.fromiter((r.in_outage for r in records), dtype=bool, count=n)
        self.scripted = np.fromiter((r.scripted for r in records), dtype=bool, count=n)
        self.first = np.fromiter((r.index == 0 for r in records), dtype=bool, count=n)

    def inside(self, grouping: Grouping, context: RunContext) -> np.ndarray:
        """Which messages are on the side `grouping` is about."""
        match grouping:
            case Grouping.OUTAGE:
                return self.in_outage
            case Grouping.SCRIPTED:
                return self.scripted
            case Grouping.FAULT:
                return self._arrived_in(context, ShadeKind.FAULT)
            case Grouping.SURGE:
                return self._arrived_in(context, ShadeKind.SURGE)
            case Grouping.FIRST:
                return self.first
        assert_never(grouping)

    def _arrived_in(self, context: RunContext, kind: ShadeKind) -> np.ndarray:
        """Arrived in one of the half-open windows [start, end) of that kind."""
        inside = np.zeros(len(self.arrival), dtype=bool)
        for s in context.shaded:
            if s.kind == kind:
                inside |= (s.start <= self.arrival) & (self.arrival < s.end)
        return inside


def _per_variant(
    columns: Mapping[str, Sequence[_Columns]], grouping: Grouping, context: RunContext, inside: bool
) -> dict[str, dict[str, Estimate]]:
    estimates = {}
    for variant, runs in columns.items():
        reps = []
        for c in runs:
            side = c.inside(grouping, context) == inside
            reps.append(segment_metrics(c.outcome[side], c.latency[side]))
        estimates[variant] = {
            m: mean_ci([rep[m] for rep in reps], bounds=metric.unit.bounds) for m, metric in SEGMENT_METRICS.items()
        }
    return estimates


def _empty_everywhere(side: Mapping[str, Mapping[str, Estimate]]) -> bool:
    """No message on this side in any replication of any variant (their arrivals are the same)."""
    return all(e["messages"].high == 0 for e in side.values())
