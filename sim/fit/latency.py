"""Choose a distribution for observed seconds: candidates fitted by maximum likelihood on
every observation (`sim.fit.mle`), ranked by AIC, checked with a Kolmogorov–Smirnov test.

The choice is the lowest AIC among the candidates the KS test does not reject
(p ≥ 0.05); when it rejects them all, the observations themselves (empirical,
resampled). The KS p-values are computed with the parameters fitted from the
same data, which makes them conservative (Lilliefors): a candidate it rejects
surely does not fit; one it accepts may still be slightly off. Parameters and test
see the same observations: parameters from a subsample, tested on every row, were
rejected for the subsample's own error on large logs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import special, stats

from sim.core import distributions as d
from sim.core.durations import MAX_DURATION, MIN_DURATION
from sim.fit import mle
from sim.fit.mle import dot
from sim.scenario.limits import MAX_SHAPE, MIN_SHAPE

ALPHA = 0.05  # the KS test's level
AIC_EVEN = 2.0  # AIC differences below this do not tell two candidates apart
# Observations below the floor (a zero at the log's resolution) are raised to it, and counted. The floor
# is 1 ms, or the smallest positive observation when a log holds finer ones (a sub-millisecond Redis
# call), never below the 1 µs a scenario can hold.
MIN_SECONDS = 1e-3
MIN_SAMPLES = 20  # fewer: no fit, only the observations
MIN_LOG_SIGMA = mle.MIN_LOG_SIGMA


class Family(StrEnum):
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    GAMMA = "gamma"
    WEIBULL = "weibull"
    LOGNORMAL_MIXTURE = "lognormal mixture"
    EMPIRICAL = "empirical"


LATENCY_FAMILIES = (Family.LOGNORMAL, Family.GAMMA, Family.WEIBULL, Family.LOGNORMAL_MIXTURE)
GAP_FAMILIES = (Family.EXPONENTIAL, *LATENCY_FAMILIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    family: Family
    parameters: tuple[tuple[str, float], ...]  # as the scenario file gives them
    log_likelihood: float
    aic: float
    ks_statistic: float
    ks_p: float
    distribution: d.Distribution
    cdf: Callable[[np.ndarray], np.ndarray]
    ppf: Callable[[np.ndarray], np.ndarray]
    logpdf: Callable[[np.ndarray], np.ndarray]

    @property
    def passes(self) -> bool:
        return self.ks_p >= ALPHA


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    quantity: str  # "CRM latency"
    samples: np.ndarray  # the observations (seconds), raised to MIN_SECONDS where below
    raised: int  # observations that were below MIN_SECONDS
    candidates: tuple[Candidate, ...]  # by AIC, best first
    chosen: Candidate | None  # None: no candidate passed; the scenario resamples the observations

    @property
    def distribution(self) -> d.Distribution:
        if self.chosen is not None:
            return self.chosen.distribution
        return d.Empirical(tuple(float(v) for v in self.samples), self.quantity)

    @property
    def family(self) -> Family:
        return self.chosen.family if self.chosen else Family.EMPIRICAL


def fit(quantity: str, observed: np.ndarray, families: tuple[Family, ...] = LATENCY_FAMILIES) -> Fit:
    samples, raised = floored(observed)
    if len(samples) < MIN_SAMPLES or samples[0] == samples[-1]:  # too few, or one value (no family fits it)
        return Fit(quantity=quantity, samples=samples, raised=raised, candidates=(), chosen=None)
    fitted = [c for family in families if (c := candidate(family, samples)) is not None]
    fitted.sort(key=lambda c: c.aic)
    chosen = choose([c for c in fitted if c.passes])
    return Fit(quantity=quantity, samples=samples, raised=raised, candidates=tuple(fitted), chosen=chosen)


def floored(observed: np.ndarray) -> tuple[np.ndarray, int]:
    """The observations sorted, those below the floor raised to it (MIN_SECONDS, or the smallest positive
    observation when it is smaller, at least MIN_DURATION), and how many were raised."""
    samples = np.sort(np.asarray(observed, dtype=float))
    positive = samples[samples > 0]
    floor = max(min(MIN_SECONDS, float(positive[0])), MIN_DURATION) if len(positive) else MIN_SECONDS
    raised = int(np.searchsorted(samples, floor, side="left"))
    samples[:raised] = floor
    return samples, raised


def why_not_fitted(fitted: Fit) -> str:
    """Why a quantity with observations has no candidate (its scenario key resamples them)."""
    if fitted.candidates:
        return "no candidate passed the KS test"
    if len(fitted.samples) < MIN_SAMPLES:
        return f"too few observations to fit ({len(fitted.samples):,}, at least {MIN_SAMPLES})"
    return f"all {len(fitted.samples):,} observations are {fitted.samples[0]:.6g} s: no family has a single value"


def choose(passing: list[Candidate]) -> Candidate | None:
    """The lowest AIC; but within 2 of it (no real support for the better one: Burnham and Anderson),
    the candidate with the fewest parameters: exponential gaps stay exponential, not a Weibull of shape 1.02."""
    if not passing:
        return None
    close = [c for c in passing if c.aic - passing[0].aic < AIC_EVEN]
    return min(close, key=lambda c: (len(c.parameters), c.aic))


def candidate(family: Family, samples: np.ndarray, weights: np.ndarray | None = None) -> Candidate | None:
    """`family` fitted to `samples` (sorted; each with its weight, default 1) by maximum likelihood,
    scored on them all; None when the data leave it undetermined or outside the scenario file's limits."""
    if family is Family.LOGNORMAL_MIXTURE:
        return _lognormal_mixture(samples, weights)
    parameters = _parameters(family, samples, weights)
    if parameters is None:
        return None
    frozen, dist, shown = parameters
    return _scored(family, shown, dist, len(shown), samples, frozen.logpdf, frozen.cdf, frozen.ppf, weights)


