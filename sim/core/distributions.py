"""Latency and count distributions, sampled in bulk from a numpy Generator.

Pure numpy, no SimPy: the scenario package builds these, the world samples them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Z95 = 1.6448536269514722  # standard normal 95th percentile


@dataclass(frozen=True, slots=True)
class Fixed:
    value: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=float)

    def mean(self) -> float:
        return self.value

    def to_table(self) -> dict[str, Any]:
        """The scenario-file table this was read from, in seconds (a sweep varies one key of it)."""
        return {"dist": "fixed", "value": self.value}


@dataclass(frozen=True, slots=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def to_table(self) -> dict[str, Any]:
        return {"dist": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Exponential:
    mean_s: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    def mean(self) -> float:
        return self.mean_s

    def to_table(self) -> dict[str, Any]:
        return {"dist": "exponential", "mean": self.mean_s}


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Given as engineers read it off dashboards: the median and the 95th percentile."""

    median: float
    p95: float

    @property
    def sigma(self) -> float:
        return math.log(self.p95 / self.median) / Z95

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median), self.sigma, n)

    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def to_table(self) -> dict[str, Any]:
        return {"dist": "lognormal", "median": self.median, "p95": self.p95}


@dataclass(frozen=True, slots=True)
class Gamma:
    """`shape` k and `scale` θ (seconds): mean kθ. A family `sim fit` may choose for a latency."""

    shape: float
    scale: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self.scale, n)

    def mean(self) -> float:
        return self.shape * self.scale

    def to_table(self) -> dict[str, Any]:
        return {"dist": "gamma", "shape": self.shape, "scale": self.scale}


@dataclass(frozen=True, slots=True)
class Weibull:
    """`shape` k and `scale` λ (seconds): mean λ·Γ(1 + 1/k). A family `sim fit` may choose for a latency."""

    shape: float
    scale: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, n)

    def mean(self) -> float:
        try:
            return self.scale * math.exp(math.lgamma(1 + 1 / self.shape))
        except OverflowError:  # a shape near 0: a mean past any float
            return math.inf

    def to_table(self) -> dict[str, Any]:
        return {"dist": "weibull", "shape": self.shape, "scale": self.scale}


@dataclass(frozen=True, slots=True)
class Empirical:
    """Observed seconds (e.g. from production logs), resampled with replacement."""

    values: tuple[float, ...]
    source: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size=n)

    def mean(self) -> float:
        return float(np.mean(self.values))

    def to_table(self) -> dict[str, Any]:
        """Refused: the file name is relative to a scenario file that a table on its own has lost."""
        raise ValueError(f"an empirical distribution (from {self.source or 'a file'}) has no parameters to vary")


@dataclass(frozen=True, slots=True)
class Mixture:
    """Each sample from one component, picked by weight: a body and a tail (2 % of calls take 30 s)."""

    weights: tuple[float, ...]
    components: tuple[Distribution, ...]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p = np.asarray(self.weights, dtype=float)
        which = rng.choice(len(self.components), size=n, p=p / p.sum())
        draws = np.stack([c.sample(rng, n) for c in self.components])
        return draws[which, np.arange(n)]

    def mean(self) -> float:
        p = np.asarray(self.weights, dtype=float)
        return float(sum(w * c.mean() for w, c in zip(p / p.sum(), self.components, strict=True)))

    def to_table(self) -> dict[str, Any]:
        parts = zip(self.weights, self.components, strict=True)
        return {"dist": "mixture", "components": [{"weight": w, **c.to_table()} for w, c in parts]}


Distribution = Fixed | Uniform | Exponential | LogNormal | Gamma | Weibull | Empirical | Mixture


@dataclass(frozen=True, slots=True)
class FixedCount:
    value: int

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=np.int64)

    def mean(self) -> float:
        """The expected count (the scenario's run-size limit counts messages with it)."""
        return float(self.value)


@dataclass(frozen=True, slots=True)
class UniformCount:
    """Whole numbers from low to high, both included."""

    low: int
    high: int

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.low, self.high + 1, n)

    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True, slots=True)
class GeometricCount:
    """1, 2, 3 … with the given mean (≥ 1): most bursts short, a few long."""

    mean_count: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.geometric(1.0 / self.mean_count, n).astype(np.int64)

    def mean(self) -> float:
        return self.mean_count


@dataclass(frozen=True, slots=True)
class ChoiceCount:
    values: tuple[int, ...]
    weights: tuple[float, ...]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p = np.asarray(self.weights, dtype=float)
        return rng.choice(np.asarray(self.values, dtype=np.int64), size=n, p=p / p.sum())

    def mean(self) -> float:
        total = sum(self.weights)
        return sum(v * w / total for v, w in zip(self.values, self.weights, strict=True))


CountDistribution = FixedCount | UniformCount | GeometricCount | ChoiceCount
