"""Weighted maximum likelihood for the candidate families, on every observation.

scipy.stats' `fit` takes no weights, and on two million observations its generic optimiser
is slow, so the fit used a 20,000-row subsample and then tested the parameters on every row:
at that size the test sees the subsample's error and rejects the family the data was drawn
from. These estimators use every observation, in one pass or a one-dimensional root:

- exponential: the weighted mean;
- lognormal: the weighted mean and variance of log x;
- gamma: the shape solves log a − ψ(a) = log x̄ − mean(log x) (Minka), the scale is x̄ / a;
- Weibull: the shape solves Σw·xᵏ·log x / Σw·xᵏ − 1/k = mean(log x), the scale follows;
- a two-lognormal mixture: EM on log x, binned into fine bins when there are many observations.

Weights (each observation's probability of belonging to the family) let a fit leave out
observations that belong to something else (`sim.fit.gaps`: gaps that join two bursts).
All return None when the data leave the family undetermined (no spread, a root outside its range).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

MIN_SHAPE_ROOT, MAX_SHAPE_ROOT = 1e-3, 1e4  # where the gamma and Weibull shape roots are looked for
BINS = 1 << 14  # log-seconds bins of a large sample (Weibull root, mixture EM), each at its members' mean
EXACT_UP_TO = BINS  # observations fitted one by one, without bins, up to as many as there are bins
MIXTURE_ROUNDS = 500
MIXTURE_TOLERANCE = 1e-9  # change of the mean log-likelihood per observation that ends the EM
MIN_LOG_SIGMA = 0.01  # a mixture component narrower than 1 % would chase single values of a discrete log


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b. Not np.dot: for vectors it calls the BLAS, whose threads spin against each other on a busy
    machine (10 µs became 2.5 ms, and the fit of two million rows several minutes); einsum never does."""
    return float(np.einsum("i,i->", a, b))


def _weights(x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return np.ones(len(x)) if w is None else np.asarray(w, dtype=float)


def exponential(x: np.ndarray, w: np.ndarray | None = None) -> float | None:
    """The mean (the exponential's scale)."""
    w = _weights(x, w)
    total = float(w.sum())
    return float(dot(w, x) / total) if total > 0 else None


def lognormal(x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float] | None:
    """(σ, median) of log x's weighted normal fit."""
    w = _weights(x, w)
    total = float(w.sum())
    if total <= 0:
        return None
    y = np.log(x)
    mu = float(dot(w, y) / total)
    sigma = math.sqrt(max(float(dot(w, (y - mu) ** 2) / total), 0.0))
    return (sigma, math.exp(mu)) if sigma > 0 else None


def gamma(x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float] | None:
    """(shape, scale)."""
    w = _weights(x, w)
    total = float(w.sum())
    if total <= 0:
        return None
    mean = float(dot(w, x) / total)
    s = math.log(mean) - float(dot(w, np.log(x)) / total)  # ≥ 0 (Jensen); 0 only without spread
    if not s > 1e-12:
        return None
    shape = _root(lambda a: math.log(a) - float(special.digamma(a)) - s)
    return None if shape is None else (shape, mean / shape)


def weibull(x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float] | None:
    """(shape, scale): the profile likelihood's root in the shape, on log x centred at its mean (no overflow)."""
    w = _weights(x, w)
    y, w = _binned(np.log(x[w > 0]), w[w > 0])  # the root is looked for on bins of a large sample
    total = float(w.sum())
    if total <= 0:
        return None
    centre = float(dot(w, y) / total)
    z = y - centre
    if not np.any(z != 0):
        return None

    def equation(k: float) -> float:
        t = k * z
        e = w * np.exp(t - t.max())
        return float(dot(e, z) / e.sum()) - 1.0 / k

    shape = _root(equation)
    if shape is None:
        return None
    t = shape * z
    top = t.max()
    log_mean = top + math.log(float(dot(w, np.exp(t - top))) / total)  # log of the weighted mean of e^(k·z)
    return shape, math.exp(centre + log_mean / shape)


def _root(equation: Callable[[float], float]) -> float | None:
    """The root of an equation decreasing in the shape, looked for from MIN_SHAPE_ROOT to MAX_SHAPE_ROOT."""
    try:
        low, high = equation(MIN_SHAPE_ROOT), equation(MAX_SHAPE_ROOT)
        if not (math.isfinite(low) and math.isfinite(high)) or low * high > 0:
            return None
        return float(optimize.brentq(equation, MIN_SHAPE_ROOT, MAX_SHAPE_ROOT, xtol=1e-12, rtol=1e-12))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


@dataclass(frozen=True, slots=True)
class Mixture:
    """Two normal components on log seconds: weight of the first, (μ, σ) of each."""

    weight: float
    mu1: float
    sigma1: float
    mu2: float
    sigma2: float


def lognormal_mixture(x: np.ndarray, start: Mixture, w: np.ndarray | None = None, rounds: int = 0) -> Mixture:
    """EM from `start` on log x (weighted); a large sample in BINS bins of log x. `rounds`: at most so many
    (an outer EM's warm-started step), else until it converges."""
    y, counts = _binned(np.log(x), _weights(x, w))
    m = start
    previous = -math.inf
    total = float(counts.sum())
    for _ in range(rounds or MIXTURE_ROUNDS):
        first = m.weight * _normal(y, m.mu1, m.sigma1)
        second = (1 - m.weight) * _normal(y, m.mu2, m.sigma2)
        density = np.maximum(first + second, 1e-300)
        likelihood = float(dot(counts, np.log(density))) / total
        r = counts * first / density
        m = _m_step(y, counts, r, total)
        if likelihood - previous < MIXTURE_TOLERANCE:
            break
        previous = likelihood
    return m


def _m_step(y: np.ndarray, counts: np.ndarray, r: np.ndarray, total: float) -> Mixture:
    s1, s2 = max(float(r.sum()), 1e-300), max(total - float(r.sum()), 1e-300)
    q = counts - r
    mu1, mu2 = float(dot(r, y) / s1), float(dot(q, y) / s2)
    sigma1 = max(math.sqrt(max(float(dot(r, (y - mu1) ** 2) / s1), 0.0)), MIN_LOG_SIGMA)
    sigma2 = max(math.sqrt(max(float(dot(q, (y - mu2) ** 2) / s2), 0.0)), MIN_LOG_SIGMA)
    return Mixture(min(max(s1 / total, 1e-9), 1 - 1e-9), mu1, sigma1, mu2, sigma2)


def _normal(y: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return np.asarray(np.exp(-0.5 * ((y - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi)))


def _binned(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A large sample as its bins' weighted means and weights; a small one as it is."""
    if len(y) <= EXACT_UP_TO or y.min() == y.max():
        return y, w
    index = np.minimum(((y - y.min()) / (y.max() - y.min()) * BINS).astype(np.int64), BINS - 1)
    weight = np.bincount(index, weights=w, minlength=BINS)
    where = np.bincount(index, weights=w * y, minlength=BINS)
    kept = weight > 0
    return where[kept] / weight[kept], weight[kept]
