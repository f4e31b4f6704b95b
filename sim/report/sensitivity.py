"""sensitivity.md, sensitivity.json and the terminal summary of `sim compare --sensitivity`.

Reads only the study's results model (`sim.metrics.sensitivity.Sensitivity`). The tables show
the metrics a headline names (`headline.RANKS`, aliases left out: busy apologies stand for the
busy rate); sensitivity.json holds every metric.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.metrics.catalog import METRICS, Unit
from sim.metrics.comparison import Judgement
from sim.metrics.sensitivity import CaseResult, ClaimOutcome, ClaimState, Row, Sensitivity
from sim.metrics.thresholds import Form
from sim.report import markdown
from sim.report.document import Block, Bullets, Heading, Paragraph, Table, check
from sim.report.headline import MINUS, RANKS, rank
from sim.report.numbers import rounded, rounded_estimate

FORMAT_VERSION = 1
FILES = ("sensitivity.md", "sensitivity.json")
SHORT = {
    Judgement.BETTER: "better",
    Judgement.WORSE: "worse",
    Judgement.SAME: "n.s.",
    Judgement.EQUIVALENT: "n.m.",
    Judgement.CHANGED: "changed",
    Judgement.NOT_APPLICABLE: "n/a",
}
STATE_MARK = {
    ClaimState.HOLDS: "✓ holds",
    ClaimState.FAILS: "✗ fails",
    ClaimState.UNDECIDED: "? not shown",
    ClaimState.NOT_APPLICABLE: "– n/a",
}
MAX_FLIPS_SHOWN = 3  # flips named per row on the terminal; the rest counted


def headline_metrics() -> list[str]:
    """The metrics the tables show, in the headline's order of importance."""
    shown = [m for m, r in RANKS.items() if not r.alias and r.group != "messages" and m in METRICS]
    return sorted(shown, key=lambda m: rank(m).order)


def write(s: Sensitivity, folder: Path) -> None:
    (folder / "sensitivity.md").write_text(markdown.render(blocks(s)), encoding="utf-8")
    (folder / "sensitivity.json").write_text(render_json(s), encoding="utf-8")


# ---------------------------------------------------------------- Markdown


def blocks(s: Sensitivity) -> list[Block]:
    out: list[Block] = [Heading(f"Sensitivity: {s.scenario}", 1), Paragraph(_method(s)), *_cases(s)]
    out += [Heading("Which verdicts hold"), Bullets(tuple(_summary_line(s, r) for r in _shown_rows(s)))]
    if any(c.claims for c in s.cases):
        out += _claims(s)
    for variant in dict.fromkeys(r.variant for r in s.rows):
        out += _verdict_table(s, variant)
    if any(c.thresholds for c in s.cases):
        out += _thresholds(s)
    if s.violations:
        out += [Heading("Invariants broken"), Bullets(tuple(s.violations))]
    return out


def _method(s: Sensitivity) -> str:
    design = (
        "each case changes one assumption, the rest as the scenario is written"
        if s.design == "one-at-a-time"
        else "every combination of the assumptions' cases"
    )
    reps = sorted({c.replications for c in s.cases})
    return (
        f"The comparison against *{s.baseline}* rerun under other workload assumptions ({s.design}: {design}). "
        f"Every case: seed {s.seed}, {'/'.join(map(str, reps))} replications with common random numbers, "
        "verdicts Holm–Bonferroni-adjusted within the case's comparison. A verdict *holds* when every case gives "
        "the verdict of the scenario as written; it *flips* under a case that gives another (better → n.s. "
        "included; n.s. ↔ n.m. is no flip: neither is a finding). n.s.: no significant difference; n.m.: no "
        "meaningful difference. Only the scenario as written's thresholds decide the exit code."
    )


def _cases(s: Sensitivity) -> list[Block]:
    rows = tuple((c.name, "; ".join(c.changes) or "—") for c in s.cases)
    out: list[Block] = [Heading("Cases"), Table(("case", "what it changes"), rows)]
    if s.unchanged:
        out.append(Paragraph(f"Not run, they change nothing in this scenario: {', '.join(s.unchanged)}."))
    return out


