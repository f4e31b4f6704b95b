"""The report's content, format-neutral: Markdown and HTML render the same blocks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from sim.metrics.baseline import BaselineDiff
from sim.metrics.catalog import ALL_METRICS, Metric, Unit
from sim.metrics.comparison import NOT_APPLICABLE, Comparison
from sim.metrics.invariants import ANY_HANDLER, CONVERSATION_CHECKS, LOCK_SAFETY_CHECKS, NAMES
from sim.metrics.meaningful import summary
from sim.metrics.precision import Watched
from sim.metrics.segments import SEGMENT_METRICS, Grouping
from sim.metrics.stats import Estimate
from sim.metrics.thresholds import Status, ThresholdOutcome
from sim.metrics.timeseries import SERIES, TimeSeries
from sim.report.headline import Headline, baseline_headlines, headlines

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
    "busy_by_window.png": "Busy-apology rate of the messages arrived in each time window, mean and 95 % band across "
    "replications; faults and surges shaded",
    "p95_by_window.png": "Latency p95 of the answered messages arrived in each time window, mean and 95 % band across "
    "replications; faults and surges shaded",
}
# Each grouping's table title in "By segment".
GROUPINGS = {
    Grouping.OUTAGE: "Customers in a massive outage vs the rest",
    Grouping.SCRIPTED: "Scripted vs generated customers",
    Grouping.FAULT: "Arrived during a fault vs outside",
    Grouping.SURGE: "Arrived during a surge vs outside",
    Grouping.FIRST: "First message of a burst vs follow-ups",
}
MAX_TABLE_WINDOWS = 24  # more windows than this read better in the plots and timeseries.csv than in a table
WINDOW_METRICS = ("busy_rate", "latency_answered_p95_s")  # the "Over time" table's columns, per variant


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


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Check:
    passed: bool
    text: str
    mark: str  # ✓ met, ✗ breached or not met, – not applicable and allowed to be (`or n/a`)


@dataclass(frozen=True, slots=True)
class Checks:
    """The threshold checks, one line each, ✓ or ✗: the second thing a reader looks for."""

    items: tuple[Check, ...]


Block = Heading | Paragraph | Table | Image | Headline | Checks | Bullets

# Row labels that say what the metric's key does not: these percentiles mix answers with apologies.
NOTES = {
    "latency_p50_s": "all messages, apologies included",
    "latency_p95_s": "all messages, apologies included",
    "latency_p99_s": "all messages, apologies included",
}


def build(c: Comparison, diff: BaselineDiff | None = None, plots: bool = True) -> list[Block]:
    """The whole report: the first screen (headline, thresholds), what was simulated, then the tables."""
    blocks: list[Block] = [
        *first_screen(c, diff),
        *_simulated(c),
        *_verdicts(c),
        *segment_blocks(c),
        *over_time(c.timeseries, list(c.estimates), plots),
        Heading("Summary (mean [95 % CI])"),
        _summary(c),
        *_identical(c),
        *_changes(diff),
    ]
    if plots:
        blocks.append(Heading("Plots"))
        blocks.extend(Image(file, caption) for file, caption in PLOTS.items())
    return [*blocks, *_method(c)]


def first_screen(c: Comparison, diff: BaselineDiff | None = None) -> list[Block]:
    """What a reader must see without scrolling: title, broken invariants, the headlines, the thresholds."""
    return [
        Heading(f"{c.scenario}: {len(c.estimates)} variant(s) compared", 1),
        _status(c),
        *([Paragraph(stopping_text(c))] if c.stopping else []),
        *headlines(c),
        *_lonely(c),
        _checks(c),
        *(baseline_headlines(diff) if diff else []),
        *(_regressions(diff) if diff else []),
    ]


def _status(c: Comparison) -> Paragraph:
    runs = sum(len(r) for r in c.per_replication.values())
    reps = f"Seed {c.seed}, {c.replications} replication(s) with common random numbers, 95 % CIs" + (
        f"; differences with Holm-adjusted CIs over {c.family_size} comparisons" if c.family_size > 1 else ""
    )
    if c.violations:
        return Paragraph(f"{reps}. **INVARIANTS BROKEN (a simulator bug):** {'; '.join(c.violations[:10])}")
    return Paragraph(f"{reps}. Invariants held in all {runs} runs.")


def _lonely(c: Comparison) -> list[Block]:
    if len(c.estimates) > 1:
        return []
    return [Paragraph("One variant only: nothing to compare; its values are in the summary table.")]


def invariants_status(c: Comparison) -> Paragraph:
    """The invariants' verdict over every run: broken ones first (the comparison and the sweep report say it alike)."""
    runs = sum(len(r) for r in c.runs.values())
    if c.violations:
        return Paragraph(f"**INVARIANTS BROKEN (a simulator bug):** {'; '.join(c.violations[:10])}")
    checked = [
        name
        for name in NAMES
        if (c.conversations or name not in CONVERSATION_CHECKS) and (c.lock_safety or name not in LOCK_SAFETY_CHECKS)
    ]
    teams = c.context.team_handlers
    if not teams:
        return Paragraph(f"Invariants held in all {runs} runs; checked: {'; '.join(checked)}.")
    own = [name for name in checked if name in ANY_HANDLER]
    mixed = len(teams) < len(c.descriptions)
    besides = f"; on the built-in bot's variants also: {'; '.join(n for n in checked if n not in own)}" if mixed else ""
    return Paragraph(
        f"Invariants held in all {runs} runs; checked: {'; '.join(own)}{besides}. A team's handler is not held to the "
        "built-in bot's own rules (one lock holder, busy only after the lock timeout, cache hits within the TTL): "
        "breaking them is a finding about the code, not a bug of the simulator."
    )


