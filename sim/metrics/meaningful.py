"""The minimal meaningful effect per metric: how large a difference must be to matter.

A comparison with common random numbers resolves differences far below anything a user would
act on (2 ms of a 27 s reply time, 0.05 % of the CRM calls). Significance says a difference is
real, not that it matters. Each metric has a margin Δ, absolute in its unit or relative to the
baseline's mean, and a verdict reads the one interval it shows against it (equivalence testing,
TOST, is the anchor: Schuirmann 1987): an interval inside [−Δ, +Δ] is "no meaningful difference",
whether or not it excludes 0, and such a difference stays off the headline.

Defaults (`default_margin`): 100 ms for a metric in seconds, 1 % of the baseline's mean for every
other (a count, a share). A relative margin of a baseline mean of 0 is 0: any significant change
from nothing matters (busy replies 0 → 0.015). The scenario's `[scenario]meaningful` and
`sim compare --meaningful` set them per metric: `latency_p95_s=500ms`, `busy_rate=0.1%` (a share
in points, as thresholds write it), `crm_calls=5% relative`, `lock_polls=100` (in the unit).

Assumption stated: a relative margin is taken of the baseline's estimated mean, as if it were
known; its own uncertainty is left out (it is small beside the difference's with common random
numbers, and the margin is a judgement call, not a measurement).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sim.metrics.catalog import ALL_METRICS, Unit
from sim.metrics.thresholds import metric_value

DEFAULT_RELATIVE = 0.01  # 1 % of the baseline's mean
DEFAULT_SECONDS = 0.1  # 100 ms for a latency
_RELATIVE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%\s*relative\s*$")
EXAMPLES = "e.g. latency_p95_s=500ms, busy_rate=0.1% or crm_calls=5% relative"


class MarginError(ValueError):
    """A margin that cannot be used (unknown metric, negative, not finite, a unit that does not fit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Margin:
    """The smallest difference in `metric` that matters: `value` in its unit, or a fraction of the baseline's mean."""

    metric: str
    value: float  # ≥ 0: in the metric's unit, or a fraction (0.01) when relative
    relative: bool = False

    def __post_init__(self) -> None:
        if self.metric not in ALL_METRICS:
            raise MarginError(f"unknown metric {self.metric[:64]!r} (metrics: {', '.join(ALL_METRICS)})")
        if not (math.isfinite(self.value) and self.value >= 0):
            raise MarginError(f"{self.metric}: a margin is a finite number of 0 or more, got {self.value!r}")

    def of(self, baseline_mean: float) -> float:
        """Δ in the metric's unit against a baseline of this mean (NaN when that mean is)."""
        return self.value * abs(baseline_mean) if self.relative else self.value

    def words(self) -> str:
        """ "100 ms", "1 % of the baseline", "0.1 points", "5"."""
        if self.relative:
            return f"{self.value * 100:g} % of the baseline"
        match ALL_METRICS[self.metric].unit:
            case Unit.SECONDS:
                return f"{self.value * 1000:g} ms" if self.value < 1 else f"{self.value:g} s"
            case Unit.RATIO:
                return f"{self.value * 100:g} points"
            case Unit.COUNT:
                return f"{self.value:g}"
        return f"{self.value:g}"  # pragma: no cover - every unit is matched above


def default_margin(metric: str) -> Margin:
    if ALL_METRICS[metric].unit is Unit.SECONDS:
        return Margin(metric=metric, value=DEFAULT_SECONDS)
    return Margin(metric=metric, value=DEFAULT_RELATIVE, relative=True)


def margins(metrics: Iterable[str], chosen: Sequence[Margin] = ()) -> dict[str, Margin]:
    """Each metric's margin: the chosen one, else its default."""
    given = {m.metric: m for m in chosen}
    return {m: given.get(m, default_margin(m)) for m in metrics}


def parse_margins(text: str) -> tuple[Margin, ...]:
    """`latency_p95_s=500ms,crm_calls=5% relative`: a margin per metric (`--meaningful`)."""
    pairs = []
    for part in text.split(","):
        metric, equals, value = part.partition("=")
        if not equals:
            raise MarginError(f"expected METRIC=MARGIN[,…] ({EXAMPLES}), got {_quoted(part)}")
        pairs.append((metric.strip(), value.strip()))
    return margins_from(pairs)


def margins_from(pairs: Sequence[tuple[str, str | float]]) -> tuple[Margin, ...]:
    """Margins from (metric, value) pairs: a number in the metric's unit, or a string with a unit or `% relative`."""
    found: list[Margin] = []
    for metric, value in pairs:
        if metric not in ALL_METRICS:
            raise MarginError(f"unknown metric {_quoted(metric)} (metrics: {', '.join(ALL_METRICS)})")
        if metric in (m.metric for m in found):
            raise MarginError(f"{metric} has two margins")
        found.append(margin(metric, value))
    if not found:
        raise MarginError("no margin given")
    return tuple(found)


def margin(metric: str, value: str | float) -> Margin:
    if isinstance(value, str) and (relative := _RELATIVE.match(value)):
        return Margin(metric=metric, value=float(relative.group(1)) / 100, relative=True)
    try:
        amount = metric_value(metric, value) if isinstance(value, str) else float(value)
    except ValueError as error:
        raise MarginError(f"{metric}: {error}; or a share of the baseline such as '5% relative'") from None
    return Margin(metric=metric, value=amount)


def within(low: float, high: float, delta: float) -> bool:
    """The interval [low, high] lies inside [−delta, +delta]: no meaningful difference (TOST)."""
    return -delta <= low and high <= delta


def summary(chosen: Mapping[str, Margin]) -> str:
    """The margins in one line, grouped: "100 ms for latencies; 1 % of the baseline for the rest; crm_calls 5"."""
    defaults = [m for m in chosen.values() if m == default_margin(m.metric)]
    custom = [m for m in chosen.values() if m != default_margin(m.metric)]
    parts = []
    if any(ALL_METRICS[m.metric].unit is Unit.SECONDS for m in defaults):
        parts.append(f"{DEFAULT_SECONDS * 1000:g} ms for times")
    if any(ALL_METRICS[m.metric].unit is not Unit.SECONDS for m in defaults):
        parts.append(f"{DEFAULT_RELATIVE * 100:g} % of the baseline's mean for counts and shares")
    parts += [f"{m.metric} {m.words()}" for m in custom]
    return "; ".join(parts)


def _quoted(text: str) -> str:
    return repr(text) if len(text) <= 64 else f"{text[:64]!r}… ({len(text):,} characters)"
