"""Does the scenario reproduce production? Each metric the log shows, against the simulation's
95 % prediction interval across replications.

The interval is Student's t prediction interval for one more replication,
mean ± t(0.975, R−1) · s · √(1 + 1/R): where a replication's value would fall 95 % of the
time if production were one more replication of the scenario, cut at the values the metric
can take (0 for times and counts, 0 and 1 for shares). The range of the
replications (min–max) is shown beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sim.fit.export import as_logs
from sim.fit.observed import Observable, observed
from sim.logs.read import Logs
from sim.metrics.digest import RunDigest
from sim.metrics.records import MessageRecord

INTERVAL = "t prediction interval, 95 %: mean ± t(0.975, R−1)·s·√(1 + 1/R) over R replications"
LEVEL = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    metric: Observable
    observed: float
    mean: float
    low: float
    high: float
    replications: tuple[float, ...]

    @property
    def inside(self) -> bool:
        slack = 1e-9 * max(1.0, abs(self.mean))  # replications without spread: equal is inside
        return self.low - slack <= self.observed <= self.high + slack

    @property
    def outside_by(self) -> float:
        """How far outside the interval (0 inside), in the metric's unit."""
        return 0.0 if self.inside else max(self.low - self.observed, self.observed - self.high)


@dataclass(frozen=True, slots=True, kw_only=True)
class Validation:
    scenario: str
    variant: str
    replications: int
    checks: tuple[Check, ...]
    required: tuple[Observable, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        """The required metrics that fall outside."""
        return tuple(c for c in self.checks if c.metric in self.required and not c.inside)


def validate(
    logs: Logs, runs: Sequence[RunDigest], scenario: str, variant: str, required: tuple[Observable, ...]
) -> Validation:
    """`runs` must have kept their records (`experiment.Records(keep=True)`): the simulated logs are made of them."""
    production = observed(logs.messages, logs.calls)
    simulated = [observed(*as_logs(_records(run))) for run in runs]
    checks = []
    for metric, value in production.items():
        values = tuple(s[metric] for s in simulated if metric in s)
        if values:
            checks.append(_check(metric, value, values))
    return Validation(
        scenario=scenario, variant=variant, replications=len(runs), checks=tuple(checks), required=required
    )


def _records(run: RunDigest) -> Sequence[MessageRecord]:
    if run.records is None:
        raise ValueError(f"{run.variant} #{run.replication}: validation needs the run's records, which it did not keep")
    return run.records


def _check(metric: Observable, value: float, values: tuple[float, ...]) -> Check:
    sample = np.asarray(values, dtype=float)
    mean = float(sample.mean())
    n = len(sample)
    half = 0.0 if n < 2 else float(stats.t.ppf(0.5 + LEVEL / 2, n - 1) * sample.std(ddof=1) * math.sqrt(1 + 1 / n))
    # Cut at the values the metric can take (no reply takes -2 s): a value that falls inside the t-interval
    # falls inside its intersection with them, so the interval keeps its 95 %.
    low, high = metric.bounds
    return Check(
        metric=metric,
        observed=value,
        mean=mean,
        low=max(mean - half, low),
        high=min(mean + half, high),
        replications=values,
    )


def markdown(v: Validation) -> str:
    lines = [
        f"## Validation of `{v.scenario}` (variant `{v.variant}`) against production",
        f"Interval: {INTERVAL}; R = {v.replications}. The log and a replication may cover different spans: "
        "a metric's spread across replications is that of the scenario's duration.",
        "",
        "| metric | observed | simulated mean | 95 % prediction interval | replications (min–max) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for c in v.checks:
        verdict = "inside" if c.inside else f"**outside by {c.outside_by:.4g}**"
        if c.metric in v.required:
            verdict += " (required)"
        lines.append(
            f"| {c.metric} | {c.observed:.4g} | {c.mean:.4g} | [{c.low:.4g}, {c.high:.4g}] | "
            f"{min(c.replications):.4g}–{max(c.replications):.4g} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def as_json(v: Validation) -> dict[str, Any]:
    return {
        "kind": "validation",
        "scenario": v.scenario,
        "variant": v.variant,
        "replications": v.replications,
        "interval": INTERVAL,
        "metrics": {
            str(c.metric): {
                "observed": c.observed,
                "mean": c.mean,
                "low": c.low,
                "high": c.high,
                "inside": c.inside,
                "outside_by": c.outside_by,
                "required": c.metric in v.required,
                "replications": list(c.replications),
            }
            for c in v.checks
        },
        "failed": [str(c.metric) for c in v.failed],
    }
