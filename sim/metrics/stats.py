"""Confidence intervals across replications (Student t), paired and unpaired; p-values and Holm.

A metric that does not apply to a run (a cache hit ratio with the cache off, a latency of
answered messages when none was answered) is NaN, never a number. Every function here
leaves such replications out: an estimate is over the replications where the metric
applies (`Estimate.n` says how many), and one over none is NaN with n = 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE  # the family-wise error rate Holm's procedure keeps
UNBOUNDED = (-math.inf, math.inf)
Values = Sequence[float] | np.ndarray  # one metric's value per replication


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean with its 95 % confidence interval; low == high == mean with one sample."""

    mean: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.n > 1 and (self.low > 0 or self.high < 0)

    @property
    def applies(self) -> bool:
        """False for a metric that did not apply to any replication (its mean is NaN)."""
        return not math.isnan(self.mean)


def mean_ci(values: Values, confidence: float = CONFIDENCE, bounds: tuple[float, float] = UNBOUNDED) -> Estimate:
    """Mean and t-interval of independent replications, NaN ones (not applicable) left out.

    `bounds` are the values the metric can take (0 to ∞ for counts and seconds, 0 to 1 for a
    share). The t-interval is cut at them: a p95 latency has no negative values, so a
    "−2 s" lower bound says nothing and reads as a bug. Cutting keeps the coverage: the true
    mean lies inside the bounds, so whenever the t-interval covers it, its intersection
    with the bounds covers it too — the intersection is a 95 % interval on the same
    replications, only never wider. Only levels are cut; a difference can be negative.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return Estimate(mean, mean, mean, n)
    half = _t(confidence, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    low, high = bounds
    return Estimate(mean, max(mean - half, low), min(mean + half, high), n)


def paired_difference(variant: Sequence[float], baseline: Sequence[float]) -> Estimate:
    """variant − baseline, replication by replication (common random numbers); never cut at bounds.

    Only the replications where the metric applies to both sides are paired.
    """
    return mean_ci(_differences(variant, baseline))


def paired_p_value(variant: Sequence[float], baseline: Sequence[float]) -> float:
    """The two-sided p-value of the paired t-test of "no difference" (NaN when nothing can be paired).

    The cases without spread are decided exactly: identical samples are no evidence of a
    difference (p = 1), a constant non-zero difference is a certain one (p = 0). With a
    single pair there is no spread to judge by: p = 1, as the interval of one pair never
    excludes zero.
    """
    d = _differences(variant, baseline)
    n = len(d)
    if n == 0:
        return math.nan
    if d.min() == d.max():  # not std() == 0: the std of [0.1] * 3 is 1.7e-17
        return 1.0 if d[0] == 0 or n < 2 else 0.0
    if n < 2:
        return 1.0
    t = float(d.mean()) / (float(d.std(ddof=1)) / math.sqrt(n))
    return _two_sided_p(t, n - 1)


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Which hypotheses Holm–Bonferroni rejects, keeping the family-wise error rate at `alpha`.

    Sort the m p-values ascending; reject the k-th smallest while p_(k) ≤ alpha / (m − k + 1)
    (k from 1), and stop at the first that is not. Uniformly more powerful than Bonferroni,
    no assumption on how the tests depend on each other (ours share replications).
    NaN p-values (nothing tested) are never rejected and are not part of the family.
    """
    return [p <= level for p, level in zip(p_values, holm_levels(p_values, alpha), strict=True)]


