"""Timing noise: the small, random differences that real clocks and networks add to every wait.

With every wait exact, two waits that are due 1 ms apart always end in that order; a real
bot's timers and round trips wander by milliseconds, so such knife-edge orders are a coin
toss. Each source draws from its own stream (`Streams.rtt`, `.timers`, `.hits`), so turning
one on shifts no other draw, and a run with none of them on is the run it always was.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.core.distributions import Distribution, Uniform
from sim.sut.cache import Crm, Lookup, OutageCache
from sim.sut.effects import Sleep, Step
from sim.sut.outcomes import Source

CHUNK = 1024  # values drawn at once: a numpy call per value would cost more than the value is worth


class Draws:
    """Values of `dist` one at a time (sampled `CHUNK` at a time from `rng`), with the extremes drawn so far."""

    __slots__ = ("_at", "_chunk", "dist", "high", "low", "rng")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self.dist, self.rng = dist, rng
        self._chunk: list[float] = []
        self._at = 0
        self.low, self.high = np.inf, 0.0  # the smallest and largest value handed out (none yet: inf, 0)

    def __call__(self) -> float:
        if self._at == len(self._chunk):
            self._chunk, self._at = self.dist.sample(self.rng, CHUNK).tolist(), 0
        value = self._chunk[self._at]
        self._at += 1
        self.low, self.high = min(self.low, value), max(self.high, value)
        return value

    def spread(self) -> float:
        """Largest minus smallest value drawn; 0 before any."""
        return self.high - self.low if self.high >= self.low else 0.0


class TimerJitter:
    """A timer of `seconds` ends uniformly within ± `spread` of its due time, never before it was set."""

    __slots__ = ("_offsets", "spread")

    def __init__(self, spread: float, rng: np.random.Generator) -> None:
        self.spread = spread
        self._offsets = Draws(Uniform(-spread, spread), rng)

    def __call__(self, seconds: float) -> float:
        return max(0.0, seconds + self._offsets())


class CostlyHits(OutageCache):
    """The cache as the world serves it: an outage check answered from the cache takes `cost()` more
    seconds after its Redis reply (reading and decoding the entry; the seed measured 50–100 ms)."""

    def __init__(self, cache: OutageCache, cost: Callable[[], float]) -> None:
        super().__init__(
            cache.ttl,
            cache.prefix,
            single_flight=cache.single_flight,
            xfetch_beta=cache.xfetch_beta,
            rand=cache.rand,
            namespace=cache.namespace,
        )
        self.cost = cost

    def lookup(self, tax_id: str, crm: Crm, token: str = "") -> Step[Lookup]:
        found = yield from super().lookup(tax_id, crm, token)
        if found.source is Source.HIT:
            yield Sleep(self.cost(), timer=False)
        return found
