"""The validated scenario: frozen dataclasses, every number in seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.distributions import CountDistribution, Distribution
from sim.metrics.thresholds import Threshold
from sim.sut import retry


class ScenarioError(Exception):
    """Bad input in a scenario file or on the command line; the message is one line."""


BACKOFF_KINDS = ("fixed", "exponential", "full_jitter", "equal_jitter", "decorrelated_jitter")


@dataclass(frozen=True, slots=True)
class Backoff:
    kind: str  # one of BACKOFF_KINDS
    delay: float = 0.1  # fixed
    base: float = 0.1  # exponential and jitters
    factor: float = 2.0
    cap: float = 2.0

    def policy(self, rand: retry.Rand) -> retry.RetryPolicy:
        """The retry policy object of the system under test; `rand` feeds the jitter."""
        exponential = retry.Exponential(self.base, self.factor, self.cap)
        if self.kind == "fixed":
            return retry.Fixed(self.delay)
        if self.kind == "exponential":
            return exponential
        if self.kind == "full_jitter":
            return retry.FullJitter(exponential, rand)
        if self.kind == "equal_jitter":
            return retry.EqualJitter(exponential, rand)
        return retry.DecorrelatedJitter(self.base, self.cap, rand)

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed {self.delay * 1000:g} ms"
        return f"{self.kind.replace('_', ' ')} {self.base * 1000:g}→{self.cap * 1000:g} ms ×{self.factor:g}"


@dataclass(frozen=True, slots=True)
class LockSettings:
    ttl: float
    timeout: float
    backoff: Backoff
    log_every: int


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool
    ttl: float


@dataclass(frozen=True, slots=True)
class Services:
    crm: Distribution
    llm: Distribution
    installation_points: CountDistribution


@dataclass(frozen=True, slots=True)
class Variant:
    """One configuration to compare; everything a variant may override."""

    name: str
    lock: LockSettings
    cache: CacheSettings
    workers: int
    redis_rtt: float
    services: Services

    def describe(self) -> str:
        cache = f"cache {self.cache.ttl:g} s" if self.cache.enabled else "no cache"
        return (
            f"lock wait {self.lock.timeout:g} s, {self.lock.backoff.describe()}, "
            f"TTL {self.lock.ttl:g} s; {cache}; {self.workers} workers"
        )


@dataclass(frozen=True, slots=True)
class ScriptedCustomer:
    name: str
    tax_id: str
    at: tuple[float, ...]  # seconds from the start at which each message arrives


@dataclass(frozen=True, slots=True)
class Workload:
    customers_per_hour: float  # Poisson arrivals of bursts
    population: int  # distinct customers bursts are drawn from; 0 = every burst a new customer
    burst_size: CountDistribution
    burst_gap: Distribution  # seconds between messages inside a burst
    scripted: tuple[ScriptedCustomer, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    seed: int
    duration: float  # seconds during which bursts start; the run drains after it
    replications: int
    baseline: str
    workload: Workload
    variants: tuple[Variant, ...] = field(default=())
    thresholds: tuple[Threshold, ...] = ()

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        names = ", ".join(v.name for v in self.variants)
        raise ScenarioError(f"{self.path}: no variant {name!r} (variants: {names})")
