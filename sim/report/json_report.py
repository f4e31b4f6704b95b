"""results.json: the versioned, machine-readable form of a comparison."""

from __future__ import annotations

import json
from typing import Any

from sim.metrics.baseline import FORMAT_VERSION, Change
from sim.metrics.comparison import Comparison
from sim.metrics.stats import CONFIDENCE, Estimate

DECIMALS = 6  # rounded so that results read the same on any machine


def render(c: Comparison, changes: list[Change] | None = None) -> str:
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "scenario": c.scenario,
        "seed": c.seed,
        "replications": c.replications,
        "seeds": [[c.seed, r] for r in range(c.replications)],
        "confidence": CONFIDENCE,
        "baseline": c.baseline,
        "passed": not c.breached,
        "invariant_violations": c.violations,
        "variants": {
            v: {
                "description": c.descriptions[v],
                "replications": [_numbers(rep) for rep in c.per_replication[v]],
                "summary": {m: _estimate(e) for m, e in c.estimates[v].items()},
            }
            for v in c.estimates
        },
        "differences": [
            {
                "variant": d.variant,
                "baseline": d.baseline,
                "metric": d.metric,
                **_estimate(d.difference),
                "verdict": d.verdict,
            }
            for d in c.verdicts
        ],  # fmt: skip
        "thresholds": [
            {
                "expression": t.expression,
                "variant": t.variant,
                "metric": t.metric,
                "bound": t.bound,
                "value": _round(t.value),
                "passed": t.passed,
            }
            for t in c.thresholds
        ],  # fmt: skip
        "baseline_diff": None
        if changes is None
        else [
            {
                "variant": ch.variant,
                "metric": ch.metric,
                "old": _round(ch.old),
                "new": _round(ch.new),
                **{f"difference_{k}": v for k, v in _estimate(ch.difference).items()},
                "significant": ch.significant,
            }
            for ch in changes
        ],  # fmt: skip
    }
    return json.dumps(data, indent=2) + "\n"


def _estimate(e: Estimate) -> dict[str, float]:
    return {"mean": _round(e.mean), "low": _round(e.low), "high": _round(e.high)}


def _numbers(values: dict[str, float]) -> dict[str, float]:
    return {k: _round(v) for k, v in values.items()}


def _round(value: float) -> float:
    return value if isinstance(value, int) else round(float(value), DECIMALS)
