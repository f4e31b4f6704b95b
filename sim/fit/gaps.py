"""Gaps inside sessions when customers come back: some gaps join two bursts of one customer.

A session ends after `session_gap` of silence, so when a customer's next burst starts less than
that after its last message the log shows one session with a long gap inside. Those gaps are
not the burst's gap distribution: counted as such they lengthen the gaps' mean (and make the
exponential fail its test), merge two bursts into one larger one and leave fewer bursts, so a
larger population. So each gap is a mixture, fitted by EM:

- with probability 1 − π, a gap within a burst: the candidate family f_θ;
- with probability π, a join: the time from a customer's last message to its next burst, which
  (its bursts arriving at random, as the simulator's customers drawn from a population do) is
  exponential with a rate r, cut at the session gap G: r·e^(−r·g) / (1 − e^(−r·G)) on [0, G]
  (uniform when r is 0).

E-step: each gap's probability w of being a join. M-step: π = mean(w); r the truncated
exponential's weighted maximum likelihood; θ the family's, each gap weighted 1 − w (`sim.fit.mle`).
A large sample runs the EM on fine bins of log seconds (each at its members' mean). Each family is
then scored on every gap as the whole mixture: its log-likelihood for AIC, and the KS test of the
gaps against (1 − π)·F_θ + π·H. Where nobody comes back the joins' share goes to 0 and this is the
plain fit.

The joins' probabilities then split sessions into expected bursts (`bursts`): the burst sizes,
their count (so the population) and their starts (so the arrival rates).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from sim.core import distributions as d
from sim.fit import mle
from sim.fit.latency import (
    MIN_SAMPLES,
    Candidate,
    Family,
    Fit,
    candidate,
    choose,
    floored,
    ks_test,
    mixture_candidate,
)
from sim.fit.mle import dot
from sim.fit.survival import binned

EM_ROUNDS = 200
EM_TOLERANCE = 1e-9  # change of the mean log-likelihood per gap that ends the EM
START_SHARE = 0.05  # π's starting value
MIXTURE_STEP = 5  # rounds of the lognormal mixture's EM per round of the joins' EM
MIN_SHARE = 1e-9  # π below this is no join at all
# The joins are kept only when they raise the log-likelihood by this much over the plain fit (twice the
# gain above χ²'s 99th percentile for their two parameters): noise in the gaps' tail is not a customer
# coming back, and a fraction of a join would make every customer look like a repeat.
JOINS_EVIDENCE = 9.21


@dataclass(frozen=True, slots=True, kw_only=True)
class GapFit:
    fit: Fit  # the gaps within bursts: each candidate scored as the mixture with the joins
    joins: np.ndarray  # per gap, in the order given: the probability that it joins two bursts
    share: float  # π of the chosen family (0 when nothing was fitted)
    rate: float  # r, per second, of the chosen family (0: uniform over the session gap)


@dataclass(frozen=True, slots=True)
class _Joins:
    share: float
    rate: float

    def density(self, g: np.ndarray, cut: float) -> np.ndarray:
        if self.rate <= 0:
            return np.full(len(g), 1.0 / cut)
        return np.asarray(self.rate * np.exp(-self.rate * g) / -math.expm1(-self.rate * cut))

    def cdf(self, g: np.ndarray, cut: float) -> np.ndarray:
        g = np.clip(g, 0.0, cut)
        if self.rate <= 0:
            return np.asarray(g / cut)
        return np.asarray(np.expm1(-self.rate * g) / math.expm1(-self.rate * cut))


def fit_gaps(quantity: str, gaps: np.ndarray, session_gap: float, families: tuple[Family, ...]) -> GapFit:
    """The within-burst gap distribution among `families`, with the joins' share and rate (module docstring)."""
    samples, raised = floored(gaps)
    order = np.argsort(np.asarray(gaps, dtype=float), kind="stable")
    none = np.zeros(len(samples))
    if len(samples) < MIN_SAMPLES or samples[0] == samples[-1]:
        return GapFit(fit=Fit(quantity=quantity, samples=samples, raised=raised, candidates=(), chosen=None),
                      joins=none, share=0.0, rate=0.0)  # fmt: skip
    bins = binned(samples, mle.BINS)  # the EM runs on bins of a large sample, each at its members' mean
    x, counts, bin_of = bins.values, bins.sums(), bins.index
    fitted: list[tuple[Candidate, _Joins, np.ndarray]] = []
    for family in families:
        found = _em(family, x, counts, session_gap)
        if found is None:
            continue
        joins, theta_weights = found
        scored = _scored(family, samples, joins, session_gap, theta_weights[bin_of])
        if scored is not None:
            fitted.append(scored)
    fitted.sort(key=lambda f: f[0].aic)
    chosen = choose([c for c, _, _ in fitted if c.passes])
    fit = Fit(quantity=quantity, samples=samples, raised=raised, candidates=tuple(c for c, _, _ in fitted),
              chosen=chosen)  # fmt: skip
    if chosen is None:
        return GapFit(fit=fit, joins=none, share=0.0, rate=0.0)
    _, joins, w = next(f for f in fitted if f[0] is chosen)
    in_order = np.empty(len(w))
    in_order[order] = w  # back from sorted to the order given
    return GapFit(fit=fit, joins=in_order, share=joins.share, rate=joins.rate)


