"""The results model of a sensitivity study (`sim compare --sensitivity`): one comparison per
case of the workload assumptions, and which verdicts hold in every case.

Plain data for the report, like `Comparison` for `sim compare`; the runs that fill it live in
`sim.sensitivity`. A verdict *holds* when every case gives the judgement the scenario as written
gives; otherwise it *flips* under the cases that differ (better → no significant difference
is a flip as much as better → worse: the finding would no longer be reported; no significant ↔
no meaningful difference is none: neither is a finding).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from sim.metrics.comparison import Comparison, Judgement, Verdict
from sim.metrics.stats import Estimate
from sim.metrics.thresholds import Form, Op, Threshold, ThresholdOutcome, judge

NEGATED = {Op.LT: Op.GE, Op.LE: Op.GT, Op.GT: Op.LE, Op.GE: Op.LT}


class ClaimState(StrEnum):
    HOLDS = "holds"  # its worst 95 % bound meets the claim
    FAILS = "fails"  # even its best 95 % bound misses it
    UNDECIDED = "not shown"  # the interval straddles the claim: more replications could tell
    NOT_APPLICABLE = "not applicable"  # nothing to judge: a change from 0, a metric that does not apply


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """Something promised about the change, in words and as a threshold to judge it by."""

    name: str  # "fewer apologies (95 %+)"
    threshold: Threshold


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimOutcome:
    claim: str
    expression: str
    variant: str
    metric: str
    form: Form
    measured: float  # the point estimate in the claim's terms: the metric (absolute) or the change (a fraction)
    state: ClaimState
    judged: str  # the bound judged, in words ("change ≤ -79.1 % (upper 95 % bound)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    name: str  # "as written", "light burst mix", …
    changes: tuple[str, ...]  # what differs from the scenario as written, one line per axis
    replications: int
    estimates: dict[str, dict[str, Estimate]]  # variant → metric → mean and 95 % CI
    verdicts: tuple[Verdict, ...]  # against the baseline, Holm-adjusted within the case's comparison
    thresholds: tuple[ThresholdOutcome, ...]  # the scenario's (and --threshold's), judged in this case
    claims: tuple[ClaimOutcome, ...]
    violations: tuple[str, ...]  # broken invariants: a simulator bug, whatever the case

    def verdict(self, variant: str, metric: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.variant == variant and v.metric == metric), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One variant × metric across the cases."""

    variant: str
    metric: str
    judgements: tuple[Judgement, ...]  # per case, in the study's case order (the first: as written)
    flips: tuple[str, ...]  # the cases whose judgement differs from the scenario as written's

    @property
    def holds(self) -> bool:
        return not self.flips


@dataclass(frozen=True, slots=True, kw_only=True)
class Sensitivity:
    scenario: str
    seed: int
    baseline: str
    design: str  # "one-at-a-time" or "full"
    axes: tuple[tuple[str, str], ...]  # (name, the assumption in words) of each axis varied
    cases: tuple[CaseResult, ...]  # the first is the scenario as written
    unchanged: tuple[str, ...]  # cases that change nothing in this scenario, not run
    rows: tuple[Row, ...]

    @property
    def violations(self) -> list[str]:
        return [f"{c.name}: {text}" for c in self.cases for text in c.violations]


def case_result(name: str, changes: Sequence[str], c: Comparison, claims: Sequence[Claim]) -> CaseResult:
    """What a case's comparison contributes to the study (not its runs: a study may hold dozens of cases)."""
    return CaseResult(
        name=name,
        changes=tuple(changes),
        replications=c.replications,
        estimates=c.estimates,
        verdicts=tuple(c.verdicts),
        thresholds=tuple(c.thresholds),
        claims=tuple(o for claim in claims for o in judge_claim(claim, c.per_replication, c.baseline)),
        violations=tuple(c.violations),
    )


def rows(cases: Sequence[CaseResult]) -> tuple[Row, ...]:
    """Every variant × metric of the first case (the scenario as written), with where its verdict flips."""
    first = cases[0]
    out = []
    for reference in first.verdicts:
        judgements = tuple(_judgement(c, reference.variant, reference.metric) for c in cases)
        flips = tuple(c.name for c, j in zip(cases, judgements, strict=True) if _kind(j) != _kind(reference.verdict))
        out.append(Row(variant=reference.variant, metric=reference.metric, judgements=judgements, flips=flips))
    return tuple(out)


def _kind(judgement: Judgement) -> Judgement:
    """What a flip compares: no significant and no meaningful difference are alike (neither is a finding)."""
    return Judgement.SAME if judgement is Judgement.EQUIVALENT else judgement


def _judgement(case: CaseResult, variant: str, metric: str) -> Judgement:
    found = case.verdict(variant, metric)
    return found.verdict if found else Judgement.NOT_APPLICABLE


def judge_claim(
    claim: Claim, per_replication: Mapping[str, Sequence[Mapping[str, float]]], baseline: str
) -> list[ClaimOutcome]:
    """The claim per variant it names: holds on its worst 95 % bound, fails when the opposite claim
    holds on its own worst bound (the claim's best one), else not shown either way."""
    t = claim.threshold
    against = judge(replace(t, op=NEGATED[t.op]), per_replication, baseline)
    outcomes = []
    for outcome, opposite in zip(judge(t, per_replication, baseline), against, strict=True):
        state = (
            ClaimState.NOT_APPLICABLE
            if not outcome.applicable
            else ClaimState.HOLDS
            if outcome.passed
            else ClaimState.FAILS
            if opposite.passed
            else ClaimState.UNDECIDED
        )
        outcomes.append(
            ClaimOutcome(
                claim=claim.name,
                expression=t.expression,
                variant=outcome.variant,
                metric=t.metric,
                form=t.form,
                measured=_measured(t, per_replication, outcome.variant, outcome.reference),
                state=state,
                judged=outcome.judged,
            )
        )
    return outcomes


def _measured(
    t: Threshold, per_replication: Mapping[str, Sequence[Mapping[str, float]]], variant: str, reference: str | None
) -> float:
    """The point estimate: the metric's mean, or the ratio of means (minus 1 for a change); NaN if undefined."""
    value = _mean(per_replication[variant], t.metric)
    if reference is None:
        return value
    before = _mean(per_replication[reference], t.metric)
    if not before > 0:
        return math.nan
    return value / before - (1.0 if t.form is Form.CHANGE else 0.0)


def _mean(reps: Sequence[Mapping[str, float]], metric: str) -> float:
    values = [float(r[metric]) for r in reps if not math.isnan(float(r[metric]))]
    return sum(values) / len(values) if values else math.nan
