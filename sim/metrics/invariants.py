"""Invariants every run must keep; checked cheaply after each run, reported when broken.

A broken invariant is a bug in the simulator (or in the system under test),
never a property of the workload: the CLI reports it and exits with code 3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from sim.metrics.records import OUTCOMES, MessageRecord

EPSILON = 1e-9


def check(records: Sequence[MessageRecord], *, expected: int, workers: int, lock_ttl: float) -> list[str]:
    """Human-readable violations; an empty list means every invariant held."""
    return [
        *_one_outcome_each(records, expected),
        *_no_negative_waits(records),
        *_workers_conserved(records, workers),
        *_one_holder_at_a_time(records, lock_ttl),
    ]


def _one_outcome_each(records: Sequence[MessageRecord], expected: int) -> list[str]:
    problems = []
    ids = [r.message for r in records]
    if len(ids) != expected or len(set(ids)) != expected:
        problems.append(f"{expected} messages arrived but {len(set(ids))} distinct ones got an outcome ({len(ids)})")
    bad = [r.message for r in records if r.outcome not in OUTCOMES]
    if bad:
        problems.append(f"messages without a valid outcome: {bad[:5]}")
    return problems


def _no_negative_waits(records: Sequence[MessageRecord]) -> list[str]:
    bad = [
        r.message
        for r in records
        if min(r.queue_wait, r.lock_wait, r.crm_s, r.llm_s) < -EPSILON or r.reply_at < r.arrival - EPSILON
    ]
    return [f"negative waits or replies before arrival in messages {bad[:5]}"] if bad else []


def _workers_conserved(records: Sequence[MessageRecord], workers: int) -> list[str]:
    """Never more messages in service than workers: starts and ends swept in time order."""
    starts = np.sort([r.arrival + r.queue_wait for r in records])
    ends = np.sort([r.done_at for r in records])
    if len(starts) == 0:
        return []
    busy = np.arange(1, len(starts) + 1) - np.searchsorted(ends, starts, side="right")
    peak = int(busy.max())
    return [f"{peak} messages in service at once with {workers} workers"] if peak > workers else []


def _one_holder_at_a_time(records: Sequence[MessageRecord], lock_ttl: float) -> list[str]:
    """One holder per conversation: a lock taken while another holder's is still live is a bug.

    A holder whose lock was lost (TTL ran out, Redis restarted) is reported as
    `lock_lost` instead — that overlap is a finding about the system, not a bug.
    """
    held: dict[str, list[tuple[float, float, int, bool]]] = defaultdict(list)
    for r in records:
        if r.acquired_at >= 0:
            end = min(r.reply_at, r.acquired_at + lock_ttl)
            held[r.customer].append((r.acquired_at, end, r.message, r.lock_lost))
    problems = []
    for customer, intervals in held.items():
        intervals.sort()
        for (_, end, first, lost), (start, _, second, _) in zip(intervals, intervals[1:], strict=False):
            if start < end - EPSILON and not lost:
                problems.append(f"two holders of {customer}'s lock: messages {first} and {second}")
    return problems[:5]
