"""The censored candidates' log density, log CDF and log survival function, written out with
scipy.special, and maximum likelihood on binned, right-censored, weighted observations.

The patience of customers who wait is fitted from waits most of which are right-censored, and
refitted in every round of an EM (`sim.fit.conversations`). scipy.stats' frozen distributions
and its `fit` on `CensoredData` cost milliseconds of overhead per call and a pass over every
wait per evaluation: on two million rows the EM took hours. Here a family's functions are a
few array operations, and the waits are fine bins of log seconds (`Binned`), so an evaluation
costs the same whatever the log's size.

Parameters: (shape, scale) as `sim.fit.latency.frozen_of` reads them — the lognormal's σ and
median, the gamma's and the Weibull's shape and scale, the exponential's scale (its shape is 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from sim.core import distributions as d
from sim.core.durations import MAX_DURATION
from sim.fit import mle
from sim.fit.latency import MIN_LOG_SIGMA, MIN_SAMPLES, MIN_SECONDS, Candidate, Family, Fit, choose
from sim.fit.mle import dot
from sim.scenario.limits import MAX_SHAPE, MIN_SHAPE

LOG_2PI = math.log(2 * math.pi)
TINY = 1e-300  # a probability that underflowed: log(TINY) ≈ −690 stands for −∞ without NaNs
BINS = 1 << 10  # bins of log seconds for the censored fits, each at its members' mean (width ~range/1,024)


@dataclass(frozen=True, slots=True)
class Binned:
    """Observations as bins: each bin's mean value, and each observation's bin (to sum weights per round)."""

    values: np.ndarray
    index: np.ndarray

    def sums(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Per bin: the number of its observations, or the sum of their `weights`."""
        return np.bincount(self.index, weights=weights, minlength=len(self.values)).astype(float)


