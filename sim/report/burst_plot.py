"""The busiest customer's burst, message by message, in every variant: where each message's time went,
and which replies reached the customer out of order."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.metrics.comparison import Comparison
from sim.metrics.digest import MAX_BURST_ROWS
from sim.metrics.digest import busiest_burst as busiest_burst  # where the burst is found: in the worker
from sim.metrics.records import MessageRecord, Outcome
from sim.report.figures import literal, panels
from sim.report.time_plots import axis_of
from sim.report.timeline import HOUR, TimeAxis, shade

SEGMENTS = (
    ("queue", "#bbbbbb"),
    ("debounce wait", "#f7dc8c"),
    ("lock wait", "#e4572e"),
    ("CRM", "#4c9be8"),
    ("LLM", "#76b041"),
)
MERGED_COLOR = "#f2c14e"
# The time no field explains is the debounce wait, plus the Redis round trips; below this it is only those.
MIN_DEBOUNCE = 0.05
OUT_OF_ORDER = "reply before an earlier message's (out of order)"
# Every figure's size is capped, whatever the data: matplotlib refuses images past 2^23 pixels a side.
MAX_FIGURE_HEIGHT = 40.0  # inches, all variants' panels together
SECONDS = TimeAxis(unit=1.0, label="seconds from the burst's first message", clock=False)


def busiest_customer(c: Comparison) -> Figure:
    """The first replication's busiest burst, as each run's digest kept it (`digest.busiest_burst`)."""
    variants = list(c.runs)
    first = c.runs[variants[0]][0].plots
    burst = {r.message for r in first.burst}  # the same messages in every variant (CRN)
    drawn = {v: [r for r in c.runs[v][0].plots.burst if r.message in burst] for v in variants}
    rows = min(max(first.burst_size, 1), MAX_BURST_ROWS)
    fig, axes = panels(len(variants), (9, min((1.0 + 0.3 * rows) * len(variants), MAX_FIGURE_HEIGHT)), sharey=False)
    every = [r for mine in drawn.values() for r in mine]
    start = min((r.arrival for r in every), default=0.0)
    for ax, variant in zip(axes, variants, strict=True):
        _draw_burst(ax, drawn[variant], start)
        customer = drawn[variant][0].customer if drawn[variant] else ""
        ax.set_title(literal(f"{variant}: customer {customer}'s busiest burst"), fontsize=10)
    axes[0].set_xlim(*_time_span(every, start))  # shared by every panel
    shade(axes, c.context, SECONDS, offset=start)
    moment = _when(start) if axis_of(c).clock else f"{start:,.1f} s into the run"
    axes[-1].set_xlabel(f"seconds from the burst's first message (at {moment})")
    _legend(axes)
    return fig


def out_of_order(records: Sequence[MessageRecord]) -> list[MessageRecord]:
    """Answered messages that reached their customer before an earlier message of theirs
    (the definition of `sim.metrics.summary.out_of_order`, which counts them)."""
    late: list[MessageRecord] = []
    latest: dict[str, float] = {}
    for r in sorted(records, key=lambda r: (r.arrival, r.message)):
        if r.outcome != Outcome.ANSWERED:
            continue
        if r.reply_at < latest.get(r.customer, float("-inf")):
            late.append(r)
        latest[r.customer] = max(latest.get(r.customer, float("-inf")), r.reply_at)
    return late


def _draw_burst(ax: Axes, mine: list[MessageRecord], start: float) -> None:
    names = {r.message: f"msg {r.index + 1}" for r in mine}
    for row, r in enumerate(mine):
        leader = "" if r.merged_into is None else names.get(r.merged_into, f"#{r.merged_into}")
        _draw_message(ax, row, r, leader, start)
    late = {r.message for r in out_of_order(mine)}
    rows = [row for row, r in enumerate(mine) if r.message in late]
    if rows:
        x = [mine[row].reply_at - start for row in rows]
        ax.plot(x, rows, "X", color="#7b1fa2", markersize=9, markeredgecolor="white", label=OUT_OF_ORDER)
    ax.set_yticks(range(len(mine)), [names[r.message] for r in mine])
    ax.set_ylim(max(len(mine), 1) - 0.5, -0.5)  # the first message on top
    ax.grid(axis="y", visible=False)


def _time_span(records: Sequence[MessageRecord], start: float) -> tuple[float, float]:
    """The x-axis from the first arrival to the last reply, never empty.

    Set explicitly because the labels are drawn at each reply's time: left to autoscaling, a burst whose
    bars all have zero width (zero-latency services) keeps the axis at [0, 1] while a label sits at
    hour 20, and the "tight" image stretches to reach it (tens of millions of pixels).
    """
    if not records:
        return 0.0, 1.0
    span = max(max(r.reply_at for r in records) - start, 1.0)
    return -0.02 * span, 1.3 * span  # room on the right for the outcome labels


def _draw_message(ax: Axes, row: int, r: MessageRecord, leader: str, start: float) -> None:
    """One bar split into queue, debounce, lock wait, CRM, LLM; a merged message waits for its batch's answer."""
    arrival, reply = r.arrival - start, r.reply_at - start
    if r.merged_into is not None:
        ax.barh(row, reply - arrival, left=arrival, color=MERGED_COLOR, label="merged (debounce)")
        ax.text(reply, row, literal(f"  {r.outcome} in {leader}'s reply"), va="center", fontsize=8)
        return
    explained = r.queue_wait + r.lock_wait + r.crm_s + r.llm_s
    unexplained = r.latency - explained if r.outcome != Outcome.BUSY else 0.0
    debounce = unexplained if unexplained >= MIN_DEBOUNCE else 0.0
    widths = (r.queue_wait, debounce, r.lock_wait, r.crm_s, r.llm_s)
    left = arrival
    for (label, color), width in zip(SEGMENTS, widths, strict=True):
        if width > 0:
            ax.barh(row, width, left=left, color=color, label=label)
        left += width
    tag = "busy apology" if r.outcome == Outcome.BUSY else r.outcome
    ax.text(reply, row, f"  {tag}", va="center", fontsize=8)


def _when(seconds: float) -> str:
    """A moment of the run as a reader finds it on the other plots: "19:26:40", "+1d 03:00:00"."""
    whole = round(seconds)
    day, second = divmod(whole, 24 * int(HOUR))
    clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    return clock if day == 0 else f"{clock} +{day}d"


def _legend(axes: list[Axes]) -> None:
    labelled = {label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    if labelled:
        axes[0].legend(labelled.values(), labelled.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
