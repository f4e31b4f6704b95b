"""The report's PNG plots (matplotlib, no display needed), drawn from the runs' digests (`sim.metrics.digest`).

Each plotter takes the comparison and returns its figure, so that tests can read what was drawn.
Distributions pooled over the replications come from merged quantile sketches (DDSketch, whose
relative error each such plot states) or from histograms on fixed bins (exact).
The distributions are here; the plots over time are in `time_plots`, the per-window metrics in
`window_plots`, the busiest burst in `burst_plot`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from sim.metrics.comparison import Comparison
from sim.metrics.digest import ATTEMPT_EDGES, RELATIVE_ACCURACY, coarsened, merged, quantiles, wait_width
from sim.report import burst_plot, time_plots, window_plots
from sim.report.figures import figure, literal, mark_timeouts, panels, save, timeouts

CDF_POINTS = 2000  # points drawn per curve: the CDF's shape without a vertex per message
PANEL_HEIGHT = 1.6  # inches per variant in the small multiples
MAX_FIGURE_HEIGHT = 40.0  # inches: matplotlib refuses images past 2^23 pixels a side


def write_all(c: Comparison, folder: Path) -> None:
    for name, draw in PLOTTERS.items():
        save(draw(c), folder / name)


def latency_cdf(c: Comparison) -> Figure:
    """The CDF per variant (the replications' sketches merged), its p50 and p95 marked, and a line where
    each lock timeout's apologies pile up."""
    accuracy = f"DDSketch, quantiles within {RELATIVE_ACCURACY:.0%} relative error"
    title = f"Response time CDF (all replications; {accuracy})"
    fig, ax = figure(title, "seconds from arrival to reply", "share of messages")
    levels = np.linspace(0, 1, CDF_POINTS)
    for variant, runs in c.runs.items():
        pooled = merged((run.plots.latency for run in runs), RELATIVE_ACCURACY)
        if pooled.count == 0:
            continue
        latencies = np.array(quantiles(pooled, levels.tolist()))
        p50, p95 = quantiles(pooled, [0.5, 0.95])
        label = literal(f"{variant} (p50 {p50:.3g} s, p95 {p95:.3g} s)")
        (line,) = ax.step(latencies, levels, where="post", label=label)
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
    """Histograms on bins of `digest.wait_width` (exact: each run's bins coarsen into the longest run's)."""
    top = max((run.plots.lock_wait_top for runs in c.runs.values() for run in runs), default=0.0)
    width = wait_width(top)
    bins = np.arange(0, top + 2 * width, width)
    counts = {v: _summed([coarsened(r.plots.lock_wait_counts, r.plots.lock_wait_width, width) for r in runs],
                         len(bins) - 1) for v, runs in c.runs.items()}  # fmt: skip
    fig, axes = _histograms(counts, bins, f"Lock wait per message ({width:g} s bins)", "seconds waiting for the lock")
    found = timeouts(c.runs)
    for ax, variant in zip(axes, counts, strict=True):
        mark_timeouts(ax, {t: vs for t, vs in found.items() if variant in vs}, 1, at_top=True)
    return fig


def lock_attempts(c: Comparison) -> Figure:
    """Histograms on the fixed quarter-octave bins of `digest.ATTEMPT_EDGES`, up to the most attempts seen."""
    per_variant = {v: _summed([np.asarray(r.plots.lock_attempts, dtype=float) for r in runs], len(ATTEMPT_EDGES) - 1)
                   for v, runs in c.runs.items()}  # fmt: skip
    used = [int(np.flatnonzero(counts).max()) for counts in per_variant.values() if np.any(counts)]
    last = max(used, default=0) + 1  # bins up to the last one holding a message
    bins = ATTEMPT_EDGES[: last + 1]
    fig, axes = _histograms({v: counts[:last] for v, counts in per_variant.items()}, bins,
                            "Lock attempts per message", "attempts (SET NX PX)")  # fmt: skip
    axes[-1].set_xscale("log")
    axes[-1].xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks on a log axis cost a second a plot
    return fig


def _summed(counts: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Per-run counts on the same bins added up, `length` bins long (a run's trailing empty bins are absent)."""
    total = np.zeros(length)
    for run in counts:
        total[: min(len(run), length)] += run[:length]
    return total


def _histograms(
    counts: Mapping[str, np.ndarray], bins: np.ndarray, title: str, xlabel: str
) -> tuple[Figure, list[Axes]]:
    """Small multiples: a histogram per variant on shared axes (overlaid steps hid each other)."""
    height = min(1.0 + PANEL_HEIGHT * max(len(counts), 1), MAX_FIGURE_HEIGHT)
    fig, axes = panels(len(counts), (8, height))
    counted = False
    for ax, (variant, found) in zip(axes, counts.items(), strict=False):
        ax.stairs(found, bins, fill=True, color="#4c9be8", edgecolor="#1f5f9e")
        counted = counted or bool(np.any(found > 0))
        ax.set_title(literal(f"{variant}: {int(found.sum()):,} messages"), loc="left", fontsize=9)
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
