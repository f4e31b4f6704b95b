"""The fit report's plots: each fitted quantity's Q-Q and ECDF against the data, the hourly curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sim.fit.latency import Fit  # noqa: E402
from sim.fit.world import FittedWorld  # noqa: E402

DPI = 100
QQ_POINTS = 400  # quantiles drawn, however many observations
ECDF_POINTS = 5000  # steps of the observed ECDF drawn, at most


def write_all(world: FittedWorld, fits: dict[str, Fit], folder: Path) -> list[str]:
    """Writes the plots into `folder`; returns their file names."""
    figures = {"hourly_rates.png": _hourly(world), "burst_sizes.png": _sizes(world)}
    for key, fitted in fits.items():
        if fitted.candidates:
            figures[f"{key}_qq.png"] = _qq(fitted)
            figures[f"{key}_ecdf.png"] = _ecdf(fitted)
    for name, fig in figures.items():
        fig.savefig(folder / name, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
    return list(figures)


def _figure(title: str, xlabel: str, ylabel: str):  # type: ignore[no-untyped-def]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _hourly(world: FittedWorld):  # type: ignore[no-untyped-def]
    a = world.arrivals
    fig, ax = _figure("Sessions per hour", "hour of day", "sessions per hour")
    if a.hourly:
        ax.bar(np.arange(24) - 0.2, a.hourly, width=0.4, label="weekdays" if a.weekend else "fitted")
        if a.weekend:
            ax.bar(np.arange(24) + 0.2, a.weekend, width=0.4, label="weekends")
        ax.legend()
    else:
        ax.axhline(a.rate, label=f"{a.rate:.3g}/h over {a.hours:g} h")
        ax.legend()
    return fig


def _sizes(world: FittedWorld):  # type: ignore[no-untyped-def]
    fig, ax = _figure("Messages per session", "messages", "sessions")
    ax.bar(world.burst_size.values, world.burst_size.weights)
    return fig


def _positions(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


def _qq(fitted: Fit):  # type: ignore[no-untyped-def]
    fig, ax = _figure(f"Q-Q: {fitted.quantity}", "fitted quantile (s)", "observed quantile (s)")
    p = _positions(min(QQ_POINTS, len(fitted.samples)))
    observed = np.quantile(fitted.samples, p)
    for c in fitted.candidates:
        ax.plot(c.ppf(p), observed, ".", markersize=3, label=f"{c.family} (KS p={c.ks_p:.2g})")
    low, high = float(observed.min()), float(observed.max())
    ax.plot([low, high], [low, high], color="black", linewidth=0.8, label="observed = fitted")
    ax.legend(fontsize=8)
    return fig


def _ecdf(fitted: Fit):  # type: ignore[no-untyped-def]
    fig, ax = _figure(f"ECDF: {fitted.quantity}", "seconds", "share of observations")
    x = fitted.samples
    shares = np.arange(1, len(x) + 1) / len(x)
    if len(x) > ECDF_POINTS:  # two million steps draw as one line: keep every k-th (the curve is unchanged to the eye)
        keep = np.unique(np.linspace(0, len(x) - 1, ECDF_POINTS).astype(np.int64))
        x, shares = x[keep], shares[keep]
    ax.step(x, shares, where="post", color="black", linewidth=1.5, label="observed")
    grid = np.linspace(float(x.min()), float(x.max()), 400)
    for c in fitted.candidates:
        ax.plot(grid, c.cdf(grid), linewidth=1, label=str(c.family))
    ax.legend(fontsize=8)
    return fig