def _checks(c: Comparison) -> Block:
    if not c.thresholds:
        return Paragraph("No thresholds set.")
    return Checks(tuple(check(t) for t in c.thresholds))


def check(t: ThresholdOutcome) -> Check:
    """A threshold outcome as a report line: what was judged (or why it does not apply), then the verdict."""
    text = f"{t.expression} for {t.variant}: {t.judged}" + (f" {t.verdict}" if t.verdict else "")
    mark = "✓" if t.status is Status.MET else "–" if t.passed else "✗"
    return Check(t.passed, text, mark)


def _simulated(c: Comparison) -> list[Block]:
    """The workload, services, faults and each variant's differences, as the results model recorded them."""
    if c.context.workload:
        return [Heading("What was simulated"), Bullets(c.context.workload)]
    rows = tuple((_name(c, v), d) for v, d in c.descriptions.items())
    return [Heading("Variants"), Table(("variant", "configuration"), rows)]


def identical(c: Comparison) -> dict[str, float]:
    """Metrics with one value in every replication of every variant (lock_lost 0 …): rows that say nothing.

    A single run is not enough to tell: then nothing counts as identical.
    """
    runs = [rep for reps in c.per_replication.values() for rep in reps]
    if len(runs) < 2:
        return {}
    return {m: runs[0][m] for m in c.metrics if all(r[m] == runs[0][m] for r in runs)}


def _identical(c: Comparison) -> list[Block]:
    same = identical(c)
    if not same:
        return []
    values = ", ".join(f"{m} {_plain(m, v)}" for m, v in same.items())
    return [Paragraph(f"Identical in every run of every variant: {values}.")]


def _plain(metric: str, value: float) -> str:
    """A value every run had: whole counts without decimals ("0", not "0.0")."""
    if ALL_METRICS[metric].unit is Unit.COUNT and float(value).is_integer():
        return f"{value:,.0f}"
    return fmt_value(metric, value)


def _method(c: Comparison) -> list[Block]:
    return [
        Heading("Method"),
        Paragraph(
            f"Seed {c.seed}, {c.replications} replication(s) with common random numbers: every variant "
            "sees the same customers and latencies. A level's interval is a 95 % Student-t confidence interval "
            "across replications; differences are paired by replication. Thresholds are judged on the "
            "95 % CI bound that is worst for them, not only on the mean. Relative changes in the headline "
            "are against the baseline's mean."
        ),
        *_verdict_method(c),
        invariants_status(c),
        *_precision(c),
    ]


