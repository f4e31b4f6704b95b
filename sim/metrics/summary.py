"""Per-variant metrics of one run, computed from the flat records."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from sim.metrics.records import MessageRecord, Outcome, Source


class Unit(StrEnum):
    """What a metric's number counts; reports format it by this."""

    SECONDS = "seconds"
    RATIO = "ratio"  # a share, 0 to 1
    COUNT = "count"  # per run; a mean over replications may have a fraction

    @property
    def bounds(self) -> tuple[float, float]:
        """The values a metric of this unit can take: its intervals are cut at them (`stats.mean_ci`)."""
        return (0.0, 1.0) if self is Unit.RATIO else (0.0, math.inf)


@dataclass(frozen=True, slots=True)
class Metric:
    """A per-run metric. Its value is NaN where it does not apply (no number to show, no verdict)."""

    name: str
    better: bool | None  # True: a larger value is better; False: a smaller one; None: neither (no verdict)
    unit: Unit
    label: str  # what reports show: what is counted, over which messages


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("messages", None, Unit.COUNT, "messages"),
        Metric("answered", True, Unit.COUNT, "messages answered"),
        Metric("busy", False, Unit.COUNT, "busy apologies"),
        Metric("failed", False, Unit.COUNT, "failure apologies (a CRM or LLM call failed)"),
        Metric("busy_rate", False, Unit.RATIO, "busy apologies, share of messages"),
        Metric("latency_p50_s", False, Unit.SECONDS, "latency p50, all messages (apologies included)"),
        Metric("latency_p95_s", False, Unit.SECONDS, "latency p95, all messages (apologies included)"),
        Metric("latency_p99_s", False, Unit.SECONDS, "latency p99, all messages (apologies included)"),
        Metric("latency_answered_p50_s", False, Unit.SECONDS, "latency p50, answered messages only"),
        Metric("latency_answered_p95_s", False, Unit.SECONDS, "latency p95, answered messages only"),
        Metric("latency_answered_p99_s", False, Unit.SECONDS, "latency p99, answered messages only"),
        Metric("first_reply_p50_s", False, Unit.SECONDS, "time to a burst's first reply, p50 (apologies included)"),
        Metric("first_reply_p95_s", False, Unit.SECONDS, "time to a burst's first reply, p95 (apologies included)"),
        Metric("customers_apologised", False, Unit.RATIO, "customers who got a busy apology, share of customers"),
        Metric("cache_hit_ratio", True, Unit.RATIO, "cache hit ratio of the outage checks (none without a cache)"),
        Metric("crm_calls", False, Unit.COUNT, "CRM calls, failed ones included"),
        Metric("llm_calls", None, Unit.COUNT, "LLM calls, failed ones included"),
        Metric("lock_polls", False, Unit.COUNT, "lock attempts"),
        Metric("redis_commands", False, Unit.COUNT, "Redis commands"),
        Metric("lock_lost", False, Unit.COUNT, "locks lost (the TTL ran out while held)"),
        Metric("redis_errors", False, Unit.COUNT, "Redis errors (lock and cache)"),
        Metric("out_of_order", False, Unit.COUNT, "answers that overtook an earlier message's answer"),
    )
}


