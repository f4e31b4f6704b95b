"""Which settings matter: a first-order variance decomposition of the first objective over the trials.

For each setting, the trials are grouped by its value (a choice's values; a range's
values in up to four bins of equal counts) and the share of the objective's variance
that the groups' means explain is reported (the correlation ratio η²). Each setting is
looked at alone, so the shares need not add up to 1; a setting that only matters
together with another shows low. Plain and model-free: no fitted surrogate to trust.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.metrics.tuning import TrialRecord
from sim.scenario.tune import Choice, Dimension

MIN_TRIALS = 4  # fewer distinct trials say nothing about variance
BINS = 4


def shares(space: Sequence[Dimension], trials: Sequence[TrialRecord]) -> dict[str, float]:
    distinct = [t for t in trials if t.repeat_of is None]
    if len(distinct) < MIN_TRIALS:
        return {}
    y = np.array([t.values[0] for t in distinct])
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return {d.key: 0.0 for d in space}
    return {d.key: _explained(d, distinct, y) / total for d in space}


def _explained(d: Dimension, trials: Sequence[TrialRecord], y: np.ndarray) -> float:
    groups = _groups(d, [t.point[d.key] for t in trials])
    return float(sum(len(g) * (y[g].mean() - y.mean()) ** 2 for g in groups if len(g)))


def _groups(d: Dimension, values: list[str]) -> list[np.ndarray]:
    if isinstance(d, Choice) or len(set(values)) <= BINS:
        return [np.array([i for i, v in enumerate(values) if v == u]) for u in sorted(set(values))]
    order = np.argsort([_number(v) for v in values], kind="stable")
    return list(np.array_split(order, BINS))


def _number(text: str) -> float:
    from sim.scenario.reader import parse_duration

    seconds = parse_duration(text)
    return float(text) if seconds is None else seconds
