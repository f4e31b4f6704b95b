"""k6-style thresholds: `busy_rate<0.01`, `after.latency_p95_s<60`.

A threshold is judged on the confidence bound that is worst for it — the
upper bound for `<`/`<=`, the lower bound for `>`/`>=` — so it passes only
when the whole 95 % interval is on the right side.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.metrics.stats import Estimate
from sim.metrics.summary import METRICS

_EXPRESSION = re.compile(r"^\s*(?:([A-Za-z0-9_-]+)\.)?([a-z0-9_]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")
_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class ThresholdError(ValueError):
    """A threshold expression that cannot be judged (bad syntax, unknown metric or variant)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    expression: str
    variant: str | None  # None: every variant
    metric: str
    op: str
    limit: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdOutcome:
    expression: str
    variant: str
    metric: str
    bound: str  # which CI bound was judged: "upper" or "lower"
    value: float
    passed: bool


def parse_threshold(expression: str, variants: Sequence[str]) -> Threshold:
    match = _EXPRESSION.match(expression)
    if not match:
        raise ThresholdError(f"threshold {expression!r} is not of the form [variant.]metric<number (ops: < <= > >=)")
    variant, metric, op, limit = match.groups()
    if metric not in METRICS:
        raise ThresholdError(f"threshold {expression!r}: unknown metric {metric!r} (metrics: {', '.join(METRICS)})")
    if variant is not None and variant not in variants:
        raise ThresholdError(f"threshold {expression!r}: unknown variant {variant!r} (variants: {', '.join(variants)})")
    return Threshold(expression=expression.strip(), variant=variant, metric=metric, op=op, limit=float(limit))


def judge(threshold: Threshold, estimates: Mapping[str, Mapping[str, Estimate]]) -> list[ThresholdOutcome]:
    """One outcome per variant the threshold applies to."""
    bound = "upper" if threshold.op.startswith("<") else "lower"
    outcomes = []
    for variant, metrics in estimates.items():
        if threshold.variant not in (None, variant):
            continue
        estimate = metrics[threshold.metric]
        value = estimate.high if bound == "upper" else estimate.low
        passed = _OPERATORS[threshold.op](value, threshold.limit)
        outcomes.append(
            ThresholdOutcome(
                expression=threshold.expression,
                variant=variant,
                metric=threshold.metric,
                bound=bound,
                value=value,
                passed=passed,
            )
        )
    return outcomes
