"""The results model every report reads: replications → estimates → verdicts → thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.metrics.context import RunContext
from sim.metrics.records import RunResult
from sim.metrics.stats import Estimate, mean_ci, paired_difference
from sim.metrics.summary import METRICS, summarize
from sim.metrics.thresholds import Threshold, ThresholdOutcome, judge

BETTER, WORSE, SAME, CHANGED = "better", "worse", "no significant difference", "changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    variant: str
    baseline: str
    metric: str
    difference: Estimate  # variant − baseline, paired by replication
    verdict: str  # BETTER | WORSE | SAME


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    scenario: str
    seed: int
    replications: int
    baseline: str
    descriptions: dict[str, str]  # variant → its configuration in words
    per_replication: dict[str, list[dict[str, float]]]  # variant → metrics of each replication
    estimates: dict[str, dict[str, Estimate]]
    verdicts: list[Verdict]
    thresholds: list[ThresholdOutcome]
    runs: dict[str, list[RunResult]]  # raw runs, for records and plots
    context: RunContext = RunContext(duration=0.0)  # what was simulated: fault windows, surges, the setup

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
    runs: Mapping[str, Sequence[RunResult]],
    thresholds: Sequence[Threshold] = (),
    context: RunContext | None = None,
) -> Comparison:
    per_rep = {v: [summarize(run.records) for run in sorted(rs, key=lambda r: r.replication)] for v, rs in runs.items()}
    estimates = {v: {m: mean_ci([rep[m] for rep in reps]) for m in METRICS} for v, reps in per_rep.items()}
    verdicts = [
        verdict(variant, baseline, metric, per_rep[variant], per_rep[baseline])
        for variant in per_rep
        if variant != baseline
        for metric in METRICS
    ]
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
        runs={v: list(rs) for v, rs in runs.items()},
        context=context or RunContext(duration=0.0),
    )


def verdict(
    variant: str, baseline: str, metric: str, new: Sequence[Mapping[str, float]], old: Sequence[Mapping[str, float]]
) -> Verdict:
    diff = paired_difference([r[metric] for r in new], [r[metric] for r in old])
    return Verdict(
        variant=variant, baseline=baseline, metric=metric, difference=diff, verdict=judge_difference(metric, diff)
    )


def judge_difference(metric: str, diff: Estimate) -> str:
    if not diff.excludes_zero():
        return SAME
    better = METRICS[metric].better
    if better is None:
        return CHANGED  # a cost or a count with no better direction (LLM calls follow answered messages)
    return BETTER if (diff.mean > 0) == better else WORSE
