"""The report's PNG plots (matplotlib, no display needed), computed from the raw records.

Each plotter takes the comparison and returns its figure, so that tests can read what was drawn.
The distributions are here; the plots over time are in `time_plots`, the per-window metrics in
`window_plots`, the busiest burst in `burst_plot`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from sim.metrics.comparison import Comparison
from sim.report import burst_plot, time_plots, window_plots
from sim.report.figures import figure, literal, mark_timeouts, panels, records, save, timeouts

CDF_POINTS = 2000  # points drawn per curve: the ECDF's shape without a vertex per message
LOCK_WAIT_BIN = 2.0  # seconds: the exponential backoff's cap, so past its first steps every wait lands one per bin
MAX_BINS = 200  # however long the waits: a bin is then a multiple of LOCK_WAIT_BIN
PANEL_HEIGHT = 1.6  # inches per variant in the small multiples
MAX_FIGURE_HEIGHT = 40.0  # inches: matplotlib refuses images past 2^23 pixels a side


def write_all(c: Comparison, folder: Path) -> None:
    for name, draw in PLOTTERS.items():
        save(draw(c), folder / name)


def latency_cdf(c: Comparison) -> Figure:
    """The ECDF per variant, its p50 and p95 marked, and a line where each lock timeout's apologies pile up."""
    fig, ax = figure("Response time CDF (all replications)", "seconds from arrival to reply", "share of messages")
    for variant, runs in c.runs.items():
        latencies = np.sort([r.latency for r in records(runs)])
        if not len(latencies):
            continue
        kept = np.unique(np.linspace(0, len(latencies) - 1, CDF_POINTS).astype(int))
        p50, p95 = np.percentile(latencies, [50, 95])
        label = literal(f"{variant} (p50 {p50:.3g} s, p95 {p95:.3g} s)")
        (line,) = ax.step(latencies[kept], (kept + 1) / len(latencies), where="post", label=label)
        ax.plot([p50, p95], [0.5, 0.95], "o", color=line.get_color(), markersize=6, markeredgecolor="white")
    mark_timeouts(ax, timeouts(c.runs), len(c.runs))
    ax.set_ylim(0, 1.02)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", title="dots: p50 and p95", fontsize=8, title_fontsize=8)
    return fig


def busy_rate(c: Comparison) -> Figure:
    """Horizontal bars (long variant names stay readable), each labelled with its value, 0 included."""
    names = list(c.estimates)
    height = min(1.4 + 0.45 * len(names), MAX_FIGURE_HEIGHT)
    fig, ax = figure("Busy-apology rate (mean, 95 % CI)", "share of messages", "", (7, height))
    estimates = [c.estimates[v]["busy_rate"] for v in names]
    means = [e.mean for e in estimates]
    errors = [[e.mean - e.low for e in estimates], [e.high - e.mean for e in estimates]]
    bars = ax.barh(range(len(names)), means, xerr=errors, capsize=6, color="#e4572e")
    ax.set_yticks(range(len(names)), [literal(n) for n in names])
    ax.invert_yaxis()  # the first variant on top, as in the tables
    ax.bar_label(bars, labels=[f"{m:.3f}" for m in means], padding=8, fontsize=8)
    top = max((e.high for e in estimates), default=0.0)
    ax.set_xlim(0, 1.25 * top if top > 0 else 0.05)  # room for the labels; all zeros still show an axis
    return fig


def lock_wait(c: Comparison) -> Figure:
    waits = {v: [r.lock_wait for r in records(runs)] for v, runs in c.runs.items()}
    top = max((max(w) for w in waits.values() if w), default=0.0)
    width = LOCK_WAIT_BIN * max(1, math.ceil(top / (LOCK_WAIT_BIN * MAX_BINS)))
    bins = np.arange(0, top + 2 * width, width)
    fig, axes = _histograms(waits, bins, f"Lock wait per message ({width:g} s bins)", "seconds waiting for the lock")
    found = timeouts(c.runs)
    for ax, variant in zip(axes, waits, strict=True):
        mark_timeouts(ax, {t: vs for t, vs in found.items() if variant in vs}, 1, at_top=True)
    return fig


def lock_attempts(c: Comparison) -> Figure:
    attempts = {v: [r.lock_attempts for r in records(runs)] for v, runs in c.runs.items()}
    top = max((max(a) for a in attempts.values() if a), default=1)
    bins = np.unique(np.geomspace(1, top + 1, 40).astype(int))
    if len(bins) < 2:
        bins = np.array([1, 2])
    fig, axes = _histograms(attempts, bins, "Lock attempts per message", "attempts (SET NX PX)")
    axes[-1].set_xscale("log")
    axes[-1].xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks on a log axis cost a second a plot
    return fig


def _histograms(
    values: Mapping[str, Sequence[float]], bins: np.ndarray, title: str, xlabel: str
) -> tuple[Figure, list[Axes]]:
    """Small multiples: a histogram per variant on shared axes (overlaid steps hid each other)."""
    height = min(1.0 + PANEL_HEIGHT * max(len(values), 1), MAX_FIGURE_HEIGHT)
    fig, axes = panels(len(values), (8, height))
    counted = False
    for ax, (variant, data) in zip(axes, values.items(), strict=False):
        counts, _ = np.histogram(np.asarray(data, dtype=float), bins)  # an array: ax.hist reshapes a list slowly
        ax.stairs(counts, bins, fill=True, color="#4c9be8", edgecolor="#1f5f9e")
        counted = counted or bool(np.any(counts > 0))
        ax.set_title(literal(f"{variant}: {len(data):,} messages"), loc="left", fontsize=9)
        ax.set_ylabel("messages")
    if counted:  # a log scale with nothing to show would only warn
        axes[0].set_yscale("log")
        axes[0].yaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(f"{title}, all replications")
    axes[-1].set_xlabel(xlabel)
    return fig, axes


PLOTTERS: dict[str, Callable[[Comparison], Figure]] = {
    "latency_cdf.png": latency_cdf,
    "busy_rate.png": busy_rate,
    "lock_wait.png": lock_wait,
    "lock_attempts.png": lock_attempts,
    "cache_hit_ratio.png": time_plots.cache_hit_ratio,
    "redis_load.png": time_plots.redis_load,
    "workers.png": time_plots.workers,
    "busiest_customer.png": burst_plot.busiest_customer,
    "busy_by_window.png": window_plots.busy_by_window,
    "p95_by_window.png": window_plots.p95_by_window,
}
