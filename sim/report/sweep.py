"""The sweep report: a table of every grid point and plots over the grid.

One axis: a line with 95 % intervals. Two: a heatmap. Three or more: small multiples,
one heatmap of the first two axes per combination of the others (up to MAX_PANELS).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes as Panel  # noqa: E402
from matplotlib.colors import Colormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from sim.metrics.baseline import FORMAT_VERSION  # noqa: E402
from sim.metrics.catalog import METRICS, Unit
from sim.metrics.comparison import Comparison  # noqa: E402
from sim.report import html, markdown  # noqa: E402
from sim.report.document import (  # noqa: E402
    DECIMALS,
    Block,
    Heading,
    Image,
    Paragraph,
    Table,
    fmt_estimate,
    invariants_status,
)
from sim.report.numbers import rounded_estimate  # noqa: E402

HEATMAPS = {
    "busy_rate": "Busy-apology rate (share of messages)",
    "latency_p95_s": "p95 response time (s)",
    "redis_commands": "Redis commands per run",
}
MAX_PANELS = 36  # small multiples in one figure; past that each panel is too small to read
Axes = list[tuple[str, tuple[str, ...]]]


def write(c: Comparison, axes: Axes, folder: Path) -> None:
    images = _plots(c, axes, folder)
    blocks = _blocks(c, axes, images)
    (folder / "report.md").write_text(markdown.render(blocks), encoding="utf-8")
    (folder / "report.html").write_text(html.render(blocks, folder), encoding="utf-8")
    (folder / "results.json").write_text(_json(c, axes), encoding="utf-8")


def _blocks(c: Comparison, axes: Axes, images: list[Image]) -> list[Block]:
    grid = " × ".join(f"{key} ∈ {{{', '.join(values)}}}" for key, values in axes)
    rows = tuple(
        (point, *(fmt_estimate(m, c.estimates[point][m]) for m in ("busy_rate", "latency_p95_s", "redis_commands")))
        for point in c.estimates
    )
    return [
        Heading(f"{c.scenario}: sweep over {len(c.estimates)} grid points", 1),
        Paragraph(f"Grid: {grid}. Seed {c.seed}, {c.replications} replication(s) per point, common random numbers."),
        invariants_status(c),
        Table(("grid point", "busy_rate", "latency_p95_s", "redis_commands"), rows),
        *([Heading("Plots"), *images] if images else [Paragraph(_no_plots(axes))]),
    ]


def _no_plots(axes: Axes) -> str:
    panels = _panel_count(axes)
    return (
        f"No plots: {panels:,} small multiples would be too small to read (at most {MAX_PANELS}); sweep fewer values."
    )


def _panel_count(axes: Axes) -> int:
    return math.prod(len(values) for _, values in axes[2:])


def _plots(c: Comparison, axes: Axes, folder: Path) -> list[Image]:
    if _panel_count(axes) > MAX_PANELS:
        return []
    images = []
    for metric, title in HEATMAPS.items():
        means = np.array([c.estimates[p][metric].mean for p in c.estimates])
        if len(axes) == 1:
            fig = _line(c, metric, axes[0], title)
        elif len(axes) == 2:
            fig = _heatmap(means, axes, metric, title)
        else:
            fig = _small_multiples(means, axes, metric, title)
        name = f"sweep_{metric}.png"
        fig.savefig(folder / name, dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        images.append(Image(name, f"{title} over the grid (mean of replications)"))
    return images


def _small_multiples(means: np.ndarray, axes: Axes, metric: str, title: str) -> Figure:
    """One heatmap of the first two axes per combination of the other axes' values, on one colour scale."""
    (row_key, rows), (col_key, cols), rest = axes[0], axes[1], axes[2:]
    cube = means.reshape(len(rows), len(cols), -1)  # grid points run with the first axis slowest
    combos = list(itertools.product(*(values for _, values in rest)))
    across = min(len(combos), 4)
    down = math.ceil(len(combos) / across)
    fig, panels = plt.subplots(
        down,
        across,
        figsize=(1.5 + across * (1.2 + 1.0 * len(cols)), down * (1.0 + 0.7 * len(rows))),
        squeeze=False,
        layout="constrained",
    )
    low, high = float(means.min()), float(means.max())
    for k, ax in enumerate(panels.flat):
        if k >= len(combos):
            ax.set_axis_off()
            continue
        image = _cells(ax, cube[:, :, k], Scale(metric, low, high))
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title(", ".join(f"{key}={value}" for (key, _), value in zip(rest, combos[k], strict=True)), fontsize=9)
        ax.set(xlabel=col_key, ylabel=row_key if k % across == 0 else "")
    fig.suptitle(_titled(metric, title))
    _colorbar(fig, image, panels, metric)  # one scale for every panel, so colours compare across them
    return fig


