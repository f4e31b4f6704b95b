"""Lock safety, measured outside Redis from a run's records: holders that overlapped, stale and fenced writes.

The ground truth does not ask Redis who held a lock: it reads when each worker believed it held one
(from the lock's reply to its release) and when each answer reached the conversation store (as it
was sent: at its `reply_at`).

- `overlapping_holders`: messages whose critical section — from acquiring the lock to sending its
  release — overlapped another holder's on the same conversation: two workers at once, each sure it
  held the lock (a TTL that ran out during a stall, a lock a failover lost).
- `stale_writes`: answers the store accepted from a holder whose lock had been lost by then to a
  holder that had already written there: the older answer lands last. "Older" is judged by when each
  holder acquired — the grants' real order — never by fences, so fencing that hands out a wrong
  token (a counter that went back at a failover) shows up here. With fencing it must be 0.
- `fenced_writes`: answers the store refused (fencing: a token older than one it had accepted).

Assumption: grants of one conversation are ordered by when their holders saw them; two grants of one
conversation closer than the round trips' spread could be seen out of order (a lock is held for
seconds, round trips last milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.metrics.catalog import LOCK_SAFETY_METRICS
from sim.metrics.columns import STORED
from sim.metrics.records import MessageRecord, Stored
from sim.metrics.summary import as_columns

EPSILON = 1e-9  # seconds: the invariants' tolerance; two instants closer than this are the same instant

Array = np.ndarray[Any, Any]


def lock_safety_metrics(records: Sequence[MessageRecord]) -> dict[str, float]:
    """LOCK_SAFETY_METRICS of one run, in their order."""
    found: dict[str, float] = {
        "overlapping_holders": overlapping_holders(records),
        "stale_writes": stale_writes(records),
        "fenced_writes": int(np.count_nonzero(stored(records, Stored.REFUSED))),
    }
    assert list(found) == list(LOCK_SAFETY_METRICS)
    return found


def overlapping_holders(records: Sequence[MessageRecord]) -> int:
    """Messages whose hold (acquired → release sent) overlapped another's on the same conversation."""
    c = as_columns(records).column
    held = ~np.isnan(c("acquired_at"))
    released = c("released_at")[held]
    start, end = c("acquired_at")[held], np.where(np.isnan(released), c("done_at")[held], released)
    customer, message = c("customer")[held], c("message")[held]
    order = np.lexsort((message, start, customer))
    start, end, customer = start[order], end[order], customer[order]
    began_inside = start < earlier_max(customer, end) - EPSILON  # an earlier holder still held it
    next_inside = np.zeros(len(start), dtype=bool)  # the next holder began before this one let go
    next_inside[:-1] = (customer[1:] == customer[:-1]) & (start[1:] < end[:-1] - EPSILON)
    return int(np.count_nonzero(began_inside | next_inside))


def stale_writes(records: Sequence[MessageRecord]) -> int:
    """Accepted writes whose holder acquired before the holder of a write the store had accepted earlier."""
    c = as_columns(records).column
    accepted = stored(records, Stored.ACCEPTED) & ~np.isnan(c("acquired_at"))
    customer, at = c("customer")[accepted], c("reply_at")[accepted]
    granted, message = c("acquired_at")[accepted], c("message")[accepted]
    order = np.lexsort((message, at, customer))
    newest = earlier_max(customer[order], granted[order])
    return int(np.count_nonzero(granted[order] < newest - EPSILON))


def stored(records: Sequence[MessageRecord], what: Stored) -> Array:
    """Where the conversation store did `what` with the message's answer."""
    found: Array = as_columns(records).column("stored") == STORED.index(what)
    return found


def earlier_max(group: Array, values: Array) -> Array:
    """For rows sorted by `group` (each group's rows together), the largest of `values` over the earlier rows
    of the same group; -inf for a group's first row.

    Exact for any floats: values become their dense ranks, offset by the group's block number, so that the
    running maximum never carries over from one group to the next (every key of a later block is larger)."""
    n = len(values)
    if n == 0:
        return np.empty(0)
    distinct, rank = np.unique(values, return_inverse=True)
    first = np.ones(n, dtype=bool)
    first[1:] = group[1:] != group[:-1]
    key = (np.cumsum(first) - 1).astype(np.int64) * len(distinct) + rank
    running = np.maximum.accumulate(key)
    before = np.empty(n, dtype=np.int64)
    before[0] = 0
    before[1:] = running[:-1]
    found: Array = np.where(first, -math.inf, distinct[before % len(distinct)])
    return found