def _parameters(
    family: Family, x: np.ndarray, w: np.ndarray | None
) -> tuple[Any, d.Distribution, dict[str, float]] | None:
    """The frozen scipy distribution, the scenario's distribution and the parameters shown, of the fit."""
    if family is Family.EXPONENTIAL:
        mean = mle.exponential(x, w)
        if mean is None or not 0 < mean <= MAX_DURATION:
            return None
        return stats.expon(scale=mean), d.Exponential(mean), {"mean": mean}
    if family is Family.LOGNORMAL:
        found = mle.lognormal(x, w)
        if found is None or not found[0] <= math.log(1000) / d.Z95:  # the file's limit: p95 ≤ 1000 × the median
            return None
        sigma, median = found
        p95 = median * math.exp(d.Z95 * sigma)
        return stats.lognorm(sigma, scale=median), d.LogNormal(median, p95), {"median": median, "p95": p95}
    shaped = mle.gamma(x, w) if family is Family.GAMMA else mle.weibull(x, w)
    if shaped is None or not MIN_SHAPE <= shaped[0] <= MAX_SHAPE:
        return None
    shape, scale = shaped
    if family is Family.GAMMA:
        return stats.gamma(shape, scale=scale), d.Gamma(shape, scale), {"shape": shape, "scale": scale}
    return stats.weibull_min(shape, scale=scale), d.Weibull(shape, scale), {"shape": shape, "scale": scale}


def _scored(
    family: Family,
    parameters: dict[str, float],
    distribution: d.Distribution,
    k: int,
    samples: np.ndarray,
    logpdf: Callable[[np.ndarray], np.ndarray],
    cdf: Callable[[np.ndarray], np.ndarray],
    ppf: Callable[[np.ndarray], np.ndarray],
    weights: np.ndarray | None = None,
) -> Candidate | None:
    terms = logpdf(samples)
    log_likelihood = float(np.sum(terms) if weights is None else dot(weights, terms))
    if not math.isfinite(log_likelihood):
        return None
    statistic, p = ks_test(samples, cdf) if weights is None else (math.nan, math.nan)
    return Candidate(
        family=family,
        parameters=tuple(parameters.items()),
        log_likelihood=log_likelihood,
        aic=2 * k - 2 * log_likelihood,
        ks_statistic=statistic,
        ks_p=p,
        distribution=distribution,
        cdf=cdf,
        ppf=ppf,
        logpdf=logpdf,
    )


