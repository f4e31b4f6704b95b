"""The validated scenario: frozen dataclasses, every number in seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from sim.code.loader import HandlerSpec
from sim.core.distributions import CountDistribution, Distribution
from sim.core.errors import ScenarioError
from sim.metrics.meaningful import Margin
from sim.metrics.precision import DEFAULT_MAXIMUM, Target
from sim.metrics.thresholds import Threshold

if TYPE_CHECKING:
    from sim.scenario.tune import TuneSettings

MIN_BACKOFF = 0.001  # a retry sooner than a millisecond is a busy loop, not a policy
MAX_REPLICAS = 8  # replicas of one Redis primary: Sentinel setups run one or two, managed services up to five
# A setting that results.json leaves out at its default: a scenario that does not use it records what it always did.
OMIT_IF_DEFAULT = {"omit_if_default": True}


def _check(ok: bool, message: str) -> None:
    """A config built in code is checked as the loader checks a file (the loader's messages name the key)."""
    if not ok:
        raise ScenarioError(message)


def _is_duration(seconds: float) -> bool:
    """Zero or more seconds, finite."""
    return math.isfinite(seconds) and seconds >= 0


def _is_positive(seconds: float) -> bool:
    return math.isfinite(seconds) and seconds > 0


@dataclass(frozen=True, slots=True)
class FixedBackoff:
    """The same wait after every failed attempt."""

    kind: ClassVar[str] = "fixed"
    delay: float

    def __post_init__(self) -> None:
        _check(_is_positive(self.delay), f"fixed backoff: delay must be above zero, got {self.delay!r}")

    def first_delay(self) -> float:
        """The wait after the first failed attempt, before any jitter."""
        return self.delay

    def scaled(self, f: float) -> FixedBackoff:
        """Every wait × f (`sim live` plays a scenario second in f wall seconds)."""
        return FixedBackoff(self.delay * f)

    def describe(self) -> str:
        return f"fixed {self.delay * 1000:g} ms"


@dataclass(frozen=True, slots=True)
class GrowingBackoff:
    """Waits growing from `base` by `factor` per attempt up to `cap`; the subclasses jitter them or not."""

    kind: ClassVar[str]
    base: float
    factor: float
    cap: float

    def __post_init__(self) -> None:
        _check_range(self.kind, self.base, self.cap)
        _check(
            math.isfinite(self.factor) and self.factor >= 1.0,
            f"{self.kind} backoff: factor must be at least 1, got {self.factor!r}",
        )

    def first_delay(self) -> float:
        return self.base

    def scaled(self, f: float) -> Self:
        return type(self)(self.base * f, self.factor, self.cap * f)

    def describe(self) -> str:
        return f"{self.kind.replace('_', ' ')} {self.base * 1000:g}→{self.cap * 1000:g} ms ×{self.factor:g}"


@dataclass(frozen=True, slots=True)
class ExponentialBackoff(GrowingBackoff):
    kind: ClassVar[str] = "exponential"


@dataclass(frozen=True, slots=True)
class FullJitterBackoff(GrowingBackoff):
    """A uniform wait between zero and the exponential one."""

    kind: ClassVar[str] = "full_jitter"


@dataclass(frozen=True, slots=True)
class EqualJitterBackoff(GrowingBackoff):
    """Half the exponential wait, plus a uniform share of the other half."""

    kind: ClassVar[str] = "equal_jitter"


@dataclass(frozen=True, slots=True)
class DecorrelatedJitterBackoff:
    """Each wait drawn between `base` and three times the previous one, capped; it has no factor."""

    kind: ClassVar[str] = "decorrelated_jitter"
    base: float
    cap: float

    def __post_init__(self) -> None:
        _check_range(self.kind, self.base, self.cap)

    def first_delay(self) -> float:
        return self.base

    def scaled(self, f: float) -> DecorrelatedJitterBackoff:
        return DecorrelatedJitterBackoff(self.base * f, self.cap * f)

    def describe(self) -> str:
        return f"decorrelated jitter {self.base * 1000:g}→{self.cap * 1000:g} ms"


def _check_range(kind: str, base: float, cap: float) -> None:
    _check(_is_positive(base), f"{kind} backoff: base must be above zero, got {base!r}")
    _check(math.isfinite(cap) and cap >= base, f"{kind} backoff: cap must be at least base ({base!r}), got {cap!r}")


Backoff = FixedBackoff | ExponentialBackoff | FullJitterBackoff | EqualJitterBackoff | DecorrelatedJitterBackoff
BACKOFF_KINDS: dict[str, type[Backoff]] = {
    kind.kind: kind
    for kind in (FixedBackoff, ExponentialBackoff, FullJitterBackoff, EqualJitterBackoff, DecorrelatedJitterBackoff)
}


@dataclass(frozen=True, slots=True)
class LockSettings:
    ttl: float
    timeout: float
    backoff: Backoff
    log_every: int
    fair: bool = False  # FIFO lock: waiters queue in Redis and are handed the lock in order
    watchdog: bool = False  # extend the TTL every ttl/3 while the holder works
    # Each grant carries a token that only grows (an epoch and a counter); the conversation store refuses older ones.
    fencing: bool = field(default=False, metadata=OMIT_IF_DEFAULT)
    # After acquiring: Redis `WAIT wait_replicas wait_timeout`; fewer acknowledgements and the lock is let go again.
    wait_replicas: int = field(default=0, metadata=OMIT_IF_DEFAULT)
    wait_timeout: float = field(default=1.0, metadata=OMIT_IF_DEFAULT)

    def __post_init__(self) -> None:
        _check(
            0 <= self.wait_replicas <= MAX_REPLICAS,
            f"[lock]wait_replicas must be from 0 to {MAX_REPLICAS}, got {self.wait_replicas!r}",
        )
        _check(_is_positive(self.wait_timeout), f"[lock]wait_timeout must be above zero, got {self.wait_timeout!r}")
        _check(
            not (self.fair and (self.fencing or self.wait_replicas)),
            "[lock]fencing and wait_replicas work with the polling lock only (fair = false)",
        )


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool
    ttl: float
    single_flight: bool = False  # one CRM call per tax id fills the cache; others wait for it
    xfetch_beta: float = 0.0  # > 0: probabilistic early refresh (XFetch); 0: off
    # What a hit costs on top of its Redis round trip (reading and decoding the entry on the seed's
    # network: 50–100 ms); None: nothing. The world's, not the team's: every variant should share it.
    hit_cost: Distribution | None = None


class WorkerModel(StrEnum):
    """What a message holds while it waits (for the lock, Redis, the CRM, the LLM)."""

    POOL = "pool"  # one of `count` workers, from its start to its reply: a thread or job-queue worker
    ASYNC = "async"  # nothing: an event loop (the seed's Node.js bot) starts every message at once


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """How exactly the system under test's own sleeps end (lock retries, debounce, watchdog, fill polls)."""

    jitter: float = 0.0  # each sleep ends uniformly within ± this of its due time (never before it starts)

    def __post_init__(self) -> None:
        _check(_is_duration(self.jitter), f"[timers]jitter must be zero or more seconds, got {self.jitter!r}")


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


MAX_HANDLING = 3600.0  # a [code] handler still running this long after it started is a runaway (the default)


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeSettings:
    """A team's own handler (`[code]`): its code, the settings it is given as `ctx.settings`, and how long
    one message's handling may take before the run calls it a runaway."""

    handler: HandlerSpec
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    max_handling: float = MAX_HANDLING

    def __post_init__(self) -> None:
        _check(_is_positive(self.max_handling), f"[code]max_handling must be above zero, got {self.max_handling!r}")

    def describe(self) -> str:
        shown = ", ".join(f"{key} = {value!r}" for key, value in self.settings.items())
        return f"handler {self.handler.text}" + (f" with {shown}" if shown else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Replicas:
    """`[redis]replicas`: asynchronous replicas of the variant's Redis (`sim.world.replication`)."""

    count: int
    lag: Distribution  # how long after the primary executed a write a replica applies it (in the primary's order)

    def __post_init__(self) -> None:
        _check(
            1 <= self.count <= MAX_REPLICAS,
            f"[redis]replicas must be from 0 to {MAX_REPLICAS}, got {self.count!r}",
        )


@dataclass(frozen=True, slots=True)
class Variant:
    """One configuration to compare; everything a variant may override."""

    name: str
    lock: LockSettings
    cache: CacheSettings
    workers: int  # the pool's size; the async model has no limit and does not read it
    redis_rtt: float | Distribution  # every command's round trip: one constant, or drawn per command
    services: Services
    handler: HandlerSettings = HandlerSettings()
    worker_model: WorkerModel = WorkerModel.POOL
    timers: TimerSettings = TimerSettings()
    code: CodeSettings | None = field(default=None, metadata={"omit_if_none": True})  # None: the built-in bot
    replicas: Replicas | None = field(default=None, metadata={"omit_if_none": True})  # None: a lone primary

    def __post_init__(self) -> None:
        _check(
            self.lock.wait_replicas <= self.replica_count,
            f"variant {self.name!r}: [lock]wait_replicas = {self.lock.wait_replicas} but [redis]replicas = "
            f"{self.replica_count}: WAIT could never be answered",
        )

    @property
    def replica_count(self) -> int:
        return self.replicas.count if self.replicas is not None else 0

    def describe(self) -> str:
        if self.code is not None:
            return f"{self.code.describe()}; {self.workers_words()}"
        cache = f"cache {self.cache.ttl:g} s" if self.cache.enabled else "no cache"
        n, k = self.replica_count, self.lock.wait_replicas
        options = {
            f"{n} Redis replica{'s' if n != 1 else ''}": n > 0,
            "fencing tokens": self.lock.fencing,
            f"WAIT {k} replica{'s' if k != 1 else ''} ({self.lock.wait_timeout * 1000:g} ms)": k > 0,
            "FIFO lock": self.lock.fair,
            "TTL watchdog": self.lock.watchdog,
            "single-flight fill": self.cache.enabled and self.cache.single_flight,
            f"XFetch β={self.cache.xfetch_beta:g}": self.cache.enabled and self.cache.xfetch_beta > 0,
            f"debounce {self.handler.debounce:g} s": self.handler.debounce > 0,
            "outage notice without LLM": self.handler.outage_notice_skips_llm,
        }
        base = (
            f"lock wait {self.lock.timeout:g} s, {self.lock.backoff.describe()}, "
            f"TTL {self.lock.ttl:g} s; {cache}; {self.workers_words()}"
        )
        return base + "".join(f"; {name}" for name, on in options.items() if on)

    def workers_words(self) -> str:
        if self.worker_model is WorkerModel.ASYNC:
            return "async workers (a waiting message holds none; no limit)"
        return f"{self.workers} workers"


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


MAX_RETRIES = 100  # nudges or re-sends of one intent


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversations:
    """Customers who wait for answers (closed loop), beside the open-loop bursts.

    A session opens at Poisson instants; its customer has `messages` intents and sends them one at a
    time, each after the previous one's reply and a `think` time. No reply within `impatience`: the
    customer gives up with probability `give_up` (leaves; its messages still waiting for a worker are
    dropped, the rest of its intents never sent), else nudges ("?") while it has nudges left for
    that intent (`max_nudges`), else waits without a timer. A busy apology makes it re-send the intent
    with probability `resend`, after `resend_delay` (at most `max_resends` times per intent).
    """

    sessions_per_hour: float  # the daily mean when the workload has hourly rates (the sessions follow their shape)
    messages: CountDistribution  # intents per session
    think: Distribution  # after a reply, before the next intent
    impatience: Distribution  # no reply within it: give up, nudge, or wait on
    max_nudges: int  # per intent
    give_up: float  # probability at each impatience expiry
    resend: float  # probability of re-sending an intent after a busy apology
    resend_delay: Distribution
    max_resends: int  # per intent
    hourly_rates: tuple[float, ...] = ()  # 24 session rates by hour of day (their mean: sessions_per_hour)

    def __post_init__(self) -> None:
        _check(
            math.isfinite(self.sessions_per_hour) and self.sessions_per_hour >= 0,
            f"conversations: sessions_per_hour must be zero or more, got {self.sessions_per_hour!r}",
        )
        for name in ("give_up", "resend"):
            p = getattr(self, name)
            _check(0.0 <= p <= 1.0, f"conversations: {name} must be a probability from 0 to 1, got {p!r}")
        for name in ("max_nudges", "max_resends"):
            n = getattr(self, name)
            _check(0 <= n <= MAX_RETRIES, f"conversations: {name} must be from 0 to {MAX_RETRIES}, got {n!r}")

    def messages_per_session(self) -> float:
        """At most this many messages per session on average: every intent with every nudge and re-send."""
        return self.messages.mean() * (1 + self.max_nudges + self.max_resends)


@dataclass(frozen=True, slots=True, eq=False)
class Trace:
    """Recorded messages replayed as they arrived (`[workload]trace`); each session of the log is a burst.

    Compared by identity: its columns are numpy arrays (a day of a busy desk is ~100 k messages).
    """

    file: str  # as the scenario names it
    start: float  # the window's start, seconds since the epoch: the run's second 0
    window: float  # seconds from the window's start to its end: the scenario's duration
    at: np.ndarray  # every message's seconds from the window's start, session by session (sessions by start)
    sizes: np.ndarray  # messages per session
    customers: np.ndarray  # str, per session
    tax_ids: np.ndarray  # str, per session (a session's first message's)
    session_gap: float  # the silence that ended a session
    scale: float = 1.0  # whole copies of the trace, plus a thinned one for the fraction (sim.run.trace)
    shift: float = 900.0  # a copy moves each session by up to ± this
    bad_rows: int = 0  # rows of the file not used
    first_bad: str = ""  # the first of them, `file:line: reason`

    @property
    def messages(self) -> int:
        return len(self.at)

    @property
    def sessions(self) -> int:
        return len(self.sizes)


@dataclass(frozen=True, slots=True)
class Workload:
    customers_per_hour: float  # Poisson arrivals of bursts (the mean when hourly_rates is set)
    population: int  # distinct customers bursts are drawn from; 0 = every burst a new customer
    burst_size: CountDistribution
    burst_gap: Distribution  # seconds between messages inside a burst
    scripted: tuple[ScriptedCustomer, ...] = ()
    hourly_rates: tuple[float, ...] = ()  # 24 rates (bursts per hour) by hour of day; repeats daily
    surges: tuple[Surge, ...] = ()
    conversations: Conversations | None = None  # customers who wait for answers; None: none
    # Recorded arrivals in place of the generated ones; omitted from results.json's setup when absent.
    trace: Trace | None = field(default=None, metadata={"omit_if_none": True})

    def rate_at(self, t: float) -> float:
        """Bursts per hour at simulated second t, before surges."""
        if self.hourly_rates:
            return self.hourly_rates[int(t // 3600) % 24]
        return self.customers_per_hour

    def session_rate_at(self, t: float) -> float:
        """Conversations opened per hour at simulated second t: their own daily curve if they have one,
        else `sessions_per_hour` shaped by the bursts' hourly rates when those are set (their mean maps
        to `sessions_per_hour`)."""
        c = self.conversations
        if c is None:
            return 0.0
        if c.hourly_rates:
            return c.hourly_rates[int(t // 3600) % 24]
        if self.hourly_rates and self.customers_per_hour > 0:
            return c.sessions_per_hour * self.rate_at(t) / self.customers_per_hour
        return c.sessions_per_hour


@dataclass(frozen=True, slots=True)
class _Window:
    """A fault active from `start` for `duration` seconds."""

    kind: ClassVar[str]
    start: float
    duration: float

    def __post_init__(self) -> None:
        _check(_is_duration(self.start), f"{self.kind} fault: start must be zero or more, got {self.start!r}")
        _check(
            _is_positive(self.duration),
            f"{self.kind} fault: duration must be above zero, got {self.duration!r}",
        )

    def active(self, t: float) -> bool:
        return self.start <= t < self.start + self.duration


@dataclass(frozen=True, slots=True)
class RedisDown(_Window):
    """Every Redis command is refused inside the window; blocked clients are cut off."""

    kind: ClassVar[str] = "redis_down"


@dataclass(frozen=True, slots=True)
class RedisRestart:
    """Redis restarts at `start` without persistence: every key and script is gone."""

    kind: ClassVar[str] = "redis_restart"
    start: float

    def __post_init__(self) -> None:
        _check(_is_duration(self.start), f"{self.kind} fault: start must be zero or more, got {self.start!r}")


@dataclass(frozen=True, slots=True)
class CrmErrors(_Window):
    """This share of the CRM calls made inside the window fail."""

    kind: ClassVar[str] = "crm_errors"
    rate: float

    def __post_init__(self) -> None:
        _Window.__post_init__(self)
        _check(0.0 <= self.rate <= 1.0, f"{self.kind} fault: rate must be from 0 to 1, got {self.rate!r}")


@dataclass(frozen=True, slots=True)
class Stall(_Window):
    """An LLM call starting inside the window takes `extra` seconds longer: a worker stuck past the lock TTL."""

    kind: ClassVar[str] = "stall"
    extra: float

    def __post_init__(self) -> None:
        _Window.__post_init__(self)
        _check(
            _is_positive(self.extra),
            f"{self.kind} fault: extra must be above zero, got {self.extra!r}",
        )


@dataclass(frozen=True, slots=True)
class Failover:
    """The Redis primary dies at `start` (every command fails, as for `redis_down`); `detection` seconds later the
    most up-to-date replica is promoted, and the writes it had not received are gone (`sim.world.replication`)."""

    kind: ClassVar[str] = "failover"
    start: float
    detection: float

    def __post_init__(self) -> None:
        _check(_is_duration(self.start), f"{self.kind} fault: start must be zero or more, got {self.start!r}")
        _check(_is_positive(self.detection), f"{self.kind} fault: detection must be above zero, got {self.detection!r}")

    @property
    def duration(self) -> float:
        """From the primary's death to the promotion: Redis is unreachable meanwhile."""
        return self.detection

    def active(self, t: float) -> bool:
        return self.start <= t < self.start + self.detection


Fault = RedisDown | RedisRestart | CrmErrors | Stall | Failover
FAULT_KINDS: dict[str, type[Fault]] = {
    kind.kind: kind for kind in (RedisDown, RedisRestart, CrmErrors, Stall, Failover)
}


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
    tune: TuneSettings | None = None  # [tune]: what `sim tune` searches; None without the section
    precision: tuple[Target, ...] = ()  # `sim compare` replicates until these are met (sim.metrics.precision)
    max_replications: int = DEFAULT_MAXIMUM  # that stopping rule's maximum
    meaningful: tuple[Margin, ...] = ()  # minimal meaningful effects set by the file; the rest: defaults

    def measures_lock_safety(self) -> bool:
        """Whether its runs measure lock safety (`LOCK_SAFETY_METRICS`): a failover, replicas, fencing or WAIT."""
        return Scenario.studies_lock_safety(self.faults, self.variants)

    @staticmethod
    def studies_lock_safety(faults: tuple[Fault, ...], variants: tuple[Variant, ...]) -> bool:
        return any(isinstance(f, Failover) for f in faults) or any(
            v.replicas is not None or v.lock.fencing or v.lock.wait_replicas for v in variants
        )

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        names = ", ".join(v.name for v in self.variants)
        raise ScenarioError(f"{self.path}: no variant {name!r} (variants: {names})")
