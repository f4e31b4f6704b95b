"""The results model every report reads: replications → estimates → verdicts → thresholds.

Verdicts control the family-wise error: a comparison of many variants on many metrics
asks dozens of questions at once, and at 95 % each, some pure-noise metric would come out
"significant" in most reports. Every verdict's paired t-test p-value goes through
Holm–Bonferroni over the whole verdict table (every applicable variant × metric pair).

Each verdict carries one interval, the one it was judged by, and every report shows that one:
the paired t-interval at the level Holm's step-down tested it at (`stats.holm_levels`: from
95 % for the last of m tests up to 1 − 0.05/m for the first), so it excludes 0 exactly when Holm
rejects "no difference". Read against the metric's minimal meaningful effect Δ
(`sim.metrics.meaningful`), the same interval gives the verdict:

- inside [−Δ, +Δ]: "no meaningful difference" (equivalence, TOST at that level; significant or not);
- else excluding 0: better, worse, or changed (a metric with no better direction);
- else: "no significant difference" (the interval holds 0 and also differences that matter).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from sim.metrics import segments as segment_pieces
from sim.metrics import timeseries as window_pieces
from sim.metrics.catalog import ALL_METRICS, CONVERSATION_METRICS, LOCK_SAFETY_METRICS, METRICS
from sim.metrics.context import RunContext
from sim.metrics.conversations import conversation_metrics
from sim.metrics.digest import RunDigest, basis, digest
from sim.metrics.lock_safety import lock_safety_metrics
from sim.metrics.meaningful import Margin, default_margin, margins, within
from sim.metrics.precision import Stopping
from sim.metrics.records import RunResult
from sim.metrics.segments import Segment
from sim.metrics.stats import (
    CONFIDENCE,
    Estimate,
    at_confidence,
    holm_levels,
    mean_ci,
    paired_difference,
    paired_p_value,
)
from sim.metrics.thresholds import Threshold, ThresholdOutcome, judge
from sim.metrics.timeseries import TimeSeries


class Judgement(StrEnum):
    """What a verdict says of a variant's metric against the baseline."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "no significant difference"  # the interval holds 0, and differences larger than the margin too
    CHANGED = "changed"  # significant, for a metric with no better direction
    NOT_APPLICABLE = "not applicable"  # the metric does not apply to one side (a cache hit ratio without a cache)
    EQUIVALENT = "no meaningful difference"  # the interval lies within ± the minimal meaningful effect


