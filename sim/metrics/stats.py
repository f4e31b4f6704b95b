"""Confidence intervals across replications (Student t), paired and unpaired."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean with its 95 % confidence interval; low == high == mean with one sample."""

    mean: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.n > 1 and (self.low > 0 or self.high < 0)


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Mean and t-interval of independent replications."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return Estimate(mean, mean, mean, n)
    half = _t(confidence, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def paired_difference(variant: Sequence[float], baseline: Sequence[float]) -> Estimate:
    """variant − baseline, replication by replication (common random numbers)."""
    if len(variant) != len(baseline):
        raise ValueError("paired samples need the same number of replications")
    return mean_ci(np.asarray(variant, dtype=float) - np.asarray(baseline, dtype=float))


def welch_difference(new: Sequence[float], old: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """new − old for two independent sets of replications (Welch's unequal-variance interval).

    With no spread on either side the interval is the exact difference of the two constant
    values: zero for identical samples (never a rounding residue of two means taken over
    different counts), and a certain change otherwise.
    """
    a, b = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    n = min(len(a), len(b))
    if n and a.min() == a.max() and b.min() == b.max():  # not var() == 0: the var of [0.1] * 3 is 3e-34
        exact = float(a[0] - b[0])
        return Estimate(exact, exact, exact, n)
    mean = float(a.mean() - b.mean())
    va, vb = (a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)) if n >= 2 else (0.0, 0.0)
    se = math.sqrt(va + vb)
    if se == 0:  # a single replication on a side, or a spread too small for a float
        return Estimate(mean, mean, mean, n)
    share_a, share_b = va / (va + vb), vb / (va + vb)  # Welch–Satterthwaite on shares: squares of tiny
    dof = 1.0 / (share_a**2 / (len(a) - 1) + share_b**2 / (len(b) - 1))  # variances would underflow to 0/0
    half = _t(confidence, dof) * se
    return Estimate(mean, mean - half, mean + half, min(len(a), len(b)))


@functools.lru_cache(maxsize=1024)
def _t(confidence: float, dof: float) -> float:
    """The two-sided Student t quantile.

    scipy.stats is imported here, not at the top: it takes ~0.8 s, and `sim --help`
    (which reaches this module through the threshold parser) must not pay for it.
    Cached: a report asks for the same few degrees of freedom hundreds of times.
    """
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, dof))
