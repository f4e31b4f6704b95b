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

from sim.metrics.arrays import Columns
from sim.metrics.catalog import Metric, Unit
from sim.metrics.context import RunContext, ShadeKind
from sim.metrics.records import Outcome
from sim.metrics.stats import Estimate, mean_ci
from sim.metrics.summary import percentiles


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


# One run's SEGMENT_METRICS per grouping and side (True: the side the grouping is about).
RunSegments = dict[tuple[Grouping, bool], dict[str, float]]


def segments(cols: Mapping[str, Sequence[Columns]], context: RunContext) -> tuple[Segment, ...]:
    """Both sides of every grouping that has messages on both sides in some replication.

    `cols`: per variant, the columns of each replication's records (`sim.metrics.arrays`).
    """
    return combine({v: [run_segments(c, context) for c in runs] for v, runs in cols.items()})


def run_segments(c: Columns, context: RunContext) -> RunSegments:
    """One run's metrics on each side of every grouping: what `combine` needs of it."""
    return {
        (grouping, inside): segment_metrics(c, _inside(c, grouping, context) == inside)
        for grouping in Grouping
        for inside in (True, False)
    }


def combine(runs: Mapping[str, Sequence[RunSegments]]) -> tuple[Segment, ...]:
    """The segments of runs whose metrics were computed apart (`run_segments`)."""
    found: list[Segment] = []
    for grouping in Grouping:
        sides = {inside: _per_variant(runs, grouping, inside) for inside in (True, False)}
        if any(_empty_everywhere(side) for side in sides.values()):
            continue
        found += [
            Segment(grouping=grouping, side=SIDES[grouping][0 if inside else 1], inside=inside, estimates=estimates)
            for inside, estimates in sides.items()
        ]
    return tuple(found)


def segment_metrics(c: Columns, side: np.ndarray) -> dict[str, float]:
    """SEGMENT_METRICS of the messages of one run on one `side` (a mask); NaN where one does not apply."""
    n = int(np.count_nonzero(side))

    def share(outcome: Outcome) -> float:
        return float(np.count_nonzero(side & c.outcome_is(outcome))) / n if n else math.nan

    return {
        "messages": n,
        "busy_rate": share(Outcome.BUSY),
        "latency_answered_p95_s": percentiles(c.latency[side & c.outcome_is(Outcome.ANSWERED)], (95,))[0],
        "failed_share": share(Outcome.FAILED),
    }


def _inside(c: Columns, grouping: Grouping, context: RunContext) -> np.ndarray:
    """Which messages are on the side `grouping` is about."""
    match grouping:
        case Grouping.OUTAGE:
            return c.in_outage
        case Grouping.SCRIPTED:
            return c.scripted
        case Grouping.FAULT:
            return _arrived_in(c, context, ShadeKind.FAULT)
        case Grouping.SURGE:
            return _arrived_in(c, context, ShadeKind.SURGE)
        case Grouping.FIRST:
            return c.first
    assert_never(grouping)


def _arrived_in(c: Columns, context: RunContext, kind: ShadeKind) -> np.ndarray:
    """Arrived in one of the half-open windows [start, end) of that kind."""
    inside = np.zeros(len(c.arrival), dtype=bool)
    for s in context.shaded:
        if s.kind == kind:
            inside |= (s.start <= c.arrival) & (c.arrival < s.end)
    return inside


def _per_variant(
    runs: Mapping[str, Sequence[RunSegments]], grouping: Grouping, inside: bool
) -> dict[str, dict[str, Estimate]]:
    estimates = {}
    for variant, pieces in runs.items():
        reps = [piece[grouping, inside] for piece in pieces]
        estimates[variant] = {
            m: mean_ci([rep[m] for rep in reps], bounds=metric.unit.bounds) for m, metric in SEGMENT_METRICS.items()
        }
    return estimates


def _empty_everywhere(side: Mapping[str, Mapping[str, Estimate]]) -> bool:
    """No message on this side in any replication of any variant (their arrivals are the same)."""
    return all(e["messages"].high == 0 for e in side.values())
