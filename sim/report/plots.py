"""The report's PNG plots (matplotlib, no display needed), computed from the raw records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sim.metrics.comparison import Comparison  # noqa: E402
from sim.metrics.records import MessageRecord, RunResult  # noqa: E402

DPI = 100
SEGMENTS = (
    ("queue", "#bbbbbb"),
    ("debounce wait", "#f7dc8c"),
    ("lock wait", "#e4572e"),
    ("CRM", "#4c9be8"),
    ("LLM", "#76b041"),
)
MERGED_COLOR = "#f2c14e"
# Every figure's size is fixed or capped, whatever the data: matplotlib refuses images past 2^23 pixels a side.
MAX_BURST_ROWS = 40  # messages drawn of the busiest burst (a burst may hold up to 1000)
MAX_FIGURE_HEIGHT = 40.0  # inches, all variants' panels together
LOAD_POINTS = 200  # points on the Redis-load curve, however long the run


def write_all(c: Comparison, folder: Path) -> None:
    for name, draw in PLOTTERS.items():
        fig = draw(c)
        fig.savefig(folder / name, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)


def _label(text: str) -> str:
    """`text` as matplotlib draws it literally: a `$` would start mathtext, and one a variant or
    customer name brings along would fail to parse (or render as maths). Every label from data goes through here."""
    return text.replace("$", r"\$")


def _records(runs: Sequence[RunResult]) -> list[MessageRecord]:
    return [r for run in runs for r in run.records]


def _figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (8, 4.5)):  # type: ignore[no-untyped-def]
    fig, ax = plt.subplots(figsize=size)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def latency_cdf(c: Comparison):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Response time CDF", "seconds from arrival to reply", "share of messages")
    for variant, runs in c.runs.items():
        latencies = np.sort([r.latency for r in _records(runs)])
        ax.step(
            latencies, np.arange(1, len(latencies) + 1) / max(len(latencies), 1), where="post", label=_label(variant)
        )
    ax.legend()
    return fig


def busy_rate(c: Comparison):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Busy-apology rate (mean, 95 % CI)", "variant", "share of messages", (6, 4))
    names = list(c.estimates)
    estimates = [c.estimates[v]["busy_rate"] for v in names]
    means = [e.mean for e in estimates]
    errors = [[e.mean - e.low for e in estimates], [e.high - e.mean for e in estimates]]
    ax.bar([_label(n) for n in names], means, yerr=errors, capsize=8, color="#e4572e")
    ax.tick_params(axis="x", labelrotation=30)
    return fig


def lock_wait(c: Comparison):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Lock wait per message", "seconds waiting for the lock", "messages (all replications)")
    waits = {v: [r.lock_wait for r in _records(runs)] for v, runs in c.runs.items()}
    top = max((max(w) for w in waits.values() if w), default=1.0)
    bins = np.linspace(0, max(top, 1e-3), 40)
    for variant, values in waits.items():
        ax.hist(values, bins=bins, histtype="step", linewidth=2, label=_label(variant))
    ax.set_yscale("log")
    ax.legend()
    return fig


def lock_attempts(c: Comparison):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Lock attempts per message", "attempts (SET NX PX)", "messages (all replications)")
    attempts = {v: [r.lock_attempts for r in _records(runs)] for v, runs in c.runs.items()}
    top = max((max(a) for a in attempts.values() if a), default=1)
    bins = np.unique(np.geomspace(1, top + 1, 40).astype(int))
    for variant, values in attempts.items():
        ax.hist(values, bins=bins, histtype="step", linewidth=2, label=_label(variant))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    return fig


def cache_hit_ratio(c: Comparison):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Cache hit ratio over time", "minutes", "hits / outage checks")
    for variant, runs in c.runs.items():
        checked = [r for r in _records(runs) if r.source]
        if not checked:
            continue
        times = np.array([r.arrival + r.queue_wait + r.lock_wait for r in checked]) / 60
        hits = np.array([r.source == "hit" for r in checked], dtype=float)
        edges = _edges(times)
        total, _ = np.histogram(times, edges)
        hit, _ = np.histogram(times, edges, weights=hits)
        ratio = np.divide(hit, total, out=np.full(len(total), np.nan), where=total > 0)
        ax.plot((edges[:-1] + edges[1:]) / 2, ratio, marker=".", label=_label(variant))
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    return fig


def redis_load(c: Comparison):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Redis commands per second (mean over replications)", "minutes", "commands / s")
    for variant, runs in c.runs.items():
        end = max((s for run in runs for s in run.commands_per_second), default=0) + 1
        window = max(1, -(-end // LOAD_POINTS))  # seconds per point; an array per second would grow with the run
        per_window = np.zeros(-(-end // window))
        for run in runs:
            seconds = np.fromiter(run.commands_per_second.keys(), dtype=np.int64, count=len(run.commands_per_second))
            counts = np.fromiter(run.commands_per_second.values(), dtype=float, count=len(run.commands_per_second))
            np.add.at(per_window, seconds // window, counts / len(runs))
        ax.plot(np.arange(len(per_window)) * window / 60, per_window / window, label=_label(variant))
    ax.legend()
    return fig


def workers(c: Comparison):  # type: ignore[no-untyped-def]
    fig, (busy_ax, queue_ax) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for variant, runs in c.runs.items():
        records = runs[0].records
        grid = np.linspace(0, max((r.done_at for r in records), default=1.0), 600)
        starts = np.array([r.arrival + r.queue_wait for r in records])
        busy_ax.plot(grid / 60, _occupancy(grid, starts, np.array([r.done_at for r in records])), label=_label(variant))
        queue_ax.plot(
            grid / 60, _occupancy(grid, np.array([r.arrival for r in records]), starts), label=_label(variant)
        )
    busy_ax.set(title="Worker utilisation and queue (replication 0)", ylabel="busy workers")
    queue_ax.set(xlabel="minutes", ylabel="messages waiting for a worker")
    for ax in (busy_ax, queue_ax):
        ax.grid(alpha=0.3)
    busy_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def busiest_customer(c: Comparison):  # type: ignore[no-untyped-def]
    variants = list(c.runs)
    burst = _busiest_burst(c.runs[variants[0]][0].records)  # the same messages in every variant (CRN)
    rows = min(max(len(burst), 1), MAX_BURST_ROWS)
    height = min((1.0 + 0.3 * rows) * len(variants), MAX_FIGURE_HEIGHT)
    fig, axes = plt.subplots(len(variants), 1, figsize=(9, height), squeeze=False)
    for ax, variant in zip(axes[:, 0], variants, strict=True):
        mine = [r for r in c.runs[variant][0].records if r.message in burst][:MAX_BURST_ROWS]
        names = {r.message: f"msg {r.index + 1}" for r in mine}
        for row, r in enumerate(mine):
            leader = "" if r.merged_into is None else names.get(r.merged_into, f"#{r.merged_into}")
            _draw_message(ax, row, r, leader)
        ax.set_yticks(range(len(mine)), [f"msg {r.index + 1}" for r in mine])
        ax.invert_yaxis()
        ax.set_xlim(*_time_span(mine))
        customer = mine[0].customer if mine else ""
        ax.set(title=_label(f"{variant}: customer {customer}'s busiest burst"), xlabel="seconds")
        ax.grid(alpha=0.3, axis="x")
    labelled = {
        label: handle for ax in axes[:, 0] for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)
    }
    if labelled:
        axes[0, 0].legend(labelled.values(), labelled.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def _time_span(records: Sequence[MessageRecord]) -> tuple[float, float]:
    """The x-axis from the first arrival to the last reply, never empty.

    Set explicitly because the labels are drawn at each reply's time: left to autoscaling, a burst whose
    bars all have zero width (zero-latency services) keeps the axis at [0, 1] while a label sits at
    hour 20, and the "tight" image stretches to reach it (tens of millions of pixels).
    """
    if not records:
        return 0.0, 1.0
    start = min(r.arrival for r in records)
    end = max(r.reply_at for r in records)
    span = max(end - start, 1.0)
    return start - 0.02 * span, start + 1.3 * span  # room on the right for the outcome labels


def _draw_message(ax, row: int, r: MessageRecord, leader: str) -> None:  # type: ignore[no-untyped-def]
    """One bar split into queue, debounce, lock wait, CRM, LLM; a merged message waits for its batch's answer."""
    if r.merged_into is not None:
        ax.barh(row, r.reply_at - r.arrival, left=r.arrival, color=MERGED_COLOR, label="merged (debounce)")
        ax.text(r.reply_at, row, _label(f"  {r.outcome} in {leader}'s reply"), va="center", fontsize=8)
        return
    explained = r.queue_wait + r.lock_wait + r.crm_s + r.llm_s
    debounce = max(0.0, r.reply_at - r.arrival - explained) if r.outcome != "busy" else 0.0
    widths = (r.queue_wait, debounce, r.lock_wait, r.crm_s, r.llm_s)
    left = r.arrival
    for (label, color), width in zip(SEGMENTS, widths, strict=True):
        if width > 0:
            ax.barh(row, width, left=left, color=color, label=label)
        left += width
    tag = "busy apology" if r.outcome == "busy" else r.outcome
    ax.text(r.reply_at, row, f"  {tag}", va="center", fontsize=8)


