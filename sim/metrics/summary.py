"""Per-variant metrics of one run, computed from the flat records."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from sim.metrics.columns import NO_BURST, OUTCOMES, SOURCES, RecordColumns
from sim.metrics.records import MessageRecord, Outcome, Source


def mean_queue_wait(records: Sequence[MessageRecord]) -> float:
    """Mean wait for a worker (arrival → picked up), the Wq of queueing theory."""
    waits = as_columns(records).column("queue_wait").tolist()
    return sum(waits) / len(waits) if waits else 0.0  # summed in record order, as a loop over the records would


# Quantities an objective of `sim tune` may weigh beyond `METRICS` (which every report lists). Kept apart
# from METRICS so that adding one does not change every compare report; computed with them per run.
EXTRA_METRICS: dict[str, Callable[[Sequence[MessageRecord]], float]] = {"queue_wait_mean_s": mean_queue_wait}


def summarize(records: Sequence[MessageRecord]) -> dict[str, float]:
    """The metrics of one run of one variant; keys in `METRICS` order, NaN where one does not apply.

    Computed on the run's columns (`RecordColumns`): no record object is built per message.
    """
    cols = as_columns(records)
    n = len(cols)
    outcome = cols.column("outcome")
    answered, busy, failed = (outcome == _OUTCOME[o] for o in (Outcome.ANSWERED, Outcome.BUSY, Outcome.FAILED))
    latency = cols.column("reply_at") - cols.column("arrival")
    p50, p95, p99 = percentiles(latency, (50, 95, 99))
    a50, a95, a99 = percentiles(latency[answered], (50, 95, 99))
    f50, f95 = percentiles(first_replies(cols), (50, 95))
    # A lock metric needs a lock: the built-in bot marks every message's; a team's handler, the ones it marks.
    marked = (
        n == 0 or bool(cols.column("lock_attempts").any()) or not bool(np.isnan(cols.column("lock_asked_at")).all())
    )
    return {
        "messages": n,
        "answered": int(answered.sum()),
        "busy": int(busy.sum()),
        "failed": int(failed.sum()),
        "busy_rate": float(busy.sum()) / n if n else math.nan,
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "latency_p99_s": p99,
        "latency_answered_p50_s": a50,
        "latency_answered_p95_s": a95,
        "latency_answered_p99_s": a99,
        "first_reply_p50_s": f50,
        "first_reply_p95_s": f95,
        "customers_apologised": customers_apologised(cols),
        "cache_hit_ratio": cache_hit_ratio(cols),
        "crm_calls": crm_calls(cols),
        "llm_calls": llm_calls(cols),
        "lock_polls": _total(cols, "lock_attempts") if marked else math.nan,
        "redis_commands": redis_commands(cols),
        "lock_lost": _total(cols, "lock_lost") if marked else math.nan,
        "redis_errors": _total(cols, "lock_errors") + _total(cols, "cache_errors"),
        "out_of_order": out_of_order(cols),
    }


_OUTCOME = {o: code for code, o in enumerate(OUTCOMES)}
_SOURCE = {s: code for code, s in enumerate(SOURCES)}


def code_metrics(records: Sequence[MessageRecord], late_commands: int) -> dict[str, float]:
    """CODE_METRICS of one run, in their order: `late_commands` is the world's count (in no record)."""
    cols = as_columns(records)
    no_reply = int(np.count_nonzero(cols.column("outcome") == _OUTCOME[Outcome.NO_REPLY]))
    errors = int(np.count_nonzero(cols.column("error") != 0))
    return {"no_reply": no_reply, "handler_errors": errors, "late_commands": late_commands}


def as_columns(records: Sequence[MessageRecord]) -> RecordColumns:
    """A run's records as columns: the run's own store, or a copy of a hand-built list."""
    return records if isinstance(records, RecordColumns) else RecordColumns.from_records(records)


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
    cols = as_columns(records)
    burst = cols.column("burst").astype(np.int64)
    known = burst != NO_BURST
    if not known.any():
        return np.empty(0)
    burst = burst[known]
    first_arrival = np.full(int(burst.max()) + 1, np.inf)
    first_reply = np.full(len(first_arrival), np.inf)
    np.minimum.at(first_arrival, burst, cols.column("arrival")[known])
    np.minimum.at(first_reply, burst, cols.column("reply_at")[known])
    seen = np.isfinite(first_arrival)
    waits: np.ndarray = first_reply[seen] - first_arrival[seen]
    return waits


def customers_apologised(records: Sequence[MessageRecord]) -> float:
    """The share of customers who got at least one busy apology; NaN without customers."""
    cols = as_columns(records)
    customer = cols.column("customer")
    if len(customer) == 0:
        return math.nan
    apologised = customer[cols.column("outcome") == _OUTCOME[Outcome.BUSY]]
    return len(np.unique(apologised)) / len(np.unique(customer))


def cache_hit_ratio(records: Sequence[MessageRecord]) -> float:
    """Hits over the outage checks that asked the cache; NaN when none did (the cache is off).

    A check with the cache off (`Source.OFF`) is not a miss: counting it would draw a
    variant without a cache as a 0 % hit ratio, "worse" than any cache.
    """
    source = as_columns(records).column("source")
    asked = (source != _SOURCE[None]) & (source != _SOURCE[Source.OFF])
    hits = int((source == _SOURCE[Source.HIT]).sum())
    return hits / int(asked.sum()) if asked.any() else math.nan


def crm_calls(records: Sequence[MessageRecord]) -> int:
    """Every call the CRM received, failed and timed-out ones too (counted by the CRM, per message)."""
    return _total(as_columns(records), "crm_calls")


def llm_calls(records: Sequence[MessageRecord]) -> int:
    return _total(as_columns(records), "llm_calls")


def redis_commands(records: Sequence[MessageRecord]) -> int:
    """Every command sent, the watchdog's included (counted by the driver, per message)."""
    return _total(as_columns(records), "redis_commands")


def _total(cols: RecordColumns, name: str) -> int:
    """A count (or flag) summed over a run, without building a record per message."""
    return int(cols.column(name).sum(dtype=np.int64))


def out_of_order(records: Sequence[MessageRecord]) -> int:
    """Answered messages that reached the customer before an earlier message of theirs.

    Per customer, answers in arrival order (ties by message id): one counts when its reply
    came before the latest reply so far. Vectorised with integer keys, exact for any times:
    key = customer × n + the rank of the reply time, whose running maximum never carries
    over from one customer to the next (every key of a later customer is larger).
    """
    cols = as_columns(records)
    answered = cols.column("outcome") == _OUTCOME[Outcome.ANSWERED]
    customer = cols.column("customer")[answered].astype(np.int64)
    if len(customer) < 2:
        return 0
    order = np.lexsort((cols.column("message")[answered], cols.column("arrival")[answered], customer))
    reply_rank = np.unique(cols.column("reply_at")[answered], return_inverse=True)[1].astype(np.int64)
    key = customer[order] * len(customer) + reply_rank[order]
    latest = np.maximum.accumulate(key)
    return int((key[1:] < latest[:-1]).sum())
