"""The system under test configured as a variant says: the one place config becomes `sim.sut` objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import assert_never

from sim.run.noise import CostlyHits
from sim.scenario.model import (
    Backoff,
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
    Variant,
)
from sim.sut import retry
from sim.sut.cache import OutageCache
from sim.sut.handler import HandlerOptions, MessageHandler
from sim.sut.lock import LockConfig, ThreadLock


def build_handler(
    variant: Variant, rand: Callable[[], float], namespace: str = "", *, hit_cost: Callable[[], float] | None = None
) -> MessageHandler:
    """The system under test configured as the variant says; `rand` feeds jitter and XFetch;
    `namespace` goes before every Redis key it uses (`sim live` gives each run its own);
    `hit_cost` (the simulated world's) draws what each cache hit costs beyond its round trip."""
    lock, cache = variant.lock, variant.cache
    policy = retry_policy(lock.backoff, rand)
    config = LockConfig(
        lock.ttl,
        lock.timeout,
        policy,
        lock.log_every,
        lock.fair,
        lock.watchdog,
        fencing=lock.fencing,
        wait_replicas=lock.wait_replicas,
        wait_timeout=lock.wait_timeout,
    )
    outage_cache = OutageCache(
        cache.ttl if cache.enabled else None,
        single_flight=cache.single_flight,
        xfetch_beta=cache.xfetch_beta,
        rand=rand,
        namespace=namespace,
    )
    if hit_cost is not None:
        outage_cache = CostlyHits(outage_cache, hit_cost)
    options = HandlerOptions(variant.handler.outage_notice_skips_llm, variant.handler.debounce)
    return MessageHandler(ThreadLock(config, namespace), outage_cache, options, namespace)


def retry_policy(backoff: Backoff, rand: retry.Rand) -> retry.RetryPolicy:
    """The lock's retry policy for a backoff setting; `rand` feeds the jitter."""
    match backoff:
        case FixedBackoff(delay):
            return retry.Fixed(delay)
        case ExponentialBackoff(base, factor, cap):
            return retry.Exponential(base, factor, cap)
        case FullJitterBackoff(base, factor, cap):
            return retry.FullJitter(retry.Exponential(base, factor, cap), rand)
        case EqualJitterBackoff(base, factor, cap):
            return retry.EqualJitter(retry.Exponential(base, factor, cap), rand)
        case DecorrelatedJitterBackoff(base, cap):
            return retry.DecorrelatedJitter(base, cap, rand)
    assert_never(backoff)