@dataclass(frozen=True, slots=True)
class Scale:
    """A metric's colours and numbers on a heatmap: the better end always yellow, one number format."""

    metric: str
    low: float
    high: float

    @property
    def cmap(self) -> Colormap:
        better = METRICS[self.metric].better
        return plt.get_cmap("viridis" if better else "viridis_r")  # viridis ends in yellow; no direction: as lower

    def text(self, value: float) -> str:
        return _number(self.metric, value)

    def ink(self, value: float) -> str:
        """Black on a light cell, white on a dark one (from the cell's own colour, whatever the colormap)."""
        share = 0.5 if self.high == self.low else (value - self.low) / (self.high - self.low)
        red, green, blue, _ = self.cmap(share)
        return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _number(metric: str, value: float) -> str:
    """`value` in its metric's one format (the tables' decimals, without the unit)."""
    unit = METRICS[metric].unit
    return f"{value + 0.0:{',' if unit == Unit.COUNT else ''}.{DECIMALS[unit]}f}"


def _direction(metric: str) -> str:
    better = METRICS[metric].better
    return "no better direction" if better is None else f"better {'↑' if better else '↓'}"


def _titled(metric: str, title: str) -> str:
    return f"{title}, {_direction(metric)}"


def _colorbar(fig: Figure, image: AxesImage, where: Panel | np.ndarray, metric: str) -> None:
    bar = fig.colorbar(image, ax=where, shrink=0.8, format=FuncFormatter(lambda v, _: _number(metric, v)))
    better = METRICS[metric].better
    bar.set_label("yellow: better" if better is not None else "")


def _cells(ax: Panel, grid: np.ndarray, scale: Scale) -> AxesImage:
    """A heatmap on the scale's range, each cell labelled with its value."""
    image = ax.imshow(grid, cmap=scale.cmap, aspect="auto", vmin=scale.low, vmax=scale.high)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, scale.text(value), ha="center", va="center", color=scale.ink(value), fontsize=9)
    return image


def _heatmap(means: np.ndarray, axes: Axes, metric: str, title: str) -> Figure:
    (row_key, rows), (col_key, cols) = axes
    grid = means.reshape(len(rows), len(cols))
    fig, ax = plt.subplots(figsize=(2.5 + 1.3 * len(cols), 1.4 + 0.8 * len(rows)), layout="constrained")
    image = _cells(ax, grid, Scale(metric, float(grid.min()), float(grid.max())))
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel=col_key, ylabel=row_key, title=_titled(metric, title))
    _colorbar(fig, image, ax, metric)
    return fig


def _line(c: Comparison, metric: str, axis: tuple[str, tuple[str, ...]], title: str) -> Figure:
    key, values = axis
    estimates = [c.estimates[p][metric] for p in c.estimates]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    errors = [[e.mean - e.low for e in estimates], [e.high - e.mean for e in estimates]]
    ax.errorbar(list(values), [e.mean for e in estimates], yerr=errors, marker="o", capsize=5)
    ax.set(xlabel=key, title=f"{title}: mean, 95 % CI, {_direction(metric)}")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _number(metric, v)))
    ax.grid(alpha=0.3)
    return fig


def _json(c: Comparison, axes: Axes) -> str:
    return (
        json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "kind": "sweep",
                "scenario": c.scenario,
                "seed": c.seed,
                "replications": c.replications,
                "grid": {key: list(values) for key, values in axes},
                "invariant_violations": c.violations,
                "points": {p: {m: rounded_estimate(e) for m, e in c.estimates[p].items()} for p in c.estimates},
            },
            indent=2,
        )
        + "\n"
    )