BETTER, WORSE, SAME, CHANGED, NOT_APPLICABLE, EQUIVALENT = Judgement
FINDINGS = (BETTER, WORSE, CHANGED)  # the verdicts a headline names


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    variant: str
    baseline: str
    metric: str
    difference: Estimate  # variant − baseline, paired by replication, at `confidence` (the verdict's interval)
    verdict: Judgement
    p_value: float = math.nan  # the paired t-test's, unadjusted; NaN when not applicable
    significant: bool = False  # Holm–Bonferroni rejects "no difference" over the comparison's family
    confidence: float = CONFIDENCE  # the level of `difference`: 1 − the level Holm tested it at
    margin: float = 0.0  # the minimal meaningful effect Δ, in the metric's unit (NaN when not applicable)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    scenario: str
    seed: int
    replications: int
    baseline: str
    descriptions: dict[str, str]  # variant → its configuration in words
    per_replication: dict[str, list[dict[str, float]]]  # variant → metrics of each replication; NaN: not applicable
    estimates: dict[str, dict[str, Estimate]]  # cut at each metric's bounds; mean NaN (n = 0): not applicable
    verdicts: list[Verdict]
    thresholds: list[ThresholdOutcome]
    runs: dict[str, list[RunDigest]]  # each replication's digest (its records only if kept), in replication order
    context: RunContext = RunContext(duration=0.0)  # what was simulated: fault windows, surges, the setup
    family_size: int = 0  # the verdicts Holm–Bonferroni adjusted together (the applicable ones)
    constant_metrics: tuple[str, ...] = ()  # identical in every replication of every variant
    timeseries: TimeSeries | None = None  # per time window; None for a comparison built without runs' times
    segments: tuple[Segment, ...] = field(default=())  # per group of messages (outage customers, faults, …)
    stopping: Stopping | None = None  # --precision: how many replications the stopping rule chose, and why
    # The metrics compared, in ALL_METRICS order: METRICS, CONVERSATION_METRICS when the runs had conversations,
    # LOCK_SAFETY_METRICS when they measured lock safety.
    metrics: tuple[str, ...] = tuple(METRICS)
    margins: dict[str, Margin] = field(default_factory=dict)  # per compared metric: its minimal meaningful effect

    @property
    def conversations(self) -> bool:
        """The runs had customers who wait for answers: their metrics are compared."""
        return any(m in CONVERSATION_METRICS for m in self.metrics)

    @property
    def lock_safety(self) -> bool:
        """The runs measured lock safety (a failover, replicas, fencing or WAIT): its metrics are compared."""
        return any(m in LOCK_SAFETY_METRICS for m in self.metrics)

    @property
    def breached(self) -> list[ThresholdOutcome]:
        return [t for t in self.thresholds if not t.passed]

    @property
    def violations(self) -> list[str]:
        """Broken invariants, each prefixed with its variant and replication."""
        return [
            f"{v} #{run.replication}: {text}"
            for v, runs in self.runs.items()
            for run in runs
            for text in run.violations
        ]


def compare(
    scenario: str,
    seed: int,
    baseline: str,
    descriptions: Mapping[str, str],
    runs: Mapping[str, Sequence[RunDigest | RunResult]],
    thresholds: Sequence[Threshold] = (),
    context: RunContext | None = None,
    meaningful: Sequence[Margin] = (),
) -> Comparison:
    """The comparison of the runs' digests (a `RunResult` is digested here, its records kept).

    Digests must have been made for this context (`digest.basis`): their windows and segments were cut by it.
    `meaningful`: the margins chosen (the scenario's, the command line's); the other metrics get their default.
    """
    context = context or RunContext(duration=0.0)
    ordered = {v: sorted((_digested(r, context) for r in rs), key=lambda r: r.replication) for v, rs in runs.items()}
    names = compared_metrics(run.metrics for rs in ordered.values() for run in rs)
    per_rep = {v: [_complete(run.metrics, names) for run in rs] for v, rs in ordered.items()}
    estimates = {
        v: {m: mean_ci([rep[m] for rep in reps], bounds=ALL_METRICS[m].unit.bounds) for m in names}
        for v, reps in per_rep.items()
    }
    chosen = margins(names, meaningful)
    verdicts = holm_adjusted(
        [
            verdict(variant, baseline, metric, per_rep[variant], per_rep[baseline], chosen[metric])
            for variant in per_rep
            if variant != baseline
            for metric in names
        ]
    )
    outcomes = [outcome for t in thresholds for outcome in judge(t, per_rep, baseline)]
    replications = len(next(iter(per_rep.values()), []))
    return Comparison(
        scenario=scenario,
        seed=seed,
        replications=replications,
        baseline=baseline,
        descriptions=dict(descriptions),
        per_replication=per_rep,
        estimates=estimates,
        verdicts=verdicts,
        thresholds=outcomes,
        runs=ordered,
        context=context,
        family_size=sum(1 for v in verdicts if v.verdict != NOT_APPLICABLE),
        constant_metrics=constant_metrics(per_rep),
        timeseries=window_pieces.combine({v: [r.windows for r in rs] for v, rs in ordered.items()}, context),
        segments=segment_pieces.combine({v: [r.segments for r in rs] for v, rs in ordered.items()}),
        metrics=names,
        margins=chosen,
    )


