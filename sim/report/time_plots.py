"""The plots over simulated time: cache hit ratio, Redis load, workers; one time axis, fault windows shaded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.metrics.comparison import Comparison
from sim.metrics.records import RunResult, Source
from sim.report.figures import figure, literal, panels, records
from sim.report.timeline import TimeAxis, shade, time_axis

LOAD_POINTS = 200  # points on the Redis-load curve, however long the run
WORKER_WINDOWS = 300  # windows the worker plot averages over, however long the run
CACHED = (Source.HIT, Source.MISS)  # a variant whose records hold neither has no cache


def run_end(c: Comparison) -> float:
    """The last moment anything happened in any run (the drain after the last burst included)."""
    return max((r.done_at for runs in c.runs.values() for r in records(runs)), default=0.0)


def axis_of(c: Comparison) -> TimeAxis:
    return time_axis(c.context, run_end(c))


def _finish(c: Comparison, axes: Sequence[Axes], axis: TimeAxis, end: float) -> None:
    """The shared time axis on every panel: from 0 to the end, ticks, shading; the label on the bottom one."""
    span = max(end, c.context.duration, 1e-9)
    for ax in axes:
        ax.set_xlim(0, axis.x(span))
    shade(axes, c.context, axis)
    axis.apply(axes[-1], span)


def has_cache(runs: Sequence[RunResult]) -> bool:
    """Whether a variant caches at all: some outage check was a hit or a miss."""
    return any(r.source in CACHED for r in records(runs))


def cache_hit_ratio(c: Comparison) -> Figure:
    axis, end = axis_of(c), run_end(c)
    cached = [v for v, runs in c.runs.items() if has_cache(runs)]
    without = [v for v in c.runs if v not in cached]
    title = "Cache hit ratio over time" + (f" (no cache: {', '.join(without)})" if without else "")
    fig, ax = figure(literal(title), "", "hits / outage checks")
    edges = np.linspace(0, max(end, 1e-6), 61)
    for variant in cached:
        checked = [r for r in records(c.runs[variant]) if r.source is not None]
        times = np.array([r.cache_checked_at if r.cache_checked_at is not None else r.started_at for r in checked])
        hits = np.array([r.source == Source.HIT for r in checked], dtype=float)
        total, _ = np.histogram(times, edges)
        hit, _ = np.histogram(times, edges, weights=hits)
        ratio = np.divide(hit, total, out=np.full(len(total), np.nan), where=total > 0)
        ax.plot(axis.xs((edges[:-1] + edges[1:]) / 2), ratio, marker=".", label=literal(variant))
    if not cached:
        ax.text(0.5, 0.5, "no variant has a cache", transform=ax.transAxes, ha="center", va="center")
    ax.set_ylim(-0.05, 1.05)
    _finish(c, [ax], axis, end)
    _legend(ax)
    return fig


def redis_load(c: Comparison) -> Figure:
    axis, end = axis_of(c), run_end(c)
    fig, ax = figure("Redis commands per second (mean over replications)", "", "commands / s")
    for variant, runs in c.runs.items():
        last = max((s for run in runs for s in run.commands_per_second), default=0) + 1
        window = max(1, -(-last // LOAD_POINTS))  # seconds per point; an array per second would grow with the run
        per_window = np.zeros(-(-last // window))
        for run in runs:
            seconds = np.fromiter(run.commands_per_second.keys(), dtype=np.int64, count=len(run.commands_per_second))
            counts = np.fromiter(run.commands_per_second.values(), dtype=float, count=len(run.commands_per_second))
            np.add.at(per_window, seconds // window, counts / len(runs))
        ax.plot(axis.xs(np.arange(len(per_window)) * window), per_window / window, label=literal(variant))
        end = max(end, float(last))
    ax.set_ylim(bottom=0)
    _finish(c, [ax], axis, end)
    _legend(ax)
    return fig


def workers(c: Comparison) -> Figure:
    """Busy workers and the queue, averaged per window: the mean over replications and their range."""
    axis, end = axis_of(c), run_end(c)
    fig, (busy_ax, queue_ax) = panels(2, (8, 6), sharey=False)
    edges = np.linspace(0, max(end, 1e-6), WORKER_WINDOWS + 1)
    middles = axis.xs((edges[:-1] + edges[1:]) / 2)
    queued = False
    for variant, runs in c.runs.items():
        busy = np.array(
            [_mean_count(edges, [r.started_at for r in run.records], [r.done_at for r in run.records]) for run in runs]
        )
        queue = np.array(
            [_mean_count(edges, [r.arrival for r in run.records], [r.started_at for r in run.records]) for run in runs]
        )
        queued = queued or bool(np.any(queue > 0))
        for ax, values in ((busy_ax, busy), (queue_ax, queue)):
            (line,) = ax.plot(middles, values.mean(axis=0), label=literal(variant), linewidth=1.2)
            if len(runs) > 1:
                ax.fill_between(
                    middles, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2, linewidth=0
                )
    replications = max((len(runs) for runs in c.runs.values()), default=0)
    band = ", band: their range" if replications > 1 else ""
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


def _mean_count(edges: np.ndarray, starts: Sequence[float], ends: Sequence[float]) -> np.ndarray:
    """How many [start, end) intervals are open, on average over each window between `edges`.

    An average, not a sample at the window's middle: samples of a day's busy workers are noise.
    ∫₀ᵉ open(t) dt = Σ min(e, end) − Σ min(e, start), each sum read off the sorted times.
    """
    covered = _sum_of_min(edges, np.asarray(ends, dtype=float)) - _sum_of_min(edges, np.asarray(starts, dtype=float))
    means: np.ndarray = np.diff(covered) / np.diff(edges)
    return means


def _sum_of_min(edges: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Σᵢ min(e, tᵢ) for each e in `edges`."""
    times = np.sort(times)
    below = np.searchsorted(times, edges, side="left")
    prefix = np.concatenate(([0.0], np.cumsum(times)))
    sums: np.ndarray = prefix[below] + edges * (len(times) - below)
    return sums


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
