"""The report's content, format-neutral: Markdown and HTML render the same blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from sim.metrics.baseline import BaselineDiff
from sim.metrics.comparison import Comparison
from sim.metrics.invariants import NAMES
from sim.metrics.stats import Estimate
from sim.metrics.summary import METRICS, Unit

# Decimals shown per unit: a count is a mean over replications (so a tenth), a time to the
# hundredth of a second, a ratio to the thousandth.
DECIMALS = {Unit.COUNT: 1, Unit.SECONDS: 2, Unit.RATIO: 3}
PLOTS = {
    "latency_cdf.png": "Response time (arrival → reply, apologies included), all replications; dots at p50 and p95, "
    "dashed lines where busy apologies pile up at a lock timeout",
    "busy_rate.png": "Busy-apology rate, mean and 95 % CI",
    "lock_wait.png": "Lock wait per message, one panel per variant (2 s bins: the backoff's grid)",
    "lock_attempts.png": "Lock attempts per message, one panel per variant",
    "cache_hit_ratio.png": "Cache hit ratio over time (variants without a cache left out); faults and surges shaded",
    "redis_load.png": "Redis commands per second over time (the polling load); faults and surges shaded",
    "workers.png": "Busy workers and queue length over time, mean and range over the replications; faults and "
    "surges shaded",
    "busiest_customer.png": "The busiest customer's burst, message by message (replication 0); ✕: out-of-order answer",
}


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Image:
    file: str
    caption: str


Block = Heading | Paragraph | Table | Image


def build(c: Comparison, diff: BaselineDiff | None = None, plots: bool = True) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"{c.scenario}: {len(c.estimates)} variant(s) compared", 1),
        Paragraph(
            f"Seed {c.seed}, {c.replications} replication(s) with common random numbers: every variant "
            "sees the same customers and latencies. Intervals are 95 % Student-t confidence intervals "
            "across replications."
        ),
        *_status(c),
        Heading("Variants"),
        Table(("variant", "configuration"), tuple((_name(c, v), d) for v, d in c.descriptions.items())),
        Heading("Summary (mean [95 % CI])"),
        _summary(c),
        *_verdicts(c),
        *_thresholds(c),
        *_changes(diff),
    ]
    if plots:
        blocks.append(Heading("Plots"))
        blocks.extend(Image(file, caption) for file, caption in PLOTS.items())
    return blocks


def _status(c: Comparison) -> list[Block]:
    return [invariants_status(c), _thresholds_status(c)]


def invariants_status(c: Comparison) -> Paragraph:
    """The invariants' verdict over every run: broken ones first (the comparison and the sweep report say it alike)."""
    runs = sum(len(r) for r in c.runs.values())
    if c.violations:
        return Paragraph(f"**INVARIANTS BROKEN (a simulator bug):** {'; '.join(c.violations[:10])}")
    return Paragraph(f"Invariants held in all {runs} runs; checked: {'; '.join(NAMES)}.")


def _thresholds_status(c: Comparison) -> Block:
    if not c.thresholds:
        return Paragraph("No thresholds set.")
    breached = c.breached
    if not breached:
        return Paragraph(f"**All {len(c.thresholds)} threshold checks passed.**")
    names = ", ".join(f"{t.expression} ({t.variant})" for t in breached)
    return Paragraph(f"**{len(breached)} of {len(c.thresholds)} threshold checks BREACHED:** {names}")


def _summary(c: Comparison) -> Table:
    variants = list(c.estimates)
    rows = tuple((m, *(fmt_estimate(m, c.estimates[v][m]) for v in variants)) for m in METRICS)
    return Table(("metric", *variants), rows)


def _verdicts(c: Comparison) -> list[Block]:
    blocks: list[Block] = []
    for variant in c.estimates:
        if variant == c.baseline:
            continue
        rows = tuple(
            (
                v.metric,
                fmt_estimate(v.metric, v.difference, signed=True),
                _relative(v.difference.mean, c.estimates[c.baseline][v.metric].mean),
                v.verdict,
            )
            for v in c.verdicts
            if v.variant == variant
        )
        blocks += [
            Heading(f"{variant} vs {c.baseline} (paired difference, {variant} − {c.baseline})"),
            Table(("metric", "difference [95 % CI]", "relative", "verdict"), rows),
        ]
    return blocks


