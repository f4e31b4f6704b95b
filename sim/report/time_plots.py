"""The plots over simulated time: cache hit ratio, Redis load, workers; one time axis, fault windows shaded.

Drawn from the comparison's time windows (`sim.metrics.timeseries`, the same windows as the
"Over time" table and timeseries.csv), which every replication computed from its own records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.metrics.comparison import Comparison
from sim.metrics.digest import RunDigest
from sim.metrics.stats import Estimate
from sim.report.figures import figure, literal, panels
from sim.report.timeline import TimeAxis, shade, time_axis


def run_end(c: Comparison) -> float:
    """The last moment anything happened in any run (the drain after the last burst included)."""
    return max((run.plots.last_done for runs in c.runs.values() for run in runs), default=0.0)


def axis_of(c: Comparison) -> TimeAxis:
    return time_axis(c.context, run_end(c))


def _finish(c: Comparison, axes: Sequence[Axes], axis: TimeAxis, end: float) -> None:
    """The shared time axis on every panel: from 0 to the end, ticks, shading; the label on the bottom one."""
    span = max(end, c.context.duration, 1e-9)
    for ax in axes:
        ax.set_xlim(0, axis.x(span))
    shade(axes, c.context, axis)
    axis.apply(axes[-1], span)


def has_cache(runs: Sequence[RunDigest]) -> bool:
    """Whether a variant caches at all: some outage check was a hit or a miss."""
    return any(run.plots.has_cache for run in runs)


def _windows(c: Comparison, axis: TimeAxis) -> tuple[np.ndarray, np.ndarray]:
    """The time windows' edges and their middles on `axis`."""
    series = c.timeseries
    starts = np.asarray(series.starts if series else (), dtype=float)
    step = series.window_s if series else 0.0
    return np.append(starts, starts[-1] + step) if len(starts) else np.zeros(1), axis.xs(starts + step / 2)


def cache_hit_ratio(c: Comparison) -> Figure:
    axis, end = axis_of(c), run_end(c)
    cached = [v for v, runs in c.runs.items() if has_cache(runs)]
    without = [v for v in c.runs if v not in cached]
    title = "Cache hit ratio over time" + (f" (no cache: {', '.join(without)})" if without else "")
    fig, ax = figure(literal(title), "", "hits / outage checks")
    _, middles = _windows(c, axis)
    totals = c.timeseries.totals if c.timeseries else {}
    for variant in cached:
        total = np.asarray(totals[variant]["cache_checks"])
        hit = np.asarray(totals[variant]["cache_hits"])
        ratio = np.divide(hit, total, out=np.full(len(total), np.nan), where=total > 0)
        ax.plot(middles, ratio, marker=".", label=literal(variant))
    if not cached:
        ax.text(0.5, 0.5, "no variant has a cache", transform=ax.transAxes, ha="center", va="center")
    ax.set_ylim(-0.05, 1.05)
    _finish(c, [ax], axis, end)
    _legend(ax)
    return fig


def redis_load(c: Comparison) -> Figure:
    axis, end = axis_of(c), run_end(c)
    fig, ax = figure("Redis commands per second (mean over replications)", "", "commands / s")
    edges, middles = _windows(c, axis)
    for variant, estimates in _series(c, "redis_commands_per_s").items():
        ax.plot(middles, [e.mean for e in estimates], label=literal(variant))
    ax.set_ylim(bottom=0)
    _finish(c, [ax], axis, max(end, float(edges[-1])))
    _legend(ax)
    return fig


def workers(c: Comparison) -> Figure:
    """Busy workers and the queue, averaged per time window: the mean over replications and its 95 % band."""
    axis, end = axis_of(c), run_end(c)
    fig, (busy_ax, queue_ax) = panels(2, (8, 6), sharey=False)
    _, middles = _windows(c, axis)
    replications = max((len(runs) for runs in c.runs.values()), default=0)
    queued = False
    for ax, metric in ((busy_ax, "busy_workers"), (queue_ax, "queue_length")):
        for variant, estimates in _series(c, metric).items():
            mean = np.array([e.mean for e in estimates])
            queued = queued or (metric == "queue_length" and bool(np.any(mean > 0)))
            (line,) = ax.plot(middles, mean, label=literal(variant), linewidth=1.2)
            if replications > 1:
                low, high = [e.low for e in estimates], [e.high for e in estimates]
                ax.fill_between(middles, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    band = ", 95 % band" if replications > 1 else ""
    busy_ax.set(title=f"Workers and queue, mean over {replications} replication(s){band}", ylabel="busy workers")
    queue_ax.set(ylabel="messages waiting\nfor a worker")
    if not queued:
        queue_ax.text(0.5, 0.5, "no message waited for a worker", transform=queue_ax.transAxes, ha="center")
    for ax in (busy_ax, queue_ax):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
    _finish(c, [busy_ax, queue_ax], axis, end)
    _legend(busy_ax)
    return fig


def _series(c: Comparison, metric: str) -> dict[str, tuple[Estimate, ...]]:
    """Per variant with runs, one SERIES metric's estimates per window."""
    values = c.timeseries.values if c.timeseries else {}
    return {variant: metrics[metric] for variant, metrics in values.items() if metric in metrics}


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
