"""Which settings matter: the first objective's variance over the trials, split among the settings.

An additive model of the settings — each setting's values as groups (a choice's values; a
range's values in up to four bins of equal counts, fewer when the trials are too few for the
model to keep at most one parameter per two trials), one mean per group, added up — is fitted
by least squares to the trials' first objective. Its R² is the share of the variance the
settings explain one at a time; the rest is their interactions and noise. That R² is split
among the settings fairly, as Shapley values (the Lindeman–Merenda–Gold decomposition): each
setting gets its R² gain averaged over every order of adding the settings to the model. So the
shares are ≥ 0, add up exactly to the model's R² (never past 100 %), and a setting the search
varied together with another (TPE samples near the good region: the trials are no designed
experiment) shares the variance they explain jointly instead of both claiming it.

Exact over every subset of settings up to `EXACT_SETTINGS`; beyond, averaged over
`PERMUTATIONS` orders drawn from a fixed seed (so a study's report is the same on any machine).
Plain and model-free beyond the additive model: no surrogate to trust.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.metrics.tuning import TrialRecord
from sim.scenario.tune import Choice, Dimension

MIN_TRIALS = 4  # fewer distinct trials say nothing about variance
BINS = 4
EXACT_SETTINGS = 10  # 2^10 subsets at most; [tune]space allows 16
PERMUTATIONS = 200
SEED = 20251027


@dataclass(frozen=True, slots=True)
class Importance:
    """Each setting's share of the objective's variance, and the share the additive model leaves unexplained."""

    shares: dict[str, float]  # setting → Shapley share of R²; they add up to 1 − unexplained
    unexplained: float  # interactions between settings, and noise


def importance(space: Sequence[Dimension], trials: Sequence[TrialRecord]) -> Importance | None:
    """None with fewer than MIN_TRIALS distinct trials; all shares 0 when every trial cost the same."""
    distinct = [t for t in trials if t.repeat_of is None and all(math.isfinite(v) for v in t.values[:1])]
    if len(distinct) < MIN_TRIALS or not space:
        return None
    y = np.array([t.values[0] for t in distinct])
    if float(((y - y.mean()) ** 2).sum()) == 0:
        return Importance({d.key: 0.0 for d in space}, 1.0)
    # Few trials: fewer groups, so that the model has at most half as many parameters as trials (less overfitting)
    bins = max(2, min(BINS, int((len(distinct) / 2 - 1) / len(space)) + 1))
    columns = [_dummies(d, [t.point[d.key] for t in distinct], bins) for d in space]
    fit = _R2(y, columns)
    shares = _shapley(len(space), fit)
    explained = fit(frozenset(range(len(space))))
    return Importance({d.key: shares[i] for i, d in enumerate(space)}, max(0.0, 1.0 - explained))


def shares(space: Sequence[Dimension], trials: Sequence[TrialRecord]) -> dict[str, float]:
    """Each setting's Shapley share of R² (empty with too few trials): `importance(...).shares`."""
    found = importance(space, trials)
    return found.shares if found else {}


class _R2:
    """R² of the additive model on a subset of the settings, cached per subset.

    Each fit is solved from the normal equations of the whole design (X'X and X'y, computed once):
    a subset's least squares is a system of its own columns' rows of them, so a fit costs the same
    for 10 trials or 10,000 (2^10 subsets of 10 settings over 1,000 trials: a fraction of a second).
    """

    def __init__(self, y: np.ndarray, columns: list[np.ndarray]) -> None:
        centred = y - y.mean()
        design = np.hstack([np.ones((len(y), 1)), *columns])
        self._gram, self._moment = design.T @ design, design.T @ centred
        self._total = float(centred @ centred)
        starts = np.cumsum([1, *(c.shape[1] for c in columns)])
        self._columns = [list(range(start - c.shape[1], start)) for start, c in zip(starts[1:], columns, strict=True)]
        self._known: dict[frozenset[int], float] = {frozenset(): 0.0}

    def __call__(self, subset: frozenset[int]) -> float:
        if subset not in self._known:
            index = [0, *(k for i in sorted(subset) for k in self._columns[i])]
            gram, moment = self._gram[np.ix_(index, index)], self._moment[index]
            coefficients, *_ = np.linalg.lstsq(gram, moment, rcond=None)
            explained = float(coefficients @ moment)  # = ‖Xβ‖² for the least-squares β of centred y
            self._known[subset] = min(1.0, max(0.0, explained / self._total))
        return self._known[subset]


def _shapley(count: int, fit: _R2) -> list[float]:
    """Each setting's R² gain averaged over orders of adding them: every subset (exact), or sampled orders."""
    if count <= EXACT_SETTINGS:
        return [_exact(i, count, fit) for i in range(count)]
    rng = np.random.default_rng(SEED)
    gains = [0.0] * count
    for _ in range(PERMUTATIONS):
        added: frozenset[int] = frozenset()
        for i in (int(k) for k in rng.permutation(count)):
            gains[i] += fit(added | {i}) - fit(added)
            added |= {i}
    return [g / PERMUTATIONS for g in gains]


def _exact(i: int, count: int, fit: _R2) -> float:
    others = [k for k in range(count) if k != i]
    total = 0.0
    for size in range(count):
        weight = math.factorial(size) * math.factorial(count - size - 1) / math.factorial(count)
        for subset in itertools.combinations(others, size):
            before = frozenset(subset)
            total += weight * (fit(before | {i}) - fit(before))
    return total


def _dummies(d: Dimension, values: list[str], bins: int) -> np.ndarray:
    """One column per group but the first (the intercept stands for it): 1 where a trial is in that group."""
    groups = _groups(d, values, bins)
    out = np.zeros((len(values), max(len(groups) - 1, 0)))
    for k, members in enumerate(groups[1:]):
        out[members, k] = 1.0
    return out


def _groups(d: Dimension, values: list[str], bins: int) -> list[np.ndarray]:
    if isinstance(d, Choice) or len(set(values)) <= bins:
        return [np.array([i for i, v in enumerate(values) if v == u]) for u in sorted(set(values))]
    order = np.argsort([_number(v) for v in values], kind="stable")
    return list(np.array_split(order, bins))


def _number(text: str) -> float:
    from sim.core.durations import parse_duration

    seconds = parse_duration(text)
    return float(text) if seconds is None else seconds