def _verdict_method(c: Comparison) -> list[Block]:
    """How a verdict is read off its interval: Holm's levels and the minimal meaningful effects."""
    if len(c.estimates) < 2:
        return []
    levels = [v.confidence for v in c.verdicts if v.verdict != NOT_APPLICABLE]
    spread = _level(min(levels)) + (f" to {_level(max(levels))}" if levels and min(levels) != max(levels) else "")
    return [
        Paragraph(
            f"Verdicts: each paired difference's p-value goes through Holm–Bonferroni over all {c.family_size} "
            "applicable comparisons (95 % family-wise), and each interval shown beside a verdict is at the level its "
            f"test was judged at ({spread if levels else 'none tested'}), so it excludes 0 exactly when the verdict "
            "is significant: headline, tables and results.json show that one interval. An interval within ± the "
            "metric's minimal meaningful effect is no meaningful difference (equivalence, as in a TOST), "
            "significant or not, and stays off the headline; an interval that holds 0 and also differences beyond "
            "that effect is no significant difference (more replications could tell). Minimal meaningful effects: "
            f"{summary(c.margins)} (`[scenario]meaningful`, `--meaningful`)."
        )
    ]


def _level(confidence: float) -> str:
    """A confidence level as a reader says it: "95 %", "99.7 %", "99.98 %"."""
    digits = max(0, 1 - math.floor(math.log10(max(100 * (1 - confidence), 1e-10))))
    return f"{100 * confidence:.{digits}f}".rstrip("0").rstrip(".") + " %"


def stopping_text(c: Comparison) -> str:
    """How many replications the stopping rule ran and why it stopped (empty for a fixed count)."""
    s = c.stopping
    if s is None:
        return ""
    text = (
        f"Replications until the answer is sure ({s.rule}): {s.replications} run (first stage {s.first_stage}, "
        f"then batches of {s.batch}, at most {s.maximum}); stopped: {s.reason}"
    )
    if s.still_open:
        text += "; still too wide: " + ", ".join(_open_item(w) for w in s.still_open)
    return text + "."


def _open_item(w: Watched) -> str:
    if w.target is None:
        return f"{w.variant} {w.metric} (a threshold undecided)"
    return f"{w.variant} {w.metric} {_width(w.metric, w.half_width)} (target {_width(w.metric, w.target)})"


def _width(metric: str, value: float) -> str:
    """A 95 % half-width to three significant digits in the metric's unit: "±1.31 s", "±0.00213"."""
    if not math.isfinite(value):
        return "no interval yet"
    return f"±{value:.3g}" + (" s" if ALL_METRICS[metric].unit is Unit.SECONDS else "")


def _precision(c: Comparison) -> list[Block]:
    """The stopping rule's watched quantities at the stop: a row per compared variant and metric."""
    if c.stopping is None:
        return []
    rows = tuple(
        (
            w.variant,
            w.metric,
            "—" if w.target is None else _width(w.metric, w.target),
            _width(w.metric, w.half_width),
            str(w.status),
        )
        for w in c.stopping.watched
    )
    return [
        Paragraph(
            "The stopping rule watched, per compared variant, the 95 % half-width of each targeted metric's paired "
            "difference against the baseline, and each threshold until its interval decided it (clearly met or "
            "clearly breached); a metric with a decided threshold needs no more precision."
        ),
        Table(("variant", "metric", "target", "half-width", "status"), rows),
    ]


def _summary(c: Comparison) -> Table:
    variants = list(c.estimates)
    same = identical(c)
    shown = [m for m in c.metrics if m not in same]
    rows = tuple((_label(m), *(fmt_estimate(m, c.estimates[v][m]) for v in variants)) for m in shown)
    return Table(("metric", *variants), rows)