def _shown_rows(s: Sensitivity) -> list[Row]:
    order = {m: i for i, m in enumerate(headline_metrics())}
    return sorted((r for r in s.rows if r.metric in order), key=lambda r: (r.variant, order[r.metric]))


def _summary_line(s: Sensitivity, r: Row) -> str:
    written = r.judgements[0]
    head = f"{r.variant} {rank(r.metric).label}: {written}"
    if r.holds:
        return f"{head} — holds in every case"
    changed = {c.name: j for c, j in zip(s.cases, r.judgements, strict=True)}
    return f"{head} — flips under: " + ", ".join(f"{name} ({changed[name]})" for name in r.flips)


def _claims(s: Sensitivity) -> list[Block]:
    names = [c.name for c in s.cases]
    keys = list(dict.fromkeys((o.claim, o.variant) for c in s.cases for o in c.claims))
    rows = []
    for claim, variant in keys:
        cells = [_claim_cell(_claim(c, claim, variant)) for c in s.cases]
        rows.append((f"{claim} ({variant})", *cells))
    return [
        Heading("Claims"),
        Paragraph(
            "Per case the measured value (a change is the ratio of the means − 1) and whether the claim holds on "
            "its worst 95 % bound (✓), fails even on its best (✗), or is not shown either way (?)."
        ),
        Table(("claim", *names), tuple(rows)),
    ]


def _claim(case: CaseResult, claim: str, variant: str) -> ClaimOutcome | None:
    return next((o for o in case.claims if o.claim == claim and o.variant == variant), None)


def _claim_cell(o: ClaimOutcome | None) -> str:
    if o is None:
        return "—"
    return f"{measured_text(o)} {STATE_MARK[o.state]}"


def measured_text(o: ClaimOutcome) -> str:
    if math.isnan(o.measured):
        return "n/a"
    if o.form is Form.CHANGE:
        return _signed(100 * o.measured, 1) + " %"
    if o.form is Form.RELATIVE:
        return f"{o.measured:.3g}×"
    return _value(o.metric, o.measured)


def _verdict_table(s: Sensitivity, variant: str) -> list[Block]:
    rows = []
    for r in _shown_rows(s):
        if r.variant != variant:
            continue
        cells = [_verdict_cell(c, variant, r.metric) for c in s.cases]
        rows.append((rank(r.metric).label, *cells, "holds" if r.holds else f"flips ({len(r.flips)})"))
    return [
        Heading(f"Verdicts: {variant} vs {s.baseline}"),
        Paragraph(
            "Each cell: the verdict (n.s.: no significant difference) and the paired difference "
            f"{variant} − {s.baseline} (counts as a share of {s.baseline}'s mean, ratios in percentage points)."
        ),
        Table(("metric", *(c.name for c in s.cases), "across cases"), tuple(rows)),
    ]


def _verdict_cell(case: CaseResult, variant: str, metric: str) -> str:
    v = case.verdict(variant, metric)
    if v is None or v.verdict is Judgement.NOT_APPLICABLE:
        return "n/a"
    return f"{SHORT[v.verdict]} {difference_text(metric, v.difference.mean, case.estimates[v.baseline][metric].mean)}"


def difference_text(metric: str, d: float, before: float) -> str:
    """A difference in the unit a reader thinks in: % for counts, seconds, points for ratios."""
    match METRICS[metric].unit:
        case Unit.COUNT if before > 0:
            return _signed(100 * d / before, 0 if abs(100 * d / before) >= 9.95 else 1) + " %"
        case Unit.COUNT:
            return _signed(d, 1) + "/run"
        case Unit.SECONDS:
            return _signed(d, 1 if abs(d) >= 0.05 else 3) + " s"
        case Unit.RATIO:
            return _signed(100 * d, 1) + " pts"
    return _signed(d, 3)  # pragma: no cover - every unit is matched above


