"""Per-variant metrics of one run, computed from the flat records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from sim.metrics.columns import RecordColumns
from sim.metrics.records import MessageRecord, Outcome, Source


class Unit(StrEnum):
    """What a metric's number counts; reports format it by this."""

    SECONDS = "seconds"
    RATIO = "ratio"  # a share, 0 to 1
    COUNT = "count"  # per run; a mean over replications may have a fraction


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    better: bool | None  # True: a larger value is better; False: a smaller one; None: neither (no verdict)
    unit: Unit


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("messages", None, Unit.COUNT),
        Metric("answered", True, Unit.COUNT),
        Metric("busy", False, Unit.COUNT),
        Metric("failed", False, Unit.COUNT),
        Metric("busy_rate", False, Unit.RATIO),
        Metric("latency_p50_s", False, Unit.SECONDS),
        Metric("latency_p95_s", False, Unit.SECONDS),
        Metric("latency_p99_s", False, Unit.SECONDS),
        Metric("cache_hit_ratio", True, Unit.RATIO),
        Metric("crm_calls", False, Unit.COUNT),
        Metric("llm_calls", None, Unit.COUNT),
        Metric("lock_polls", False, Unit.COUNT),
        Metric("redis_commands", False, Unit.COUNT),
        Metric("lock_lost", False, Unit.COUNT),
        Metric("redis_errors", False, Unit.COUNT),
        Metric("out_of_order", False, Unit.COUNT),
    )
}


def summarize(records: Sequence[MessageRecord]) -> dict[str, float]:
    """The metrics of one run of one variant; keys in `METRICS` order."""
    n = len(records)
    outcomes = {k: sum(1 for r in records if r.outcome == k) for k in (Outcome.ANSWERED, Outcome.BUSY, Outcome.FAILED)}
    latencies = np.array([r.latency for r in records], dtype=float)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if n else (0.0, 0.0, 0.0)
    checks = [r.source for r in records if r.source is not None]
    return {
        "messages": n,
        "answered": outcomes[Outcome.ANSWERED],
        "busy": outcomes[Outcome.BUSY],
        "failed": outcomes[Outcome.FAILED],
        "busy_rate": outcomes[Outcome.BUSY] / n if n else 0.0,
        "latency_p50_s": float(p50),
        "latency_p95_s": float(p95),
        "latency_p99_s": float(p99),
        "cache_hit_ratio": checks.count(Source.HIT) / len(checks) if checks else 0.0,
        "crm_calls": crm_calls(records),
        "llm_calls": llm_calls(records),
        "lock_polls": sum(r.lock_attempts for r in records),
        "redis_commands": redis_commands(records),
        "lock_lost": sum(1 for r in records if r.lock_lost),
        "redis_errors": sum(r.lock_errors + r.cache_errors for r in records),
        "out_of_order": out_of_order(records),
    }


def crm_calls(records: Sequence[MessageRecord]) -> int:
    """Every call the CRM received, failed and timed-out ones too (counted by the CRM, per message)."""
    if isinstance(records, RecordColumns):
        return _column_total(records, "crm_calls")
    return sum(r.crm_calls for r in records)


def llm_calls(records: Sequence[MessageRecord]) -> int:
    if isinstance(records, RecordColumns):
        return _column_total(records, "llm_calls")
    return sum(r.llm_calls for r in records)


def redis_commands(records: Sequence[MessageRecord]) -> int:
    """Every command sent, the watchdog's included (counted by the driver, per message)."""
    if isinstance(records, RecordColumns):
        return _column_total(records, "redis_commands")
    return sum(r.redis_commands for r in records)


def _column_total(records: RecordColumns, name: str) -> int:
    """A count summed over a run's columns, without building a record per message."""
    return int(records.column(name).sum(dtype=np.int64))


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