def binned(x: np.ndarray, bins: int = BINS) -> Binned:
    """`x` (positive seconds) in `bins` bins of log seconds; as they are when there are few."""
    x = np.asarray(x, dtype=float)
    if len(x) <= bins or x.min() == x.max():
        return Binned(values=x.copy(), index=np.arange(len(x)))
    y = np.log(x)
    index = np.minimum(((y - y.min()) / (y.max() - y.min()) * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=x, minlength=bins)
    kept = np.flatnonzero(counts)
    renumber = np.full(bins, -1)
    renumber[kept] = np.arange(len(kept))
    return Binned(values=sums[kept] / counts[kept], index=renumber[index])


def log_pdf(family: Family, shape: float, scale: float, x: np.ndarray) -> np.ndarray:
    match family:
        case Family.LOGNORMAL:
            z = (np.log(x) - math.log(scale)) / shape
            return np.asarray(-np.log(x) - math.log(shape) - 0.5 * LOG_2PI - 0.5 * z * z)
        case Family.GAMMA:
            y = x / scale
            return np.asarray((shape - 1) * np.log(y) - y - special.gammaln(shape) - math.log(scale))
        case _:
            k = 1.0 if family is Family.EXPONENTIAL else shape
            ratio = x / scale
            return np.asarray(math.log(k / scale) + (k - 1) * np.log(ratio) - ratio**k)


def cdf(family: Family, shape: float, scale: float, x: np.ndarray) -> np.ndarray:
    match family:
        case Family.LOGNORMAL:
            return np.asarray(special.ndtr((np.log(x) - math.log(scale)) / shape))
        case Family.GAMMA:
            return np.asarray(special.gammainc(shape, x / scale))
        case _:
            k = 1.0 if family is Family.EXPONENTIAL else shape
            return np.asarray(-np.expm1(-((x / scale) ** k)))


def log_cdf(family: Family, shape: float, scale: float, x: np.ndarray) -> np.ndarray:
    match family:
        case Family.LOGNORMAL:
            return np.asarray(special.log_ndtr((np.log(x) - math.log(scale)) / shape))
        case Family.GAMMA:
            return np.asarray(np.log(np.maximum(special.gammainc(shape, x / scale), TINY)))
        case _:
            k = 1.0 if family is Family.EXPONENTIAL else shape
            return np.asarray(np.log(np.maximum(-np.expm1(-((x / scale) ** k)), TINY)))


def log_sf(family: Family, shape: float, scale: float, x: np.ndarray) -> np.ndarray:
    match family:
        case Family.LOGNORMAL:
            return np.asarray(special.log_ndtr(-(np.log(x) - math.log(scale)) / shape))
        case Family.GAMMA:
            return np.asarray(np.log(np.maximum(special.gammaincc(shape, x / scale), TINY)))
        case _:
            k = 1.0 if family is Family.EXPONENTIAL else shape
            return np.asarray(-((x / scale) ** k))


def censored_mle(
    family: Family, events: Binned, event_counts: np.ndarray, censored: Binned, censored_counts: np.ndarray
) -> tuple[float, float] | None:
    """(shape, scale) maximising Σ log f(event) + Σ log S(censored), each bin weighted by its count;
    None when the optimiser finds no finite optimum."""
    start = _start(family, events, event_counts, censored, censored_counts)
    if start is None:
        return None

    def negative(log_params: np.ndarray) -> float:
        shape, scale = np.exp(np.clip(log_params, -30, 30))
        value = float(
            dot(event_counts, log_pdf(family, shape, scale, events.values))
            + dot(censored_counts, log_sf(family, shape, scale, censored.values))
        )
        return -value if math.isfinite(value) else 1e300

    if family is Family.EXPONENTIAL:  # closed form: events over exposure
        exposure = float(dot(event_counts, events.values) + dot(censored_counts, censored.values))
        return (1.0, exposure / max(float(event_counts.sum()), 1.0)) if exposure > 0 else None
    result = optimize.minimize(negative, np.log(start), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
    if not (result.fun < 1e300 and np.all(np.isfinite(result.x))):
        return None
    shape, scale = (float(v) for v in np.exp(result.x))
    return shape, scale


def _start(
    family: Family, events: Binned, event_counts: np.ndarray, censored: Binned, censored_counts: np.ndarray
) -> tuple[float, float] | None:
    """The family fitted to every value as if none were censored: a start the optimiser refines."""
    x = np.concatenate([events.values, censored.values])
    w = np.concatenate([event_counts, censored_counts])
    keep = w > 0
    x, w = x[keep], w[keep]
    if len(x) == 0:
        return None
    if family is Family.EXPONENTIAL:
        mean = mle.exponential(x, w)
        return None if mean is None else (1.0, mean)
    if family is Family.LOGNORMAL:
        found = mle.lognormal(x, w)
        return None if found is None else found
    return mle.gamma(x, w) if family is Family.GAMMA else mle.weibull(x, w)


CENSORED_FAMILIES = (Family.EXPONENTIAL, Family.LOGNORMAL, Family.GAMMA, Family.WEIBULL)
_DISTS = {Family.LOGNORMAL: stats.lognorm, Family.GAMMA: stats.gamma, Family.WEIBULL: stats.weibull_min}


@dataclass(frozen=True, slots=True)
class Censored:
    """Right-censored seconds, sorted and binned once, with the Kaplan–Meier estimate each candidate is compared to."""

    events: np.ndarray  # sorted
    censored: np.ndarray
    event_bins: Binned
    censored_bins: Binned
    grid: np.ndarray  # the distinct events
    km: np.ndarray  # the Kaplan–Meier CDF at them

    @classmethod
    def of(cls, events: np.ndarray, censored: np.ndarray) -> Censored:
        events = np.sort(np.maximum(np.asarray(events, dtype=float), MIN_SECONDS))
        censored = np.maximum(np.asarray(censored, dtype=float), MIN_SECONDS)
        grid = np.unique(events)
        km = stats.ecdf(stats.CensoredData(uncensored=events, right=censored)).cdf.evaluate(grid) if len(grid) else grid
        return cls(events, censored, binned(events), binned(censored), grid, np.asarray(km))


def fit_censored(quantity: str, events: np.ndarray, censored: np.ndarray) -> Fit:
    """Seconds of which some are only known to exceed a value (right-censored): each candidate fitted
    by maximum likelihood (log-likelihood Σ log f(event) + Σ log S(censored), `censored_mle`), ranked by
    AIC with the same parsimony rule. No KS test applies to censored data: each candidate's `ks_statistic`
    is its largest distance to the Kaplan–Meier estimate (`scipy.stats.ecdf`), and its `ks_p` is NaN.
    Fewer than MIN_SAMPLES events: the exponential alone (its MLE, events / exposure)."""
    return fit_censored_data(quantity, Censored.of(events, censored))


def fit_censored_data(quantity: str, data: Censored) -> Fit:
    """`fit_censored` of data already sorted and binned."""
    spread = len(data.events) >= MIN_SAMPLES and data.events[0] < data.events[-1]  # a shape needs varied events
    families = CENSORED_FAMILIES if spread else (Family.EXPONENTIAL,)
    counts = (data.event_bins.sums(), data.censored_bins.sums())
    fitted = []
    for family in families:
        found = censored_mle(family, data.event_bins, counts[0], data.censored_bins, counts[1])
        if found is not None and (c := censored_candidate(family, *found, data)) is not None:
            fitted.append(c)
    fitted.sort(key=lambda c: c.aic)
    return Fit(quantity=quantity, samples=data.events, raised=0, candidates=tuple(fitted), chosen=choose(fitted))


def frozen_of(family: Family, shape: float, scale: float) -> Any:
    """The scipy.stats distribution of a censored candidate (the exponential ignores `shape`)."""
    if family is Family.EXPONENTIAL:
        return stats.expon(scale=scale)
    return _DISTS[family](shape, scale=scale)


def censored_candidate(family: Family, shape: float, scale: float, data: Censored) -> Candidate | None:
    """The candidate of these parameters, scored on the events and the right-censored values
    (None: outside the scenario file's limits)."""
    dist: d.Distribution
    if family is Family.EXPONENTIAL:
        scale = min(scale, MAX_DURATION)  # no event: events / exposure is only a lower bound
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
    log_likelihood = float(
        np.sum(log_pdf(family, shape, scale, data.events)) + np.sum(log_sf(family, shape, scale, data.censored))
    )
    if not math.isfinite(log_likelihood):
        return None
    frozen = frozen_of(family, shape, scale)
    distance = float(np.max(np.abs(data.km - frozen.cdf(data.grid)))) if len(data.grid) else math.nan
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
        logpdf=frozen.logpdf,
    )
