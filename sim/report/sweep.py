"""The sweep report: a table of every grid point and heatmaps over the grid."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sim.metrics.baseline import FORMAT_VERSION  # noqa: E402
from sim.metrics.comparison import Comparison  # noqa: E402
from sim.report import html, markdown  # noqa: E402
from sim.report.document import Block, Heading, Image, Paragraph, Table, fmt_estimate  # noqa: E402
from sim.report.json_report import _estimate  # noqa: E402

HEATMAPS = {"busy_rate": "Busy-apology rate", "latency_p95_s": "p95 response time (s)", "redis_commands": "Redis load"}


def write(c: Comparison, axes: list[tuple[str, tuple[str, ...]]], folder: Path) -> None:
    images = _plots(c, axes, folder)
    blocks = _blocks(c, axes, images)
    (folder / "report.md").write_text(markdown.render(blocks), encoding="utf-8")
    (folder / "report.html").write_text(html.render(blocks, folder), encoding="utf-8")
    (folder / "results.json").write_text(_json(c, axes), encoding="utf-8")


def _blocks(c: Comparison, axes: list[tuple[str, tuple[str, ...]]], images: list[Image]) -> list[Block]:
    grid = " × ".join(f"{key} ∈ {{{', '.join(values)}}}" for key, values in axes)
    rows = tuple(
        (point, *(fmt_estimate(m, c.estimates[point][m]) for m in ("busy_rate", "latency_p95_s", "redis_commands")))
        for point in c.estimates
    )
    return [
        Heading(f"{c.scenario}: sweep over {len(c.estimates)} grid points", 1),
        Paragraph(f"Grid: {grid}. Seed {c.seed}, {c.replications} replication(s) per point, common random numbers."),
        Table(("grid point", "busy_rate", "latency_p95_s", "redis_commands"), rows),
        *([Heading("Heatmaps"), *images] if images else [Paragraph("Plots need one or two grid axes.")]),
    ]


def _plots(c: Comparison, axes: list[tuple[str, tuple[str, ...]]], folder: Path) -> list[Image]:
    if len(axes) not in (1, 2):
        return []
    images = []
    for metric, title in HEATMAPS.items():
        means = np.array([c.estimates[p][metric].mean for p in c.estimates])
        fig = _heatmap(means, axes, title) if len(axes) == 2 else _line(c, metric, axes[0], title)
        name = f"sweep_{metric}.png"
        fig.savefig(folder / name, dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        images.append(Image(name, f"{title} over the grid (mean of replications)"))
    return images


def _heatmap(means: np.ndarray, axes: list[tuple[str, tuple[str, ...]]], title: str):  # type: ignore[no-untyped-def]
    (row_key, rows), (col_key, cols) = axes
    grid = means.reshape(len(rows), len(cols))
    fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(cols), 1.2 + 0.8 * len(rows)))
    image = ax.imshow(grid, cmap="viridis_r", aspect="auto")
    low, high = float(grid.min()), float(grid.max())
    for (i, j), value in np.ndenumerate(grid):
        bright = high == low or (value - low) / (high - low) < 0.5  # viridis_r is yellow at the low end
        ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="black" if bright else "white", fontsize=9)
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel=col_key, ylabel=row_key, title=title)
    fig.colorbar(image, ax=ax)
    return fig


def _line(c: Comparison, metric: str, axis: tuple[str, tuple[str, ...]], title: str):  # type: ignore[no-untyped-def]
    key, values = axis
    estimates = [c.estimates[p][metric] for p in c.estimates]
    fig, ax = plt.subplots(figsize=(7, 4))
    errors = [[e.mean - e.low for e in estimates], [e.high - e.mean for e in estimates]]
    ax.errorbar(list(values), [e.mean for e in estimates], yerr=errors, marker="o", capsize=5)
    ax.set(xlabel=key, title=f"{title} (95 % CI)")
    ax.grid(alpha=0.3)
    return fig


def _json(c: Comparison, axes: list[tuple[str, tuple[str, ...]]]) -> str:
    return (
        json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "kind": "sweep",
                "scenario": c.scenario,
                "seed": c.seed,
                "replications": c.replications,
                "grid": {key: list(values) for key, values in axes},
                "points": {p: {m: _estimate(e) for m, e in c.estimates[p].items()} for p in c.estimates},
            },
            indent=2,
        )
        + "\n"
    )