def compared_metrics(runs: Iterable[Mapping[str, float]]) -> tuple[str, ...]:
    """METRICS, and CONVERSATION_METRICS, CODE_METRICS or LOCK_SAFETY_METRICS if any run has them (then every run
    is compared on them)."""
    seen = {name for run in runs for name in run}
    return tuple(m for m in ALL_METRICS if m in METRICS or m in seen)


def _complete(metrics: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """A run's metrics on every compared name: a run compared without a context that opened no
    conversation beside runs that did has their values for none (0 conversations, the rates NaN)."""
    missing = [m for m in names if m not in metrics]
    if not missing:
        return dict(metrics)
    none = conversation_metrics(()) | lock_safety_metrics(())
    return {m: metrics[m] if m in metrics else none[m] for m in names}


def _digested(run: RunDigest | RunResult, context: RunContext) -> RunDigest:
    if isinstance(run, RunResult):
        return digest(run, context, keep_records=True)
    if run.basis != basis(context):
        raise ValueError(f"{run.variant} #{run.replication}: digested for another run context than this comparison's")
    return run


def verdict(
    variant: str,
    baseline: str,
    metric: str,
    new: Sequence[Mapping[str, float]],
    old: Sequence[Mapping[str, float]],
    margin: Margin | None = None,
) -> Verdict:
    """One pair's verdict judged alone, at 95 %; `holm_adjusted` then judges it within its family.

    `margin`: the metric's minimal meaningful effect (default: `meaningful.default_margin`); a relative
    one is taken of the baseline's mean over the replications where the metric applies.
    """
    a, b = [r[metric] for r in new], [r[metric] for r in old]
    diff = paired_difference(a, b)
    p = paired_p_value(a, b)
    delta = (margin or default_margin(metric)).of(mean_ci(b).mean)
    return Verdict(
        variant=variant,
        baseline=baseline,
        metric=metric,
        difference=diff,
        verdict=judge_difference(metric, diff, margin=delta),
        p_value=p,
        significant=diff.excludes_zero(),
        margin=delta,
    )


def holm_adjusted(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts, each significant only if Holm–Bonferroni rejects it within the whole table, each with
    its interval at the level Holm tested it at (so the interval shown is the one the verdict used)."""
    levels = holm_levels([v.p_value for v in verdicts])
    return [_adjusted(v, level) for v, level in zip(verdicts, levels, strict=True)]


def _adjusted(v: Verdict, level: float) -> Verdict:
    if math.isnan(level):  # not tested: nothing to pair (the metric does not apply)
        return v
    rejected = v.p_value <= level
    interval = at_confidence(v.difference, 1 - level)
    return replace(
        v,
        difference=interval,
        confidence=1 - level,
        significant=rejected,
        verdict=judge_difference(v.metric, interval, significant=rejected, margin=v.margin),
    )


def judge_difference(metric: str, diff: Estimate, significant: bool | None = None, margin: float = 0.0) -> Judgement:
    """The verdict on `diff` read against the margin Δ (module docstring); `significant` defaults to
    the interval excluding zero."""
    if not diff.applies:
        return NOT_APPLICABLE
    if diff.n >= 2 and within(diff.low, diff.high, margin):
        return EQUIVALENT
    if not (diff.excludes_zero() if significant is None else significant):
        return SAME
    better = ALL_METRICS[metric].better
    if better is None:
        return CHANGED  # a cost or a count with no better direction (LLM calls follow answered messages)
    return BETTER if (diff.mean > 0) == better else WORSE


def constant_metrics(per_rep: Mapping[str, Sequence[Mapping[str, float]]]) -> tuple[str, ...]:
    """The metrics with one value in every replication of every variant (NaN everywhere counts as one value)."""
    values = [rep for reps in per_rep.values() for rep in reps]
    names = values[0] if values else {}
    return tuple(m for m in names if len({_same(rep[m]) for rep in values}) == 1)


def _same(value: float) -> float | str:
    return "n/a" if math.isnan(value) else value