def _label(metric: str) -> str:
    return f"{metric} ({NOTES[metric]})" if metric in NOTES else metric


def _verdicts(c: Comparison) -> list[Block]:
    blocks: list[Block] = []
    same = identical(c)
    for variant in c.estimates:
        if variant == c.baseline:
            continue
        rows = tuple(
            (
                _label(v.metric),
                fmt_estimate(v.metric, v.difference, signed=True),
                "—" if v.verdict == NOT_APPLICABLE else _level(v.confidence),
                _relative(v.difference.mean, c.estimates[c.baseline][v.metric].mean),
                _margin(v.metric, v.margin),
                v.verdict,
            )
            for v in c.verdicts
            if v.variant == variant and v.metric not in same
        )
        blocks.append(Heading(f"{variant} vs {c.baseline} (paired difference, {variant} − {c.baseline})"))
        if rows:
            header = ("metric", "difference [adjusted CI]", "CI level", "relative", "meaningful ±", "verdict")
            blocks.append(Table(header, rows))
    if blocks:
        blocks += _identical(c)
    return blocks


def segment_blocks(c: Comparison) -> list[Block]:
    """Per grouping, a table of its two sides × the variants: who suffered, and when. Nothing without segments."""
    if not c.segments:
        return []
    blocks: list[Block] = [
        Heading("By segment (mean [95 % CI])"),
        Paragraph(
            "The messages cut in two, one table per cut; a cut with an empty side in every replication is left "
            "out. The p95 is of the answered messages only."
        ),
    ]
    for grouping in dict.fromkeys(s.grouping for s in c.segments):
        rows = tuple(
            (s.side, variant, *(fmt_estimate(m, e[m], metrics=SEGMENT_METRICS) for m in SEGMENT_METRICS))
            for s in c.segments
            if s.grouping == grouping
            for variant, e in s.estimates.items()
        )
        blocks += [Heading(GROUPINGS[grouping], 3), Table(("segment", "variant", *SEGMENT_METRICS), rows)]
    return blocks


def over_time(series: TimeSeries | None, variants: list[str], plots: bool = True) -> list[Block]:
    """The busy rate and answered p95 per time window, per variant (means): a table if short, else a pointer
    (to the plots too, when the report has them)."""
    if series is None or not series.starts:
        return []
    shown = [v for v in variants if series.values.get(v)]
    heading = Heading("Over time")
    if len(series.starts) > MAX_TABLE_WINDOWS or not shown:
        return [
            heading,
            Paragraph(
                f"{len(series.starts)} windows of {_duration(series.window_s)}: every window's metrics, mean and "
                "95 % band, are in timeseries.csv"
                + ("; busy_by_window.png and p95_by_window.png plot them." if plots else ".")
            ),
        ]
    header = ("window", *(f"{v} {m}" for v in shown for m in WINDOW_METRICS))
    rows = tuple(
        (
            _window(start, series.window_s),
            *(fmt_value(m, series.values[v][m][k].mean, metrics=SERIES) for v in shown for m in WINDOW_METRICS),
        )
        for k, start in enumerate(series.starts)
    )
    note = Paragraph(
        f"Per window of {_duration(series.window_s)}, of the messages arrived in it: mean over the replications "
        "(— where none arrived or none was answered); the 95 % bands are in timeseries.csv."
    )
    return [heading, note, Table(header, rows)]