def holm_levels(p_values: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """The significance level at which Holm's procedure judged each hypothesis (NaN for a NaN p-value).

    The k-th smallest p-value is tested at alpha / (m − k + 1) while the tests reject; the first one
    that does not, and every larger one, at that first failing level. So a hypothesis is rejected
    exactly when its p-value is at most its level, and a t-interval at confidence 1 − level excludes
    0 exactly when Holm rejects: the interval a verdict shows is the one it was judged by.
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(tested)
    levels = [math.nan] * len(p_values)
    stopped: float | None = None
    for k, (p, i) in enumerate(tested):
        level = alpha / (m - k) if stopped is None else stopped
        if stopped is None and p > level:
            stopped = level
        levels[i] = level
    return levels


def _differences(variant: Sequence[float], baseline: Sequence[float]) -> np.ndarray:
    if len(variant) != len(baseline):
        raise ValueError("paired samples need the same number of replications")
    d: np.ndarray = np.asarray(variant, dtype=float) - np.asarray(baseline, dtype=float)
    applicable: np.ndarray = d[~np.isnan(d)]
    return applicable


def welch_difference(new: Sequence[float], old: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """new − old for two independent sets of replications (Welch's unequal-variance interval).

    With no spread on either side the interval is the exact difference of the two constant
    values: zero for identical samples (never a rounding residue of two means taken over
    different counts), and a certain change otherwise.
    """
    w = _welch(new, old)
    if w is None:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if w.se == 0:  # constant samples, a single replication on a side, or a spread too small for a float
        return Estimate(w.mean, w.mean, w.mean, w.n)
    half = _t(confidence, w.dof) * w.se
    return Estimate(w.mean, w.mean - half, w.mean + half, w.n)


def welch_p_value(new: Sequence[float], old: Sequence[float]) -> float:
    """The two-sided p-value of Welch's test of "no difference", consistent with `welch_difference`:
    NaN with nothing to compare; without a spread to judge by (constant samples, one replication on a
    side), 1 for no difference and 0 for any other, as that interval is the exact difference."""
    w = _welch(new, old)
    if w is None:
        return math.nan
    if w.se == 0:
        return 1.0 if w.mean == 0 else 0.0
    return _two_sided_p(w.mean / w.se, w.dof)


@dataclass(frozen=True, slots=True)
class _Welch:
    mean: float
    se: float  # 0: no spread to judge by
    dof: float
    n: int  # the smaller side's replications


def _welch(new: Sequence[float], old: Sequence[float]) -> _Welch | None:
    a, b = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    n = min(len(a), len(b))
    if n == 0:
        return None
    if a.min() == a.max() and b.min() == b.max():  # not var() == 0: the var of [0.1] * 3 is 3e-34
        return _Welch(float(a[0] - b[0]), 0.0, math.inf, n)
    mean = float(a.mean() - b.mean())
    va, vb = (a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)) if n >= 2 else (0.0, 0.0)
    se = math.sqrt(va + vb)
    if se == 0:
        return _Welch(mean, 0.0, math.inf, n)
    share_a, share_b = va / (va + vb), vb / (va + vb)  # Welch–Satterthwaite on shares: squares of tiny
    dof = 1.0 / (share_a**2 / (len(a) - 1) + share_b**2 / (len(b) - 1))  # variances would underflow to 0/0
    return _Welch(mean, se, dof, n)


def at_confidence(e: Estimate, confidence: float) -> Estimate:
    """A symmetric t-interval (a difference's: never cut at bounds) of `e` at another confidence level.

    The half-width is t(confidence, n − 1) · s / √n: rescaling it by the ratio of the two
    quantiles gives the interval the same replications would give at `confidence`.
    """
    if e.n < 2 or not e.applies or e.high == e.low:
        return e
    half = (e.high - e.low) / 2 * _t(confidence, e.n - 1) / _t(CONFIDENCE, e.n - 1)
    return Estimate(e.mean, e.mean - half, e.mean + half, e.n)


def t_quantile(confidence: float, dof: float) -> float:
    """The two-sided Student t quantile (cached)."""
    return _t(confidence, dof)


def _two_sided_p(t: float, dof: float) -> float:
    from scipy import stats  # see _t: not at import time

    return float(2 * stats.t.sf(abs(t), dof))


@functools.lru_cache(maxsize=1024)
def _t(confidence: float, dof: float) -> float:
    """The two-sided Student t quantile.

    scipy.stats is imported here, not at the top: it takes ~0.8 s, and `sim --help`
    (which reaches this module through the threshold parser) must not pay for it.
    Cached: a report asks for the same few degrees of freedom hundreds of times.
    """
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, dof))
