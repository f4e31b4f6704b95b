"""The validated scenario: frozen dataclasses, every number in seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.distributions import CountDistribution, Distribution
from sim.errors import ScenarioError
from sim.metrics.thresholds import Threshold
from sim.sut import retry

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

    def first_delay(self) -> float:
        """The wait after the first failed attempt, before any jitter."""
        return self.delay if self.kind == "fixed" else self.base

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
    fair: bool = False  # FIFO lock: waiters queue in Redis and are handed the lock in order
    watchdog: bool = False  # extend the TTL every ttl/3 while the holder works


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool
    ttl: float
    single_flight: bool = False  # one CRM call per tax id fills the cache; others wait for it
    xfetch_beta: float = 0.0  # > 0: probabilistic early refresh (XFetch); 0: off


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    outage_notice_skips_llm: bool = False  # a customer inside an outage gets the notice, no LLM call
    debounce: float = 0.0  # seconds to wait for more messages of a burst and answer them in one LLM call


@dataclass(frozen=True, slots=True)
class Services:
    crm: Distribution
    llm: Distribution
    installation_points: CountDistribution
    crm_timeout: float | None = None  # a slower call is abandoned at this point: the message fails
    llm_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """One configuration to compare; everything a variant may override."""

    name: str
    lock: LockSettings
    cache: CacheSettings
    workers: int
    redis_rtt: float
    services: Services
    handler: HandlerSettings = HandlerSettings()

    def describe(self) -> str:
        cache = f"cache {self.cache.ttl:g} s" if self.cache.enabled else "no cache"
        options = {
            "FIFO lock": self.lock.fair,
            "TTL watchdog": self.lock.watchdog,
            "single-flight fill": self.cache.enabled and self.cache.single_flight,
            f"XFetch β={self.cache.xfetch_beta:g}": self.cache.enabled and self.cache.xfetch_beta > 0,
            f"debounce {self.handler.debounce:g} s": self.handler.debounce > 0,
            "outage notice without LLM": self.handler.outage_notice_skips_llm,
        }
        base = (
            f"lock wait {self.lock.timeout:g} s, {self.lock.backoff.describe()}, "
            f"TTL {self.lock.ttl:g} s; {cache}; {self.workers} workers"
        )
        return base + "".join(f"; {name}" for name, on in options.items() if on)


@dataclass(frozen=True, slots=True)
class ScriptedCustomer:
    name: str
    tax_id: str
    at: tuple[float, ...]  # seconds from the start at which each message arrives


@dataclass(frozen=True, slots=True)
class Surge:
    """A massive outage: for `duration` seconds bursts arrive `multiplier` times as fast,
    the extra customers all inside the outage region."""

    start: float
    duration: float
    multiplier: float


@dataclass(frozen=True, slots=True)
class Workload:
    customers_per_hour: float  # Poisson arrivals of bursts (the mean when hourly_rates is set)
    population: int  # distinct customers bursts are drawn from; 0 = every burst a new customer
    burst_size: CountDistribution
    burst_gap: Distribution  # seconds between messages inside a burst
    scripted: tuple[ScriptedCustomer, ...] = ()
    hourly_rates: tuple[float, ...] = ()  # 24 rates (bursts per hour) by hour of day; repeats daily
    surges: tuple[Surge, ...] = ()

    def rate_at(self, t: float) -> float:
        """Bursts per hour at simulated second t, before surges."""
        if self.hourly_rates:
            return self.hourly_rates[int(t // 3600) % 24]
        return self.customers_per_hour


FAULT_KINDS = ("redis_down", "redis_restart", "crm_errors", "stall")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # one of FAULT_KINDS
    start: float
    duration: float = 0.0  # redis_restart is instantaneous
    rate: float = 0.0  # crm_errors: share of CRM calls that fail inside the window
    extra: float = 0.0  # stall: seconds added to an LLM call that starts inside the window

    def active(self, t: float) -> bool:
        return self.start <= t < self.start + self.duration


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
    faults: tuple[Fault, ...] = ()
    warnings: tuple[str, ...] = ()  # accepted but senseless settings, one line each (the CLI prints them)

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        names = ", ".join(v.name for v in self.variants)
        raise ScenarioError(f"{self.path}: no variant {name!r} (variants: {names})")