def _thresholds(c: Comparison) -> list[Block]:
    if not c.thresholds:
        return []
    rows = tuple(
        (
            t.expression,
            t.variant,
            f"{t.bound} CI bound",
            fmt_value(t.metric, t.value),
            "pass" if t.passed else "BREACHED",
        )
        for t in c.thresholds
    )
    return [
        Heading("Thresholds"),
        Paragraph("Judged on the 95 % CI bound that is worst for the threshold, not only on the mean."),
        Table(("threshold", "variant", "judged on", "value", "result"), rows),
    ]


def _changes(diff: BaselineDiff | None) -> list[Block]:
    if diff is None:
        return []
    rows = tuple(
        (
            ch.variant,
            ch.metric,
            fmt_value(ch.metric, ch.old),
            fmt_value(ch.metric, ch.new),
            fmt_estimate(ch.metric, ch.difference, signed=True),
            ch.verdict,
        )
        for ch in diff.changes
    )
    return [
        Heading("Changes against the previous run"),
        Paragraph(
            f"Against {diff.source}: {_replication_counts(diff)}. Unpaired (Welch) 95 % intervals: the previous "
            "run may come from other code. Identical samples are no change; samples without spread that differ "
            "are a certain change; with one replication on a side, any difference counts."
        ),
        *_regressions(diff),
        Table(("variant", "metric", "old", "new", "difference [95 % CI]", "verdict"), rows),
        *([Paragraph("Not compared: " + "; ".join(diff.not_compared) + ".")] if diff.not_compared else []),
    ]


def _replication_counts(diff: BaselineDiff) -> str:
    counts = {ch.variant: (ch.old_replications, ch.new_replications) for ch in diff.changes}
    if not counts:
        return "no variant in common"
    return "; ".join(
        f"{v}: {old} replication(s) in the baseline, {new} in this run" for v, (old, new) in counts.items()
    )


def _regressions(diff: BaselineDiff) -> list[Block]:
    if not diff.watched:
        return []
    watched = ", ".join(diff.watched)
    if not diff.regressions:
        return [Paragraph(f"**No significant regression** of {watched}.")]
    names = ", ".join(f"{ch.variant}.{ch.metric}" for ch in diff.regressions)
    return [Paragraph(f"**REGRESSED against the previous run:** {names} (watched: {watched}).")]


def _relative(difference: float, baseline: float) -> str:
    """The change as a share of the baseline's mean ("−84.2 %"), the way claims are made."""
    if baseline == 0:
        return "—"
    return f"{100 * difference / abs(baseline):+.1f} %"


def _name(c: Comparison, variant: str) -> str:
    return f"{variant} (baseline)" if variant == c.baseline else variant


def fmt_value(metric: str, value: float, signed: bool = False) -> str:
    """`value` of `metric` as its unit is shown: "1,234.5", "12.35 s", "0.125"."""
    sign = "+" if signed else ""
    unit = METRICS[metric].unit
    decimals = DECIMALS[unit]
    value = round(value, decimals) + 0.0  # no "-0.000" from a rounding error below the last digit
    match unit:
        case Unit.COUNT:
            return f"{value:{sign},.{decimals}f}"
        case Unit.SECONDS:
            return f"{value:{sign}.{decimals}f} s"
        case Unit.RATIO:
            return f"{value:{sign}.{decimals}f}"
        case _:
            assert_never(unit)


def fmt_estimate(metric: str, e: Estimate, signed: bool = False) -> str:
    if e.n < 2:
        return fmt_value(metric, e.mean, signed)
    return f"{fmt_value(metric, e.mean, signed)} [{fmt_value(metric, e.low)}, {fmt_value(metric, e.high)}]"