def _thresholds(s: Sensitivity) -> list[Block]:
    keys = list(dict.fromkeys((t.expression, t.variant) for c in s.cases for t in c.thresholds))
    rows = []
    for expression, variant in keys:
        cells = []
        for c in s.cases:
            found = next((t for t in c.thresholds if t.expression == expression and t.variant == variant), None)
            cells.append("—" if found is None else f"{check(found).mark} {found.judged}")
        rows.append((f"{expression} ({variant})", *cells))
    return [
        Heading("Thresholds per case"),
        Paragraph("The scenario's thresholds judged in each case; only the first column decides the exit code."),
        Table(("threshold", *(c.name for c in s.cases)), tuple(rows)),
    ]


def _value(metric: str, value: float) -> str:
    match METRICS[metric].unit:
        case Unit.RATIO:
            return f"{100 * value:.1f} %"
        case Unit.SECONDS:
            return f"{value:.1f} s"
        case Unit.COUNT:
            return f"{value:,.1f}"
    return f"{value:g}"  # pragma: no cover


def _signed(value: float, decimals: int) -> str:
    return f"{round(value, decimals) + 0.0:+,.{decimals}f}".replace("-", MINUS)


# ---------------------------------------------------------------- terminal


def summary(s: Sensitivity, out: Path) -> str:
    """A few lines for the terminal after the usual one: how many verdicts hold, which flip, the claims."""
    shown = _shown_rows(s)
    held = sum(r.holds for r in shown)
    lines = [
        f"sensitivity ({s.design}, {len(s.cases)} cases): {held} of {len(shown)} headline verdicts hold in every "
        f"case → {out}/sensitivity.md"
    ]
    for r in shown:
        if r.holds or r.judgements[0] is Judgement.NOT_APPLICABLE:
            continue
        named = ", ".join(r.flips[:MAX_FLIPS_SHOWN]) + (
            f" and {len(r.flips) - MAX_FLIPS_SHOWN} more" if len(r.flips) > MAX_FLIPS_SHOWN else ""
        )
        lines.append(f"  {r.variant} {rank(r.metric).label} ({r.judgements[0]}) flips under: {named}")
    keys = list(dict.fromkeys((o.claim, o.variant) for c in s.cases for o in c.claims))
    for claim, variant in keys:
        outcomes = [(c.name, _claim(c, claim, variant)) for c in s.cases]
        holding = [name for name, o in outcomes if o is not None and o.state is ClaimState.HOLDS]
        where = "in every case" if len(holding) == len(outcomes) else f"under: {', '.join(holding)}"
        lines.append(f"  claim {claim}: holds {where if holding else 'in no case'}")
    return "\n".join(lines)


# ---------------------------------------------------------------- JSON


def render_json(s: Sensitivity) -> str:
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "scenario": s.scenario,
        "seed": s.seed,
        "baseline": s.baseline,
        "design": s.design,
        "axes": [{"name": name, "assumption": words} for name, words in s.axes],
        "unchanged": list(s.unchanged),
        "rows": [
            {
                "variant": r.variant,
                "metric": r.metric,
                "verdicts": {c.name: str(j) for c, j in zip(s.cases, r.judgements, strict=True)},
                "holds": r.holds,
                "flips_under": list(r.flips),
            }
            for r in s.rows
        ],
        "cases": [_case_json(c) for c in s.cases],
        "invariant_violations": s.violations,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _case_json(c: CaseResult) -> dict[str, Any]:
    return {
        "name": c.name,
        "changes": list(c.changes),
        "replications": c.replications,
        "summary": {v: {m: rounded_estimate(e) for m, e in ms.items()} for v, ms in c.estimates.items()},
        "differences": [
            {
                "variant": v.variant,
                "metric": v.metric,
                "verdict": str(v.verdict),
                "difference": rounded_estimate(v.difference),
                "p_value": rounded(v.p_value),
                "significant": v.significant,
            }
            for v in c.verdicts
        ],
        "thresholds": [
            {"expression": t.expression, "variant": t.variant, "passed": t.passed, "judged": t.judged}
            for t in c.thresholds
        ],
        "claims": [
            {
                "claim": o.claim,
                "expression": o.expression,
                "variant": o.variant,
                "measured": rounded(o.measured),
                "state": str(o.state),
                "judged": o.judged,
            }
            for o in c.claims
        ],
        "invariant_violations": list(c.violations),
    }
