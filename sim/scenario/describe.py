"""A scenario as the results model records it (`sim.metrics.context`): windows to shade, words, plain data."""

from __future__ import annotations

from sim.metrics.context import RunContext, Shaded, ShadeKind
from sim.scenario.model import Fault, RedisRestart, Scenario

# A restart is an instant; it is shaded as one second so that it shows on a plot.
INSTANT_S = 1.0


def context(scenario: Scenario) -> RunContext:
    return RunContext(duration=scenario.duration, shaded=shaded(scenario))


def shaded(scenario: Scenario) -> tuple[Shaded, ...]:
    """Fault windows and surges, in start order."""
    windows = [_fault(f) for f in scenario.faults]
    windows += [
        Shaded(kind=ShadeKind.SURGE, label=f"surge ×{s.multiplier:g}", start=s.start, end=s.start + s.duration)
        for s in scenario.workload.surges
    ]
    return tuple(sorted(windows, key=lambda w: (w.start, w.end, w.label)))


def _fault(fault: Fault) -> Shaded:
    label = fault.kind.replace("_", " ")
    if isinstance(fault, RedisRestart):
        return Shaded(kind=ShadeKind.FAULT, label=label, start=fault.start, end=fault.start + INSTANT_S)
    return Shaded(kind=ShadeKind.FAULT, label=label, start=fault.start, end=fault.start + fault.duration)
