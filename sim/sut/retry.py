"""Retry policies for the lock: how long to wait before attempt n + 1.

`delay(attempt)` gets the number of the attempt that just failed (1-based) and
returns seconds. Jittered policies take `rand`, a callable returning a uniform
float in [0, 1), so the caller owns the random stream (determinism) and the
policy owns only the formula. Formulas follow Marc Brooker, "Exponential
Backoff and Jitter" (AWS Architecture Blog, 2015).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

Rand = Callable[[], float]


class RetryPolicy(Protocol):
    def delay(self, attempt: int) -> float: ...


@dataclass(frozen=True, slots=True)
class Fixed:
    """The team's *before* (docs/system.md): the same wait after every failed attempt."""

    seconds: float

    def delay(self, attempt: int) -> float:
        return self.seconds


@dataclass(frozen=True, slots=True)
class Exponential:
    """The team's *after* (docs/system.md): min(base * factor**(attempt-1), cap)."""

    base: float
    factor: float
    cap: float

    def delay(self, attempt: int) -> float:
        # Past ~64 doublings the power overflows float range; the cap is reached long before.
        exponent = min(attempt - 1, 64)
        return min(self.base * self.factor**exponent, self.cap)


@dataclass(frozen=True, slots=True)
class FullJitter:
    """uniform(0, exponential delay): spreads waiters, can retry almost at once."""

    backoff: Exponential
    rand: Rand = field(compare=False)

    def delay(self, attempt: int) -> float:
        return self.rand() * self.backoff.delay(attempt)


@dataclass(frozen=True, slots=True)
class EqualJitter:
    """Half the exponential delay fixed, half random: never retries too soon."""

    backoff: Exponential
    rand: Rand = field(compare=False)

    def delay(self, attempt: int) -> float:
        half = self.backoff.delay(attempt) / 2
        return half + self.rand() * half


@dataclass(slots=True)
class DecorrelatedJitter:
    """min(cap, uniform(base, previous * 3)): each wait grows from the last one.

    Stateful by nature (it remembers the previous wait), so one instance serves
    one acquire call; `fresh()` gives a new one.
    """

    base: float
    cap: float
    rand: Rand = field(compare=False)
    previous: float = 0.0

    def delay(self, attempt: int) -> float:
        if attempt == 1:
            self.previous = self.base
        upper = self.previous * 3
        self.previous = min(self.cap, self.base + self.rand() * (upper - self.base))
        return self.previous

    def fresh(self) -> DecorrelatedJitter:
        return DecorrelatedJitter(self.base, self.cap, self.rand)
