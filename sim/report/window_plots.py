"""The per-window plots: busy rate and answered p95 of the messages arrived in each time window.

They draw the comparison's `TimeSeries` (`sim.metrics.timeseries`) as it is, so the plots,
the "Over time" table and timeseries.csv show the same numbers: per variant the mean over
the replications and its 95 % band, on the time axis every plot over the run shares.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sim.metrics.comparison import Comparison
from sim.report.figures import figure, literal
from sim.report.timeline import shade, time_axis


def busy_by_window(c: Comparison) -> Figure:
    return _by_window(c, "busy_rate", "Busy-apology rate per time window", "busy apologies / messages arrived")


def p95_by_window(c: Comparison) -> Figure:
    return _by_window(c, "latency_answered_p95_s", "Latency p95 of the answered messages per time window", "seconds")


def _by_window(c: Comparison, metric: str, title: str, ylabel: str) -> Figure:
    """A line per variant at the windows' middles, its 95 % band shaded; the fault and surge windows behind."""
    series = c.timeseries
    starts = np.asarray(series.starts if series else (), dtype=float)
    step = series.window_s if series else 0.0
    end = float(starts[-1] + step) if len(starts) else 0.0
    axis = time_axis(c.context, end)
    replications = max((len(runs) for runs in c.runs.values()), default=0)
    band = ", 95 % band" if replications > 1 else ""
    fig, ax = figure(f"{title} (mean over {replications} replication(s){band})", "", ylabel)
    middles = axis.xs(starts + step / 2)
    for variant, metrics in series.values.items() if series else ():
        if metric not in metrics:
            continue  # a variant without runs has no windows
        estimates = metrics[metric]
        mean = np.array([e.mean for e in estimates])
        (line,) = ax.plot(middles, mean, marker=".", markersize=3, linewidth=1.2, label=literal(variant))
        if replications > 1:
            low, high = np.array([e.low for e in estimates]), np.array([e.high for e in estimates])
            ax.fill_between(middles, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    if not ax.get_lines():
        ax.text(0.5, 0.5, "no message arrived", transform=ax.transAxes, ha="center", va="center")
    if metric == "busy_rate":
        ax.set_ylim(-0.02, 1.02)
    else:
        ax.set_ylim(bottom=0)
    span = max(end, c.context.duration, 1e-9)
    ax.set_xlim(0, axis.x(span))
    shade([ax], c.context, axis)
    axis.apply(ax, span)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig
