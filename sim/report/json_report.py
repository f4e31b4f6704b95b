"""results.json: the versioned, machine-readable form of a comparison.

Per-replication metrics are written at full precision (a float's repr reads back as the
same float), so that a later `--baseline` compares exactly what this run measured: a run
compared with its own results.json shows no difference. Summaries, intervals and threshold
values are display values, rounded so that they read the same on any machine.

Format 2 (`FORMAT_VERSION`), what its consumers need to know beyond format 1:
- a metric that does not apply to a run (a cache hit ratio with the cache off, a latency of
  answered messages when none was) is `null` — in `replications`, `summary`, `differences`,
  `timeseries` and `segments` alike; a verdict on it is "not applicable";
- `metrics`: name → label, unit and better direction ("higher", "lower" or null);
- each of `differences` has `p_value` (the paired t-test's, unadjusted) and `significant`
  (Holm–Bonferroni over the whole table rejects "no difference"); `family_size` is the number
  of verdicts Holm adjusted together; `constant_metrics` lists the metrics identical in every
  replication of every variant;
- `timeseries`: `window_s`, window `starts` (seconds), and per variant, per metric, one
  `{"mean", "low", "high"}` per window (`series_metrics` describes the metrics);
- `segments`: per grouping and side, per variant, per metric, `{"mean", "low", "high"}`;
- `stopping`, only when `--precision` (or `[scenario]precision`) chose the count: the rule, the
  replications run, first stage, batch and maximum, the reason it stopped (`reason`, `still_open`)
  and per watched variant and metric its target half-width (null: watched for a threshold), the
  half-width reached (null: no interval yet) and its status.
Summaries' intervals are cut at the metric's bounds (never below 0, a share never above 1).

Format 3, beyond format 2 (`--baseline` reads all three: only `variants.*.replications` is read):
- each of `differences` carries the interval its verdict was judged by: `low`/`high` at
  `confidence`, the level Holm's step-down tested it at (no longer the unadjusted 95 %), and
  `margin`, the minimal meaningful effect in the metric's unit; `verdict` may also be
  "no meaningful difference" (the interval lies within ± `margin`);
- `meaningful`: per compared metric, its margin as set (`value`, and `relative`: a fraction of the
  baseline's mean) — the defaults included;
- each of `thresholds` has `status` ("met", "breached", "not applicable") and `judged` (the words
  the reports show); `value` is null when the claim does not apply;
- `baseline_diff`'s changes carry `confidence` and `margin` likewise (Holm over their own family,
  `baseline_family_size`);
- `first_screen`: the report's first screen in words, as the terminal and report.md say it —
  `headlines` (per compared variant: `title`, `findings` of `verdict` and `text`, and `rest`, the
  clauses naming what did not change), `checks` (per threshold outcome: `mark`, `text`, `passed`)
  and `baseline_headlines` (against `--baseline`, like `headlines`; empty without one). `sim comment`
  builds a pull request's comment from it without re-running anything."""

from __future__ import annotations

import json
import math
from importlib import metadata
from typing import Any

import sim
from sim.metrics.baseline import FORMAT_VERSION, BaselineDiff
from sim.metrics.catalog import ALL_METRICS, Metric
from sim.metrics.comparison import Comparison
from sim.metrics.precision import Stopping
from sim.metrics.segments import SEGMENT_METRICS
from sim.metrics.stats import CONFIDENCE
from sim.metrics.timeseries import SERIES, TimeSeries
from sim.report.document import check
from sim.report.headline import Headline, baseline_headlines, headlines, rest_clauses
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
        "metrics": _described({m: ALL_METRICS[m] for m in c.metrics}),
        "constant_metrics": list(c.constant_metrics),
        "family_size": c.family_size,
        "meaningful": {m: {"value": rounded(g.value), "relative": g.relative} for m, g in c.margins.items()},
        "variants": {
            v: {
                "description": c.descriptions[v],
                "replications": [{m: _exact(x) for m, x in rep.items()} for rep in c.per_replication[v]],
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
                "confidence": rounded(d.confidence),
                "margin": rounded(d.margin),
                "p_value": rounded(d.p_value),
                "significant": d.significant,
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
                "value": rounded(t.value) if t.applicable else None,
                "passed": t.passed,
                "status": t.status,
                "judged": t.judged,
            }
            for t in c.thresholds
        ],
        "baseline_diff": None if diff is None else _baseline_diff(diff),
        "baseline_family_size": None if diff is None else diff.family_size,
        "baseline_not_compared": None if diff is None else list(diff.not_compared),
        "regressions": None if diff is None else [f"{ch.variant}.{ch.metric}" for ch in diff.regressions],
        "series_metrics": _described(SERIES),
        "timeseries": None if c.timeseries is None else _timeseries(c.timeseries),
        "segment_metrics": _described(SEGMENT_METRICS),
        "segments": [
            {
                "grouping": s.grouping,
                "side": s.side,
                "inside": s.inside,
                "variants": {v: {m: rounded_estimate(e) for m, e in ms.items()} for v, ms in s.estimates.items()},
            }
            for s in c.segments
        ],
    }
    data["first_screen"] = _first_screen(c, diff)
    if c.stopping is not None:  # only with --precision: a fixed count's file keeps its shape
        data["stopping"] = _stopping(c.stopping)
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def _first_screen(c: Comparison, diff: BaselineDiff | None) -> dict[str, Any]:
    return {
        "headlines": [_headline(h) for h in headlines(c)],
        "checks": [{"mark": k.mark, "text": k.text, "passed": k.passed} for k in map(check, c.thresholds)],
        "baseline_headlines": [_headline(h) for h in baseline_headlines(diff)] if diff else [],
    }


def _headline(h: Headline) -> dict[str, Any]:
    return {
        "title": h.title,
        "findings": [{"verdict": str(f.verdict), "text": f.text} for f in h.findings],
        "rest": rest_clauses(h),
    }


def _stopping(s: Stopping) -> dict[str, Any]:
    return {
        "rule": s.rule,
        "replications": s.replications,
        "first_stage": s.first_stage,
        "batch": s.batch,
        "maximum": s.maximum,
        "reason": s.reason,
        "still_open": [f"{w.variant}.{w.metric}" for w in s.still_open],
        "watched": [
            {
                "variant": w.variant,
                "metric": w.metric,
                "target_half_width": w.target,
                "half_width": rounded(w.half_width) if math.isfinite(w.half_width) else None,
                "status": w.status,
            }
            for w in s.watched
        ],
    }


def _exact(value: float) -> float | None:
    """A per-replication metric at full precision; None where it does not apply."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _described(metrics: dict[str, Metric]) -> dict[str, dict[str, Any]]:
    direction = {True: "higher", False: "lower", None: None}
    return {m.name: {"label": m.label, "unit": m.unit, "better": direction[m.better]} for m in metrics.values()}


def _timeseries(ts: TimeSeries) -> dict[str, Any]:
    return {
        "window_s": ts.window_s,
        "starts": list(ts.starts),
        "variants": {
            v: {m: [rounded_estimate(e) for e in estimates] for m, estimates in metrics.items()}
            for v, metrics in ts.values.items()
        },
    }


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
            "confidence": rounded(ch.confidence),
            "margin": rounded(ch.margin),
            "p_value": rounded(ch.p_value),
            "significant": ch.significant,
            "verdict": ch.verdict,
        }
        for ch in diff.changes
    ]