def _em(family: Family, x: np.ndarray, counts: np.ndarray, cut: float) -> tuple[_Joins, np.ndarray] | None:
    """EM for one family on binned gaps: the joins' share and rate, and each bin's join probability."""
    within = candidate(family, x, counts)
    if within is None:
        return None
    mixture = _components(within)
    joins = _Joins(START_SHARE, 0.0)
    previous = -math.inf
    total = float(counts.sum())
    for _ in range(EM_ROUNDS):
        inside = (1 - joins.share) * _pdf(within, x)
        joined = joins.share * joins.density(x, cut)
        density = np.maximum(inside + joined, 1e-300)
        likelihood = float(dot(counts, np.log(density))) / total
        w = joined / density
        share = float(dot(counts, w)) / total
        joins = _Joins(share if share > MIN_SHARE else 0.0, _rate(x, counts * w, cut))
        if mixture is None:
            refit = candidate(family, x, counts * (1 - w))
        else:  # a few warm-started rounds of the mixture's own EM: each outer round still gains
            mixture = mle.lognormal_mixture(x, mixture, counts * (1 - w), rounds=MIXTURE_STEP)
            refit = mixture_candidate(x, mixture, counts * (1 - w))
        if refit is None:
            return None
        within = refit
        if likelihood - previous < EM_TOLERANCE:
            break
        previous = likelihood
    inside = (1 - joins.share) * _pdf(within, x)
    joined = joins.share * joins.density(x, cut)
    with_joins = float(dot(counts, np.log(np.maximum(inside + joined, 1e-300))))
    plain = candidate(family, x, counts)
    if plain is not None and 2 * (with_joins - plain.log_likelihood) < JOINS_EVIDENCE:
        return _Joins(0.0, 0.0), np.zeros(len(x))  # no evidence that anybody came back: the plain fit
    return joins, joined / np.maximum(inside + joined, 1e-300)


def _components(c: Candidate) -> mle.Mixture | None:
    """A lognormal mixture candidate's components (to warm-start its EM); None for another family."""
    if c.family is not Family.LOGNORMAL_MIXTURE:
        return None
    p = dict(c.parameters)
    sigma = [math.log(p[f"p95 {k}"] / p[f"median {k}"]) / d.Z95 for k in (1, 2)]
    return mle.Mixture(p["weight 1"], math.log(p["median 1"]), sigma[0], math.log(p["median 2"]), sigma[1])


def _pdf(c: Candidate, x: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(c.logpdf(x)))


def _rate(x: np.ndarray, weights: np.ndarray, cut: float) -> float:
    """The truncated exponential's maximum-likelihood rate on [0, cut]: its mean 1/r − cut/(e^(r·cut) − 1)
    equals the weighted mean gap; 0 (uniform) when that mean is cut/2 or more."""
    total = float(weights.sum())
    if total <= 1e-9:
        return 0.0
    mean = float(dot(weights, x)) / total
    if mean >= cut / 2:
        return 0.0

    def excess(r: float) -> float:
        tail = cut / math.expm1(r * cut) if r * cut < 700 else 0.0  # e^(r·cut) past float range: 0
        return 1 / r - tail - mean

    high = 1.0 / max(mean, 1e-12)  # the mean 1/r − … is below 1/r: the root lies below 1/mean
    low = 1e-9 / cut
    if excess(low) * excess(high) > 0:
        return 0.0
    return float(optimize.brentq(excess, low, high, xtol=1e-15, rtol=1e-12))


def _scored(
    family: Family, samples: np.ndarray, joins: _Joins, cut: float, within: np.ndarray
) -> tuple[Candidate, _Joins, np.ndarray] | None:
    """The family refitted on every gap weighted by its probability of being within a burst, scored as
    the whole mixture on every gap."""
    fitted = candidate(family, samples, 1 - within)
    if fitted is None:
        return None
    inside = (1 - joins.share) * _pdf(fitted, samples)
    joined = joins.share * joins.density(samples, cut)
    log_likelihood = float(np.sum(np.log(np.maximum(inside + joined, 1e-300))))
    if not math.isfinite(log_likelihood):
        return None
    k = len(fitted.parameters) + (2 if joins.share > 0 else 0)

    def cdf(g: np.ndarray) -> np.ndarray:
        return np.asarray((1 - joins.share) * fitted.cdf(g) + joins.share * joins.cdf(np.asarray(g, float), cut))

    grid = np.unique(np.quantile(samples, np.linspace(0, 1, 4001)))
    grid_cdf = cdf(grid)

    def ppf(p: np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(p, grid_cdf, grid))

    statistic, p = ks_test(samples, cdf)
    shown = (*fitted.parameters, ("joins", joins.share)) if joins.share > 0 else fitted.parameters
    scored = dataclasses.replace(
        fitted,
        parameters=shown,
        log_likelihood=log_likelihood,
        aic=2 * k - 2 * log_likelihood,
        ks_statistic=statistic,
        ks_p=p,
        cdf=cdf,
        ppf=ppf,
    )
    return scored, joins, joined / np.maximum(inside + joined, 1e-300)