def _duration(seconds: float) -> str:
    """900 → "15 min", 5 → "5 s", 3600 → "1 h"."""
    for size, unit in ((3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _window(start: float, length: float) -> str:
    """A window as clock times from the start of the run: "00:15–00:30" (h:mm), or "1:05–1:10" (m:ss) when short."""

    def clock(t: float) -> str:
        big, small = divmod(round(t if length < 60 else t / 60), 60)
        return f"{big:02d}:{small:02d}" if length >= 60 else f"{big}:{small:02d}"

    return f"{clock(start)}–{clock(start + length)}"


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
            "—" if ch.verdict == NOT_APPLICABLE else _level(ch.confidence),
            _margin(ch.metric, ch.margin),
            ch.verdict,
        )
        for ch in diff.changes
    )
    return [
        Heading("Changes against the previous run"),
        Paragraph(
            f"Against {diff.source}: {_replication_counts(diff)}. Unpaired (Welch) intervals: the previous run may "
            f"come from other code. Judged like the verdicts above: Holm–Bonferroni over these {diff.family_size} "
            "changes, each interval at the level its test used, a change within ± its minimal meaningful effect "
            "(relative ones of the previous run's mean) is no meaningful difference. Identical samples are no "
            "change; samples without spread that differ are a certain change; with one replication on a side, any "
            "difference counts."
        ),
        *_regressions(diff),
        Table(
            ("variant", "metric", "old", "new", "difference [adjusted CI]", "CI level", "meaningful ±", "verdict"),
            rows,
        ),
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


def _margin(metric: str, delta: float) -> str:
    """The minimal meaningful effect in the metric's unit, to three significant digits: "100 ms", "0.02", "3.33"."""
    if not math.isfinite(delta):
        return "—"
    if ALL_METRICS[metric].unit is Unit.SECONDS:
        return f"{delta * 1000:.3g} ms" if delta < 1 else f"{delta:.3g} s"
    return f"{delta:.3g}"


def _relative(difference: float, baseline: float) -> str:
    """The change as a share of the baseline's mean ("−84.2 %"), the way claims are made."""
    if baseline == 0 or not math.isfinite(baseline) or not math.isfinite(difference):
        return "—"
    return f"{100 * difference / abs(baseline):+.1f} %"


def _name(c: Comparison, variant: str) -> str:
    return f"{variant} (baseline)" if variant == c.baseline else variant


def fmt_value(
    metric: str,
    value: float,
    signed: bool = False,
    metrics: Mapping[str, Metric] = ALL_METRICS,
    *,
    ms: bool | None = None,
) -> str:
    """`value` of `metric` (one of `metrics`) as its unit is shown: "1,234.5", "12.35 s", "2.0 ms", "0.125".

    Seconds under SUB_SECOND show in milliseconds (`ms` forces the choice, so that an interval's
    bounds read in their mean's unit): "+0.00 s" would hide a real 2 ms difference."""
    if not math.isfinite(value):
        return "—"  # a metric that does not apply (no cache: no hit ratio)
    sign = "+" if signed else ""
    unit = metrics[metric].unit
    decimals = DECIMALS[unit] if metrics[metric].decimals is None else metrics[metric].decimals
    match unit:
        case Unit.COUNT:
            return f"{round(value, decimals) + 0.0:{sign},.{decimals}f}"  # + 0.0: no "-0.0" from a rounding error
        case Unit.SECONDS:
            if ms if ms is not None else _in_ms(value):
                return f"{round(value * 1000, 1) + 0.0:{sign}.1f} ms"
            return f"{round(value, decimals) + 0.0:{sign}.{decimals}f} s"
        case Unit.RATIO:
            return f"{round(value, decimals) + 0.0:{sign}.{decimals}f}"
        case _:
            assert_never(unit)


SUB_SECOND = 0.1  # below this, seconds read in milliseconds


def _in_ms(*values: float) -> bool:
    """Whether these seconds (a mean and its bounds) read better in milliseconds: all below SUB_SECOND, not all zero."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    return bool(finite) and max(finite) < SUB_SECOND and round(max(finite) * 1000, 1) > 0


def fmt_estimate(metric: str, e: Estimate, signed: bool = False, metrics: Mapping[str, Metric] = ALL_METRICS) -> str:
    if not e.applies:
        return "not applicable"
    ms = _in_ms(e.mean, e.low, e.high) if e.n >= 2 else None
    mean = fmt_value(metric, e.mean, signed, metrics, ms=ms)
    if e.n < 2:
        return mean
    low, high = (fmt_value(metric, bound, metrics=metrics, ms=ms) for bound in (e.low, e.high))
    return f"{mean} [{low}, {high}]"
