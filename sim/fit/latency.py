"""Choose a distribution for observed seconds: candidates fitted by maximum likelihood
(scipy.stats), ranked by AIC, checked with a Kolmogorov–Smirnov test.

The choice is the lowest AIC among the candidates the KS test does not reject
(p ≥ 0.05); when it rejects them all, the observations themselves (empirical,
resampled). The KS p-values are computed with the parameters fitted from the
same data, which makes them conservative (Lilliefors): a candidate it rejects
surely does not fit; one it accepts may still be slightly off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from sim import distributions as d
from sim.scenario.load import MAX_SHAPE, MIN_SHAPE
from sim.scenario.reader import MAX_DURATION

ALPHA = 0.05  # the KS test's level
AIC_EVEN = 2.0  # AIC differences below this do not tell two candidates apart
MIN_SECONDS = 1e-3  # observations below it (a zero at the log's resolution) are raised to it, and counted
MAX_FIT_SAMPLES = 20_000  # parameters are fitted on at most this many (a seeded subsample); AIC and KS use all
MAX_MIXTURE_SAMPLES = 4000  # the mixture's optimiser is the slow one: every 2nd, 3rd … of the sorted sample
MIN_SAMPLES = 20  # fewer: no fit, only the observations
MIN_LOG_SIGMA = 0.01  # a mixture component narrower than 1 % would chase single values of a discrete log


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
    samples = np.asarray(observed, dtype=float)
    raised = int(np.sum(samples < MIN_SECONDS))
    samples = np.sort(np.maximum(samples, MIN_SECONDS))
    if len(samples) < MIN_SAMPLES or samples[0] == samples[-1]:  # too few, or one value (scipy's fits fail on it)
        return Fit(quantity=quantity, samples=samples, raised=raised, candidates=(), chosen=None)
    sample = _subsample(samples)
    fitted = [c for family in families if (c := _FITTERS[family](sample, samples)) is not None]
    fitted.sort(key=lambda c: c.aic)
    chosen = choose([c for c in fitted if c.passes])
    return Fit(quantity=quantity, samples=samples, raised=raised, candidates=tuple(fitted), chosen=chosen)


def choose(passing: list[Candidate]) -> Candidate | None:
    """The lowest AIC; but within 2 of it (no real support for the better one: Burnham and Anderson),
    the candidate with the fewest parameters: exponential gaps stay exponential, not a Weibull of shape 1.02."""
    if not passing:
        return None
    close = [c for c in passing if c.aic - passing[0].aic < AIC_EVEN]
    return min(close, key=lambda c: (len(c.parameters), c.aic))


def _subsample(samples: np.ndarray) -> np.ndarray:
    if len(samples) <= MAX_FIT_SAMPLES:
        return samples
    return np.random.default_rng(0).choice(samples, MAX_FIT_SAMPLES, replace=False)


def _scored(
    family: Family,
    parameters: dict[str, float],
    distribution: d.Distribution,
    k: int,
    samples: np.ndarray,
    logpdf: Callable[[np.ndarray], np.ndarray],
    cdf: Callable[[np.ndarray], np.ndarray],
    ppf: Callable[[np.ndarray], np.ndarray],
) -> Candidate | None:
    log_likelihood = float(np.sum(logpdf(samples)))
    if not math.isfinite(log_likelihood):
        return None
    ks = stats.kstest(samples, cdf)
    return Candidate(
        family=family,
        parameters=tuple(parameters.items()),
        log_likelihood=log_likelihood,
        aic=2 * k - 2 * log_likelihood,
        ks_statistic=float(ks.statistic),
        ks_p=float(ks.pvalue),
        distribution=distribution,
        cdf=cdf,
        ppf=ppf,
    )


def _exponential(sample: np.ndarray, samples: np.ndarray) -> Candidate | None:
    _, scale = stats.expon.fit(sample, floc=0)
    frozen = stats.expon(scale=scale)
    return _scored(
        Family.EXPONENTIAL, {"mean": scale}, d.Exponential(scale), 1, samples, frozen.logpdf, frozen.cdf, frozen.ppf
    )


def _lognormal(sample: np.ndarray, samples: np.ndarray) -> Candidate | None:
    sigma, _, median = stats.lognorm.fit(sample, floc=0)
    if not 0 < sigma <= math.log(1000) / d.Z95:  # the scenario file's limit: p95 at most 1000 × the median
        return None
    p95 = median * math.exp(d.Z95 * sigma)
    frozen = stats.lognorm(sigma, scale=median)
    dist = d.LogNormal(median, p95)
    return _scored(
        Family.LOGNORMAL, {"median": median, "p95": p95}, dist, 2, samples, frozen.logpdf, frozen.cdf, frozen.ppf
    )


def _gamma(sample: np.ndarray, samples: np.ndarray) -> Candidate | None:
    shape, _, scale = stats.gamma.fit(sample, floc=0)
    if not MIN_SHAPE <= shape <= MAX_SHAPE:
        return None
    frozen = stats.gamma(shape, scale=scale)
    dist = d.Gamma(shape, scale)
    return _scored(
        Family.GAMMA, {"shape": shape, "scale": scale}, dist, 2, samples, frozen.logpdf, frozen.cdf, frozen.ppf
    )


def _weibull(sample: np.ndarray, samples: np.ndarray) -> Candidate | None:
    shape, _, scale = stats.weibull_min.fit(sample, floc=0)
    if not MIN_SHAPE <= shape <= MAX_SHAPE:
        return None
    frozen = stats.weibull_min(shape, scale=scale)
    dist = d.Weibull(shape, scale)
    return _scored(
        Family.WEIBULL, {"shape": shape, "scale": scale}, dist, 2, samples, frozen.logpdf, frozen.cdf, frozen.ppf
    )


def _lognormal_mixture(sample: np.ndarray, samples: np.ndarray) -> Candidate | None:
    """Two lognormal components (a body and a tail): maximum likelihood on log seconds with
    scipy.optimize, started from the lower and upper parts of the data (scipy.stats has no mixture fit)."""
    logs = np.log(sample[:: max(1, len(sample) // MAX_MIXTURE_SAMPLES)])
    starts = [_start(logs, split) for split in (0.5, 0.9)]
    best = min(
        (optimize.minimize(_mixture_nll, s, args=(logs,), method="L-BFGS-B") for s in starts), key=lambda r: r.fun
    )
    w, mu1, s1, mu2, s2 = _unpack(best.x)
    if max(s1, s2) > math.log(1000) / d.Z95:
        return None

    def logpdf(x: np.ndarray) -> np.ndarray:
        return np.asarray(-_mixture_terms(best.x, np.log(x)) - np.log(x))

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
    return _scored(Family.LOGNORMAL_MIXTURE, parameters, dist, 5, samples, logpdf, cdf, ppf)


def _start(logs: np.ndarray, split: float) -> np.ndarray:
    cut = np.quantile(logs, split)
    low, high = logs[logs <= cut], logs[logs > cut]
    if len(high) < 2:
        high = logs
    return np.array(
        [
            special.logit(min(max(split, 0.05), 0.95)),
            low.mean(),
            math.log(max(low.std(), MIN_LOG_SIGMA)),
            high.mean(),
            math.log(max(high.std(), MIN_LOG_SIGMA)),
        ]
    )


def _unpack(theta: np.ndarray) -> tuple[float, float, float, float, float]:
    """(weight of the first component, μ1, σ1, μ2, σ2); σ kept above MIN_LOG_SIGMA."""
    w = float(special.expit(theta[0]))
    return w, float(theta[1]), MIN_LOG_SIGMA + math.exp(theta[2]), float(theta[3]), MIN_LOG_SIGMA + math.exp(theta[4])


def _mixture_terms(theta: np.ndarray, y: np.ndarray) -> np.ndarray:
    """−log density of each log-second under the normal mixture."""
    w, mu1, s1, mu2, s2 = _unpack(theta)
    parts = np.stack(
        [
            math.log(max(w, 1e-300)) + stats.norm.logpdf(y, mu1, s1),
            math.log(max(1 - w, 1e-300)) + stats.norm.logpdf(y, mu2, s2),
        ]
    )
    return np.asarray(-special.logsumexp(parts, axis=0))


def _mixture_nll(theta: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(_mixture_terms(theta, y)))


_FITTERS: dict[Family, Callable[[np.ndarray, np.ndarray], Candidate | None]] = {
    Family.EXPONENTIAL: _exponential,
    Family.LOGNORMAL: _lognormal,
    Family.GAMMA: _gamma,
    Family.WEIBULL: _weibull,
    Family.LOGNORMAL_MIXTURE: _lognormal_mixture,
}


CENSORED_FAMILIES = (Family.EXPONENTIAL, Family.LOGNORMAL, Family.GAMMA, Family.WEIBULL)
_CENSORED_DISTS = {
    Family.EXPONENTIAL: stats.expon,
    Family.LOGNORMAL: stats.lognorm,
    Family.GAMMA: stats.gamma,
    Family.WEIBULL: stats.weibull_min,
}


def fit_censored(quantity: str, events: np.ndarray, censored: np.ndarray) -> Fit:
    """Seconds of which some are only known to exceed a value (right-censored): each candidate fitted
    by maximum likelihood on `scipy.stats.CensoredData` (log-likelihood Σ log f(event) + Σ log S(censored)),
    ranked by AIC with the same parsimony rule. No KS test applies to censored data: each candidate's
    `ks_statistic` is its largest distance to the Kaplan–Meier estimate (`scipy.stats.ecdf`), and its
    `ks_p` is NaN. Fewer than MIN_SAMPLES events: the exponential alone (its MLE, events / exposure)."""
    events = np.sort(np.maximum(np.asarray(events, dtype=float), MIN_SECONDS))
    censored = np.maximum(np.asarray(censored, dtype=float), MIN_SECONDS)
    data = stats.CensoredData(uncensored=events, right=censored)
    spread = len(events) >= MIN_SAMPLES and events[0] < events[-1]  # scipy's shape fits need varied events
    families = CENSORED_FAMILIES if spread else (Family.EXPONENTIAL,)
    fitted = [c for f in families if (c := _censored_candidate(f, data, events, censored)) is not None]
    fitted.sort(key=lambda c: c.aic)
    return Fit(quantity=quantity, samples=events, raised=0, candidates=tuple(fitted), chosen=choose(fitted))


def _censored_candidate(
    family: Family, data: stats.CensoredData, events: np.ndarray, censored: np.ndarray
) -> Candidate | None:
    if family is Family.EXPONENTIAL:  # closed form, and defined with a single event
        exposure = float(events.sum() + censored.sum())
        if exposure <= 0:
            return None
        shape, scale = 1.0, min(exposure / max(len(events), 1), MAX_DURATION)  # no event: a lower bound
    else:
        try:
            shape, _, scale = _CENSORED_DISTS[family].fit(data, floc=0)
        except stats.FitError:  # the optimiser left the family's range: this family does not fit
            return None
    return censored_candidate(family, shape, scale, events, censored)


def frozen_of(family: Family, shape: float, scale: float) -> Any:
    """The scipy.stats distribution of a censored candidate (the exponential ignores `shape`)."""
    if family is Family.EXPONENTIAL:
        return stats.expon(scale=scale)
    return _CENSORED_DISTS[family](shape, scale=scale)


def censored_candidate(
    family: Family, shape: float, scale: float, events: np.ndarray, censored: np.ndarray
) -> Candidate | None:
    """The candidate of these parameters, scored on the events and the right-censored values
    (None: outside the scenario file's limits)."""
    frozen = frozen_of(family, shape, scale)
    dist: d.Distribution
    if family is Family.EXPONENTIAL:
        parameters, dist, k = {"mean": scale}, d.Exponential(float(scale)), 1
    elif family is Family.LOGNORMAL:
        if not MIN_LOG_SIGMA <= shape <= math.log(1000) / d.Z95:  # the file's p95 must show above its median
            return None
        median, p95 = float(scale), float(scale * math.exp(d.Z95 * shape))
        dist, parameters, k = d.LogNormal(median, p95), {"median": median, "p95": p95}, 2
    elif not MIN_SHAPE <= shape <= MAX_SHAPE:
        return None
    else:
        dist = d.Gamma(float(shape), float(scale)) if family is Family.GAMMA else d.Weibull(float(shape), float(scale))
        parameters, k = {"shape": shape, "scale": scale}, 2
    if not dist.mean() <= MAX_DURATION:  # mostly censored waits can push a fit past what a file may hold
        return None
    log_likelihood = float(np.sum(frozen.logpdf(events)) + np.sum(frozen.logsf(censored)))
    if not math.isfinite(log_likelihood):
        return None
    grid = np.unique(events)
    km = stats.ecdf(stats.CensoredData(uncensored=events, right=censored)).cdf
    distance = float(np.max(np.abs(km.evaluate(grid) - frozen.cdf(grid)))) if len(grid) else math.nan
    return Candidate(
        family=family,
        parameters=tuple((key, float(v)) for key, v in parameters.items()),
        log_likelihood=log_likelihood,
        aic=2 * k - 2 * log_likelihood,
        ks_statistic=distance,
        ks_p=math.nan,
        distribution=dist,
        cdf=frozen.cdf,
        ppf=frozen.ppf,
    )