def _busiest_burst(records: Sequence[MessageRecord]) -> set[int]:
    """Message ids of the largest burst (a customer's run of messages from index 0), earliest on ties."""
    bursts: dict[str, list[list[int]]] = {}
    for r in sorted(records, key=lambda r: r.message):
        runs = bursts.setdefault(r.customer, [])
        if r.index == 0 or not runs:
            runs.append([])
        runs[-1].append(r.message)
    every: list[list[int]] = [burst for found in bursts.values() for burst in found]
    if not every:
        return set()
    longest = max(every, key=_burst_rank)
    return set(longest)


def _burst_rank(burst: list[int]) -> tuple[int, int]:
    return len(burst), -burst[0]  # the longest; among equals, the earliest


def _edges(times: np.ndarray) -> np.ndarray:
    span = float(times.max()) if len(times) else 1.0
    return np.linspace(0, max(span, 1e-6), min(30, max(2, len(times) // 5)) + 1)


def _occupancy(grid: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many [start, end) intervals cover each grid instant."""
    return np.searchsorted(np.sort(starts), grid, side="right") - np.searchsorted(np.sort(ends), grid, side="right")


PLOTTERS: dict[str, Callable[[Comparison], Figure]] = {
    "latency_cdf.png": latency_cdf,
    "busy_rate.png": busy_rate,
    "lock_wait.png": lock_wait,
    "lock_attempts.png": lock_attempts,
    "cache_hit_ratio.png": cache_hit_ratio,
    "redis_load.png": redis_load,
    "workers.png": workers,
    "busiest_customer.png": busiest_customer,
}