def summarize(records: Sequence[MessageRecord]) -> dict[str, float]:
    """The metrics of one run of one variant; keys in `METRICS` order, NaN where one does not apply."""
    n = len(records)
    outcomes = {k: sum(1 for r in records if r.outcome == k) for k in (Outcome.ANSWERED, Outcome.BUSY, Outcome.FAILED)}
    p50, p95, p99 = percentiles([r.latency for r in records], (50, 95, 99))
    a50, a95, a99 = percentiles([r.latency for r in records if r.outcome == Outcome.ANSWERED], (50, 95, 99))
    f50, f95 = percentiles(first_replies(records), (50, 95))
    return {
        "messages": n,
        "answered": outcomes[Outcome.ANSWERED],
        "busy": outcomes[Outcome.BUSY],
        "failed": outcomes[Outcome.FAILED],
        "busy_rate": outcomes[Outcome.BUSY] / n if n else math.nan,
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "latency_p99_s": p99,
        "latency_answered_p50_s": a50,
        "latency_answered_p95_s": a95,
        "latency_answered_p99_s": a99,
        "first_reply_p50_s": f50,
        "first_reply_p95_s": f95,
        "customers_apologised": customers_apologised(records),
        "cache_hit_ratio": cache_hit_ratio(records),
        "crm_calls": crm_calls(records),
        "llm_calls": llm_calls(records),
        "lock_polls": sum(r.lock_attempts for r in records),
        "redis_commands": redis_commands(records),
        "lock_lost": sum(1 for r in records if r.lock_lost),
        "redis_errors": sum(r.lock_errors + r.cache_errors for r in records),
        "out_of_order": out_of_order(records),
    }


def percentiles(values: Sequence[float] | np.ndarray, q: Sequence[float]) -> list[float]:
    """Percentiles with linear interpolation; NaN each when there are no values (nothing to rank)."""
    if len(values) == 0:
        return [math.nan] * len(q)
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), q)]


def first_replies(records: Sequence[MessageRecord]) -> np.ndarray:
    """Per burst: its first reply (answer or apology, whichever message it went to) minus its first arrival.

    A burst is one customer writing several messages in a row; this is how long they waited
    before the bot said anything. Records without a burst number (built by hand) are left out.
    """
    known = [r for r in records if r.burst is not None]
    if not known:
        return np.empty(0)
    burst = np.fromiter((r.burst for r in known), dtype=np.int64, count=len(known))
    first_arrival = np.full(int(burst.max()) + 1, np.inf)
    first_reply = np.full(len(first_arrival), np.inf)
    np.minimum.at(first_arrival, burst, [r.arrival for r in known])
    np.minimum.at(first_reply, burst, [r.reply_at for r in known])
    seen = np.isfinite(first_arrival)
    waits: np.ndarray = first_reply[seen] - first_arrival[seen]
    return waits


def customers_apologised(records: Sequence[MessageRecord]) -> float:
    """The share of customers who got at least one busy apology; NaN without customers."""
    customers = {r.customer for r in records}
    apologised = {r.customer for r in records if r.outcome == Outcome.BUSY}
    return len(apologised) / len(customers) if customers else math.nan


def cache_hit_ratio(records: Sequence[MessageRecord]) -> float:
    """Hits over the outage checks that asked the cache; NaN when none did (the cache is off).

    A check with the cache off (`Source.OFF`) is not a miss: counting it would draw a
    variant without a cache as a 0 % hit ratio, "worse" than any cache.
    """
    asked = [r.source for r in records if r.source is not None and r.source != Source.OFF]
    return asked.count(Source.HIT) / len(asked) if asked else math.nan


def crm_calls(records: Sequence[MessageRecord]) -> int:
    """Every call the CRM received, failed and timed-out ones too (counted by the CRM, per message)."""
    return sum(r.crm_calls for r in records)


def llm_calls(records: Sequence[MessageRecord]) -> int:
    return sum(r.llm_calls for r in records)


def redis_commands(records: Sequence[MessageRecord]) -> int:
    """Every command sent, the watchdog's included (counted by the driver, per message)."""
    return sum(r.redis_commands for r in records)


def out_of_order(records: Sequence[MessageRecord]) -> int:
    """Answered messages that reached the customer before an earlier message of theirs."""
    by_customer: dict[str, list[MessageRecord]] = defaultdict(list)
    for r in records:
        if r.outcome == Outcome.ANSWERED:
            by_customer[r.customer].append(r)
    count = 0
    for answered in by_customer.values():
        answered.sort(key=lambda r: (r.arrival, r.message))
        latest = -np.inf
        for r in answered:
            if r.reply_at < latest:
                count += 1
            latest = max(latest, r.reply_at)
    return count
