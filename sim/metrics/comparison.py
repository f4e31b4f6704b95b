"""The results model every report reads: replications → estimates → verdicts → thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.metrics.records import RunResult
from sim.metrics.stats import Estimate, mean_ci, paired_difference
from sim.metrics.summary import METRICS, summarize
from sim.metrics.thresholds import Threshold, ThresholdOutcome, judge

BETTER, WORSE, SAME, CHANGED = "better", "worse", "no significant difference", "changed"


@dataclass(frozen=True, slots=True)
class Verdict:
    variant: str
    baseline: str
    metric: str
    difference: Estimate  # variant − baseline, paired by replication
    verdict: str  # BETTER | WORSE | SAME


@dataclass(frozen=True, slots=True)
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
) -> Comparison:
    per_rep = {v: [summarize(run.records) for run in sorted(rs, key=lambda r: r.replication)] for v, rs in runs.items()}
    estimates = {v: {m: mean_ci([rep[m] for rep in reps]) for m in METRICS} for v, reps in per_rep.items()}
    verdicts = [
        verdict(variant, baseline, metric, per_rep[variant], per_rep[baseline])
        for variant in per_rep
        if variant != baseline
        for metric in METRICS
    ]
    outcomes = [outcome for t in thresholds for outcome in judge(t, estimates)]
    replications = len(next(iter(per_rep.values()), []))
    return Comparison(
        scenario, seed, replications, baseline, dict(descriptions), per_rep, estimates, verdicts, outcomes,
        {v: list(rs) for v, rs in runs.items()},
    )  # fmt: skip


def verdict(variant: str, baseline: str, metric: str, new: Sequence[dict], old: Sequence[dict]) -> Verdict:
    diff = paired_difference([r[metric] for r in new], [r[metric] for r in old])
    return Verdict(variant, baseline, metric, diff, judge_difference(metric, diff))


def judge_difference(metric: str, diff: Estimate) -> str:
    if not diff.excludes_zero():
        return SAME
    if METRICS[metric] is None:
        return CHANGED  # a cost or a count with no better direction (LLM calls follow answered messages)
    return BETTER if (diff.mean > 0) == bool(METRICS[metric]) else WORSE
