"""What every report plot shares: matplotlib without a display, literal labels, one figure style."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sim.metrics.digest import TIMEOUT_ACCURACY, RunDigest, merged, quantiles  # noqa: E402

DPI = 100
GRID_ALPHA = 0.3


def literal(text: str) -> str:
    """`text` as matplotlib draws it literally: a `$` would start mathtext, and one a variant or
    customer name brings along would fail to parse (or render as maths). Every label from data goes through here."""
    return text.replace("$", r"\$")


def save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (8, 4.5)) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=GRID_ALPHA)
    return fig, ax


def panels(count: int, size: tuple[float, float], *, sharey: bool = True) -> tuple[Figure, list[Axes]]:
    """`count` panels stacked on one shared x-axis (small multiples: one per variant)."""
    fig, grid = plt.subplots(
        max(count, 1), 1, figsize=size, sharex=True, sharey=sharey, squeeze=False, layout="constrained"
    )
    axes = list(grid[:, 0])
    for ax in axes:
        ax.grid(alpha=GRID_ALPHA)
    return fig, axes


def lock_timeout(runs: Sequence[RunDigest]) -> float | None:
    """The lock timeout a variant's workers gave up at, read from its busy apologies: the median lock
    wait of those that got one (None: nobody did). A give-up waits the timeout plus the last attempt's
    round trip, and a give-up on a Redis error sooner, so the median, rounded to 3 digits, is the setting.
    The median is the pooled sketch's (`digest.TIMEOUT_ACCURACY`, 0.1 %: within the 3 digits shown)."""
    waits = merged((run.plots.busy_lock_wait for run in runs), TIMEOUT_ACCURACY)
    if waits.count == 0:
        return None
    return float(f"{quantiles(waits, [0.5])[0]:.3g}")


def timeouts(runs: dict[str, list[RunDigest]]) -> dict[float, list[str]]:
    """Each distinct lock timeout that produced busy apologies → the variants that have it."""
    found: dict[float, list[str]] = {}
    for variant, variant_runs in runs.items():
        timeout = lock_timeout(variant_runs)
        if timeout is not None:
            found.setdefault(timeout, []).append(variant)
    return found


def mark_timeouts(ax: Axes, found: dict[float, list[str]], every: int, *, at_top: bool = False) -> None:
    """A dashed vertical line per lock timeout, saying that the busy apologies pile up there.

    `every`: how many variants there are; the line names its variants only when some others differ.
    The words run beside the line, at the bottom right of it (a CDF is high there) or `at_top` left of it."""
    for row, (timeout, variants) in enumerate(sorted(found.items())):
        ax.axvline(timeout, color="#555555", linestyle="--", linewidth=1)
        who = "" if len(variants) == every else f" ({', '.join(variants)})"
        text = f"lock timeout {timeout:g} s: busy apologies{who}"
        ax.text(
            timeout,
            (0.95 - 0.09 * row) if at_top else (0.04 + 0.07 * row),  # stacked: two lines' words never overlap
            literal(f"{text} " if at_top else f" {text}"),
            transform=ax.get_xaxis_transform(),
            va="top" if at_top else "bottom",
            ha="right" if at_top else "left",
            fontsize=8,
            color="#333333",
        )
