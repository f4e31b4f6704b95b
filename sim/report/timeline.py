"""The time axis every plot over the run shares: its unit and ticks, and the shaded fault and surge windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MultipleLocator

from sim.metrics.context import RunContext, ShadeKind

HOUR = 3600.0
CLOCK_FROM = 6 * HOUR  # a run this long reads as a day: hour-of-day ticks (HH:MM)
MINUTES_FROM = 10 * 60.0  # shorter than this: seconds
CLOCK_STEPS = (1, 2, 3, 6, 12, 24, 48, 96, 168)  # hours between clock ticks
MAX_CLOCK_TICKS = 9
SHADE_COLORS = {ShadeKind.FAULT: "#d62728", ShadeKind.SURGE: "#9467bd"}
SHADE_ALPHA = 0.15
SHADE_NAMES = {ShadeKind.FAULT: "fault", ShadeKind.SURGE: "surge"}
THIN = 0.004  # a window narrower than this share of the axis also gets an edge line, or it would not show


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeAxis:
    """Simulated seconds as a plot shows them: x = seconds / unit."""

    unit: float  # seconds per plotted unit: 3600 (clock), 60 (minutes) or 1 (seconds)
    label: str
    clock: bool  # ticks read as hour of day (the run starts at 00:00)

    def x(self, seconds: float) -> float:
        return seconds / self.unit

    def xs(self, seconds: np.ndarray) -> np.ndarray:
        return seconds / self.unit

    def apply(self, ax: Axes, span: float) -> None:
        """Ticks and label on `ax`, whose data runs over `span` seconds."""
        ax.set_xlabel(self.label)
        if not self.clock:
            return
        hours = span / HOUR
        step = next((s for s in CLOCK_STEPS if hours / s <= MAX_CLOCK_TICKS), CLOCK_STEPS[-1])
        ax.xaxis.set_major_locator(MultipleLocator(step))
        ax.xaxis.set_major_formatter(FuncFormatter(_clock))


def time_axis(context: RunContext, last: float) -> TimeAxis:
    """The axis for a run of `context.duration` seconds (`last`, the latest time plotted, when it has none)."""
    span = context.duration or last
    if span >= CLOCK_FROM:
        return TimeAxis(unit=HOUR, label="time of day (the run starts at 00:00)", clock=True)
    if span >= MINUTES_FROM:
        return TimeAxis(unit=60.0, label="minutes from the start of the run", clock=False)
    return TimeAxis(unit=1.0, label="seconds from the start of the run", clock=False)


def _clock(hours: float, _position: object = None) -> str:
    """12.5 → "12:30"; past the first day "06:00 +1d"."""
    minutes = round(hours * 60)
    day, minute_of_day = divmod(minutes, 24 * 60)
    text = f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"
    return text if day <= 0 else f"{text} +{day}d"


def shade(axes: Sequence[Axes], context: RunContext, axis: TimeAxis, *, offset: float = 0.0) -> None:
    """Every fault window and surge of `context` on each of `axes`, one colour per kind.

    Each kind is named once in the legend, with the labels of its windows ("fault: redis down, redis
    restart"). `offset` is subtracted from the times first (a plot whose x-axis starts elsewhere than 0).
    """
    labels = {kind: sorted({w.label for w in context.shaded if w.kind == kind}) for kind in ShadeKind}
    for ax in axes:
        named: set[ShadeKind] = set()
        low, high = ax.get_xlim()
        for w in context.shaded:
            label = _legend_text(w.kind, labels[w.kind]) if w.kind not in named else None
            named.add(w.kind)
            start, end = axis.x(w.start - offset), axis.x(w.end - offset)
            color = SHADE_COLORS[w.kind]
            ax.axvspan(start, end, color=color, alpha=SHADE_ALPHA, linewidth=0, label=label)
            if end - start < THIN * (high - low):
                ax.axvline(start, color=color, alpha=0.6, linewidth=1)
        ax.set_xlim(low, high)  # a window past the data does not stretch the axis


def _legend_text(kind: ShadeKind, labels: list[str]) -> str:
    """ "fault: redis down, redis restart"; "surge ×5" (a label that names its kind already)."""
    text = ", ".join(labels)
    named = all(label.startswith(SHADE_NAMES[kind]) for label in labels)
    return (text if named else f"{SHADE_NAMES[kind]}: {text}").replace("$", r"\$")
