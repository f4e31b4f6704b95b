"""results.json: the versioned, machine-readable form of a comparison.

Per-replication metrics are written at full precision (a float's repr reads back as the
same float), so that a later `--baseline` compares exactly what this run measured: a run
compared with its own results.json shows no difference. Summaries, intervals and threshold
values are display values, rounded so that they read the same on any machine."""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

import sim
from sim.metrics.baseline import FORMAT_VERSION, BaselineDiff
from sim.metrics.comparison import Comparison
from sim.metrics.stats import CONFIDENCE
from sim.report.numbers import rounded, rounded_estimate


def render(c: Comparison, diff: BaselineDiff | None = None) -> str:
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "scenario": c.scenario,
        "seed": c.seed,
        "replications": c.replications,
        "seeds": [[c.seed, r] for r in range(c.replications)],
        "confidence": CONFIDENCE,
        "baseline": c.baseline,
        "versions": versions(),
        "setup": c.context.setup,
        "passed": not c.breached,
        "invariant_violations": c.violations,
        "variants": {
            v: {
                "description": c.descriptions[v],
                "replications": [dict(rep) for rep in c.per_replication[v]],
                "summary": {m: rounded_estimate(e) for m, e in c.estimates[v].items()},
            }
            for v in c.estimates
        },
        "differences": [
            {
                "variant": d.variant,
                "baseline": d.baseline,
                "metric": d.metric,
                **rounded_estimate(d.difference),
                "verdict": d.verdict,
            }
            for d in c.verdicts
        ],
        "thresholds": [
            {
                "expression": t.expression,
                "variant": t.variant,
                "metric": t.metric,
                "bound": t.bound,
                "value": rounded(t.value),
                "passed": t.passed,
            }
            for t in c.thresholds
        ],
        "baseline_diff": None if diff is None else _baseline_diff(diff),
        "baseline_not_compared": None if diff is None else list(diff.not_compared),
        "regressions": None if diff is None else [f"{ch.variant}.{ch.metric}" for ch in diff.regressions],
    }
    return json.dumps(data, indent=2) + "\n"


# The packages whose versions decide the numbers: sim itself, the engine, the Redis stand-in
# and client, the statistics and the plots. Recorded so a report can be re-run as it was made.
PACKAGES = ("sim", "simpy", "numpy", "fakeredis", "redis", "scipy", "matplotlib")


def versions() -> dict[str, str]:
    """Each package's installed version; sim's own from its source when it is not installed."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = sim.__version__ if name == "sim" else "not installed"
    return found


def _baseline_diff(diff: BaselineDiff) -> list[dict[str, Any]]:
    return [
        {
            "variant": ch.variant,
            "metric": ch.metric,
            "old": rounded(ch.old),
            "new": rounded(ch.new),
            "old_replications": ch.old_replications,
            "new_replications": ch.new_replications,
            **{f"difference_{k}": v for k, v in rounded_estimate(ch.difference).items()},
            "significant": ch.significant,
            "verdict": ch.verdict,
        }
        for ch in diff.changes
    ]
