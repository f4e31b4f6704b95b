"""Replications until the answer is sure: a fixed-width sequential stopping rule.

The procedure is Chow and Robbins' fixed-width sequential confidence interval (1965), with
Student's t in place of the normal quantile and a minimum first stage as its guard: run
`FIRST_STAGE` replications, then `BATCH` more at a time, and stop at the first count n at
which every watched quantity is done, or at the maximum. A quantity is

- a precision target's metric, per compared variant: the 95 % half-width of the paired
  difference variant − baseline, t(0.975, n−1) · s_n / √n over the replications where the
  metric applies to both, is at or below its target (a lone variant: its own level's);
- a threshold's (variant, metric): the threshold is decided on its 95 % interval, clearly
  met (the worst bound on the right side, as it is judged) or clearly breached (the best
  bound on the wrong side). A decided threshold also ends its metric's precision target.

Why a first stage: with two or three replications the sample standard deviation s_n is itself
a noisy estimate and is often far too small by chance; stopping on it would give an interval
much narrower than the truth and a coverage well below 95 %. Chow and Robbins guard with a
+1/n added to s_n², which depends on the metric's unit; a first stage of several replications
guards in any unit, and lets a quantity with no spread at all (every difference identical, as
on a scripted story) stop at exactly `FIRST_STAGE`. Batch sizes are constants, never the
number of processes or workers, so a scenario and seed stop at the same count anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sim.metrics.catalog import ALL_METRICS
from sim.metrics.stats import mean_ci
from sim.metrics.thresholds import Form, ThresholdOutcome, metric_value

FIRST_STAGE = 5  # n0: replications before the first look (see the module docstring)
BATCH = 5  # replications added per look, whatever runs them
DEFAULT_MAXIMUM = 100  # replications at most, unless the scenario or --max-replications says otherwise
RULE = "Chow–Robbins fixed-width sequential, t-based"


class PrecisionError(ValueError):
    """A precision target that cannot be used (unknown metric, a target that is not above 0, bad unit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """The 95 % half-width a metric's paired difference must reach, in the metric's unit."""

    metric: str
    half_width: float

    def __post_init__(self) -> None:
        if self.metric not in ALL_METRICS:
            raise PrecisionError(f"unknown metric {self.metric[:64]!r} (metrics: {', '.join(ALL_METRICS)})")
        if not (math.isfinite(self.half_width) and self.half_width > 0):
            raise PrecisionError(
                f"{self.metric}: the target half-width must be a finite number above 0, got {self.half_width!r}"
            )


class Status(StrEnum):
    """Where a watched quantity stands after a look."""

    MET = "target met"
    DECIDED = "threshold decided"
    NOT_APPLICABLE = "not applicable"  # no replication where the metric applies: more will not help
    OPEN = "too wide"


@dataclass(frozen=True, slots=True, kw_only=True)
class Watched:
    variant: str  # the compared variant (its difference against the baseline), or a threshold's variant
    metric: str
    target: float | None  # the half-width to reach; None: watched only for a threshold
    half_width: float  # the current one (inf with fewer than 2 replications where it applies)
    status: Status


class Reason(StrEnum):
    MET = "every precision target met"
    DECIDED = "every precision target met or its threshold decided"
    MAXIMUM = "maximum replications reached"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopping:
    """Why a comparison has the replications it has: part of the results model."""

    replications: int
    maximum: int
    watched: tuple[Watched, ...]
    first_stage: int = FIRST_STAGE
    batch: int = BATCH
    rule: str = RULE

    @property
    def still_open(self) -> tuple[Watched, ...]:
        return tuple(w for w in self.watched if w.status is Status.OPEN)

    @property
    def finished(self) -> bool:
        return not self.still_open or self.replications >= self.maximum

    @property
    def reason(self) -> Reason:
        if self.still_open:
            return Reason.MAXIMUM
        return Reason.DECIDED if any(w.status is Status.DECIDED for w in self.watched) else Reason.MET


# ---------------------------------------------------------------- parsing


def parse_targets(text: str) -> tuple[Target, ...]:
    """`busy_rate=0.002,latency_answered_p95_s=1s`: a target per metric, in its unit (as thresholds' limits)."""
    pairs = []
    for part in text.split(","):
        metric, equals, value = part.partition("=")
        if not equals:
            raise PrecisionError(f"expected METRIC=HALF_WIDTH[,…], e.g. busy_rate=0.2%, got {_quoted(part)}")
        pairs.append((metric.strip(), value.strip()))
    return targets_from(pairs)


def targets_from(pairs: Sequence[tuple[str, str | float]]) -> tuple[Target, ...]:
    """Targets from (metric, value) pairs: a value is a number in the metric's unit or a string with a unit."""
    targets: list[Target] = []
    for metric, value in pairs:
        if metric not in ALL_METRICS:
            raise PrecisionError(f"unknown metric {_quoted(metric)} (metrics: {', '.join(ALL_METRICS)})")
        if metric in (t.metric for t in targets):
            raise PrecisionError(f"{metric} has two targets")
        try:
            width = metric_value(metric, value) if isinstance(value, str) else float(value)
        except ValueError as error:
            raise PrecisionError(f"{metric}: {error}") from None
        if not (math.isfinite(width) and width > 0):
            raise PrecisionError(
                f"{metric}: the target half-width must be a finite number above 0, got {_quoted(str(value))}"
            )
        targets.append(Target(metric=metric, half_width=width))
    if not targets:
        raise PrecisionError("no target given")
    return tuple(targets)


def _quoted(text: str) -> str:
    return repr(text) if len(text) <= 64 else f"{text[:64]!r}… ({len(text):,} characters)"


# ---------------------------------------------------------------- the rule


def next_count(done: int, maximum: int) -> int:
    """The replication count after the next batch: the first stage, then `BATCH` more; never past `maximum`."""
    return min(FIRST_STAGE if done == 0 else done + BATCH, maximum)


def half_width(values: Sequence[float]) -> float:
    """The 95 % t half-width of the mean of `values`, NaN (not applicable) left out.

    inf with fewer than 2 values (no interval yet); exactly 0 when every value is the same
    (a float std of [0.1] * 3 is 1.7e-17, not 0).
    """
    kept = [v for v in values if not math.isnan(v)]
    if len(kept) < 2:
        return math.inf
    if min(kept) == max(kept):
        return 0.0
    e = mean_ci(kept)
    return (e.high - e.low) / 2


def assess(
    targets: Sequence[Target],
    per_replication: Mapping[str, Sequence[Mapping[str, float]]],
    baseline: str,
    thresholds: Sequence[ThresholdOutcome],
    maximum: int,
) -> Stopping:
    """Every watched quantity's status after `len(per_replication[...])` replications."""
    decided = _decided_thresholds(thresholds)
    watched = [
        _target(target, variant, baseline, per_replication, decided)
        for variant in _compared(per_replication, baseline)
        for target in targets
    ]
    named = {(w.variant, w.metric) for w in watched}
    watched += [
        Watched(variant=variant, metric=metric, target=None, half_width=width, status=_by_threshold(done))
        for (variant, metric), (done, width) in decided.items()
        if (variant, metric) not in named
    ]
    count = len(next(iter(per_replication.values()), []))
    return Stopping(replications=count, maximum=maximum, watched=tuple(watched))


def _compared(per_replication: Mapping[str, Sequence[Mapping[str, float]]], baseline: str) -> list[str]:
    """The variants whose difference against the baseline is watched; a lone variant: itself."""
    others = [v for v in per_replication if v != baseline]
    return others or [baseline]


def _target(
    target: Target,
    variant: str,
    baseline: str,
    per_replication: Mapping[str, Sequence[Mapping[str, float]]],
    decided: Mapping[tuple[str, str], tuple[bool, float]],
) -> Watched:
    m = target.metric
    new = [rep.get(m, math.nan) for rep in per_replication[variant]]  # NaN: the runs lack it (no conversations)
    old = [rep.get(m, math.nan) for rep in per_replication[baseline]]
    values = new if variant == baseline else [a - b for a, b in zip(new, old, strict=True)]
    width = half_width(values)
    if all(math.isnan(v) for v in values):
        status = Status.NOT_APPLICABLE
    elif width <= target.half_width:
        status = Status.MET
    elif decided.get((variant, m), (False, 0.0))[0]:
        status = Status.DECIDED
    else:
        status = Status.OPEN
    return Watched(variant=variant, metric=m, target=target.half_width, half_width=width, status=status)


def _by_threshold(decided: bool) -> Status:
    return Status.DECIDED if decided else Status.OPEN


def _decided_thresholds(outcomes: Sequence[ThresholdOutcome]) -> dict[tuple[str, str], tuple[bool, float]]:
    """(variant, metric) → whether every threshold on it is decided, and the widest half-width judged."""
    found: dict[tuple[str, str], tuple[bool, float]] = {}
    for t in outcomes:
        done, width = found.get((t.variant, t.metric), (True, 0.0))
        own = (t.difference.high - t.difference.low) / 2 if t.difference.n >= 2 else math.inf
        found[(t.variant, t.metric)] = (done and threshold_decided(t), max(width, own))
    return found


def threshold_decided(t: ThresholdOutcome) -> bool:
    """Clearly met or clearly breached on the 95 % interval; never on a single run.

    The interval judged is the metric's (absolute form, against the limit) or the paired
    d = variant − k·reference (relative and change forms, against 0). Met: its worst bound is
    on the right side (`passed`). Breached: its best bound is on the wrong side.
    A threshold that is not applicable (a metric that applies to no replication, a reference that is 0
    in every one) is decided: more runs of the same scenario will not make it apply.
    """
    d = t.difference
    if d.n == 0 or not t.applicable:
        return True
    if d.n < 2:
        return False
    limit = t.limit if t.form is Form.ABSOLUTE else 0.0
    best = d.low if t.op.bound == "upper" else d.high
    return t.passed or not t.op.holds(best, limit)
