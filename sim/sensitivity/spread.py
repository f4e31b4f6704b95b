"""A latency distribution with its spread scaled and its centre kept: the tail as an assumption.

`k` < 1 narrows, `k` > 1 widens. Each family keeps what an engineer reads off a dashboard or a
fit: a lognormal its median (σ × k), a uniform its mean (half-width × k), a gamma its mean
(coefficient of variation × k), an exponential becomes the gamma of its mean with that
coefficient, a Weibull its mean (shape ÷ k, about the same change of spread), an empirical
sample its median (each value's distance from it × k), a mixture each component. A fixed
latency has no spread and stays as it is.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from sim.core.distributions import (
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Mixture,
    Uniform,
    Weibull,
)

MIN_SHAPE, MAX_SHAPE = 0.01, 10_000.0  # as the scenario loader allows (past these numpy's draws degenerate)


def spread(dist: Distribution, k: float) -> Distribution:
    match dist:
        case Fixed():
            return dist
        case LogNormal(median=median, p95=p95):
            return LogNormal(median, median * (p95 / median) ** k)
        case Uniform(low=low, high=high):
            mean, half = (low + high) / 2, (high - low) / 2 * k
            return Uniform(max(mean - half, 0.0), mean + half)
        case Gamma(shape=shape, scale=scale):
            return _gamma(shape * scale, 1 / math.sqrt(shape) * k)
        case Exponential(mean_s=mean):
            return _gamma(mean, k)
        case Weibull(shape=shape, scale=scale):
            mean = scale * math.gamma(1 + 1 / shape)
            new = _bounded_shape(shape / k)
            return Weibull(new, mean / math.gamma(1 + 1 / new))
        case Empirical(values=values):
            middle = statistics.median(values)
            return replace(dist, values=tuple(max(middle + k * (v - middle), 0.0) for v in values))
        case Mixture(components=components):
            return replace(dist, components=tuple(spread(c, k) for c in components))


def _gamma(mean: float, cv: float) -> Gamma:
    """The gamma with this mean and coefficient of variation (shape 1/cv², within the loader's limits)."""
    shape = _bounded_shape(1 / cv**2)
    return Gamma(shape, mean / shape)


def _bounded_shape(shape: float) -> float:
    return min(max(shape, MIN_SHAPE), MAX_SHAPE)