def ks_test(sorted_samples: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
    """The one-sample Kolmogorov–Smirnov statistic and p-value of sorted samples against `cdf`
    (scipy.stats.ks_1samp, without sorting two million values again)."""
    result = stats.ks_1samp(sorted_samples, cdf, method="asymp" if len(sorted_samples) > 10_000 else "auto")
    return float(result.statistic), float(result.pvalue)


def _lognormal_mixture(samples: np.ndarray, weights: np.ndarray | None) -> Candidate | None:
    """Two lognormal components (a body and a tail): EM on log seconds (`mle.lognormal_mixture`), started
    from the lower and upper parts of the data (a median and a 90 % split); the better start wins."""
    logs = np.log(samples)
    fits = [mle.lognormal_mixture(samples, _start(logs, split), weights) for split in (0.5, 0.9)]
    return mixture_candidate(samples, max(fits, key=lambda m: _mixture_log_likelihood(m, logs, weights)), weights)


def mixture_candidate(samples: np.ndarray, best: mle.Mixture, weights: np.ndarray | None = None) -> Candidate | None:
    """The lognormal-mixture candidate of these components, scored on `samples`."""
    w, mu1, s1, mu2, s2 = best.weight, best.mu1, best.sigma1, best.mu2, best.sigma2
    if max(s1, s2) > math.log(1000) / d.Z95:
        return None

    def logpdf(x: np.ndarray) -> np.ndarray:
        y = np.log(x)
        return np.asarray(_mixture_log_density(best, y) - y)

    def cdf(x: np.ndarray) -> np.ndarray:
        y = np.log(np.asarray(x, dtype=float))
        return np.asarray(w * stats.norm.cdf(y, mu1, s1) + (1 - w) * stats.norm.cdf(y, mu2, s2))

    grid = np.exp(np.linspace(min(mu1 - 6 * s1, mu2 - 6 * s2), max(mu1 + 6 * s1, mu2 + 6 * s2), 4000))
    grid_cdf = cdf(grid)

    def ppf(p: np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(p, grid_cdf, grid))

    body = d.LogNormal(math.exp(mu1), math.exp(mu1 + d.Z95 * s1))
    tail = d.LogNormal(math.exp(mu2), math.exp(mu2 + d.Z95 * s2))
    parameters = {
        "weight 1": w,
        "median 1": body.median,
        "p95 1": body.p95,
        "weight 2": 1 - w,
        "median 2": tail.median,
        "p95 2": tail.p95,
    }
    dist = d.Mixture((w, 1 - w), (body, tail))
    return _scored(Family.LOGNORMAL_MIXTURE, parameters, dist, 5, samples, logpdf, cdf, ppf, weights)


def _start(logs: np.ndarray, split: float) -> mle.Mixture:
    cut = np.quantile(logs, split)
    low, high = logs[logs <= cut], logs[logs > cut]
    if len(high) < 2:
        high = logs
    return mle.Mixture(
        min(max(split, 0.05), 0.95),
        float(low.mean()),
        max(float(low.std()), MIN_LOG_SIGMA),
        float(high.mean()),
        max(float(high.std()), MIN_LOG_SIGMA),
    )


def _mixture_log_density(m: mle.Mixture, y: np.ndarray) -> np.ndarray:
    """log density of log seconds under the normal mixture."""
    parts = np.stack(
        [
            math.log(max(m.weight, 1e-300)) + stats.norm.logpdf(y, m.mu1, m.sigma1),
            math.log(max(1 - m.weight, 1e-300)) + stats.norm.logpdf(y, m.mu2, m.sigma2),
        ]
    )
    return np.asarray(special.logsumexp(parts, axis=0))


def _mixture_log_likelihood(m: mle.Mixture, y: np.ndarray, weights: np.ndarray | None) -> float:
    terms = _mixture_log_density(m, y)
    return float(np.sum(terms) if weights is None else dot(weights, terms))
