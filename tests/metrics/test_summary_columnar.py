"""The vectorised summary says exactly what a record-at-a-time reading of the same records says.

The oracle below is the straightforward per-record definition of each metric (as the summary
was written before it moved to columns); records are drawn to collide (few customers, tied
times, every outcome and source, bursts known and unknown).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.metrics.columns import RecordColumns
from sim.metrics.records import MessageRecord, Outcome, Source
from sim.metrics.summary import summarize
from tests.metrics.test_invariants_columnar import records as any_record


def oracle(records: list[MessageRecord]) -> dict[str, float]:
    n = len(records)
    count = {k: sum(1 for r in records if r.outcome == k) for k in Outcome}
    # Lock metrics need a lock the handler told of: an attempt counted, or the instant it asked.
    marked = n == 0 or any(r.lock_attempts or r.lock_asked_at is not None for r in records)

    def pct(values: list[float], q: tuple[float, ...]) -> list[float]:
        return [float(v) for v in np.percentile(values, q)] if values else [math.nan] * len(q)

    p50, p95, p99 = pct([r.latency for r in records], (50, 95, 99))
    a50, a95, a99 = pct([r.latency for r in records if r.outcome == Outcome.ANSWERED], (50, 95, 99))
    first_arrival: dict[int, float] = {}
    first_reply: dict[int, float] = {}
    for r in records:
        if r.burst is not None:
            first_arrival[r.burst] = min(first_arrival.get(r.burst, math.inf), r.arrival)
            first_reply[r.burst] = min(first_reply.get(r.burst, math.inf), r.reply_at)
    f50, f95 = pct([first_reply[b] - first_arrival[b] for b in sorted(first_arrival)], (50, 95))
    asked = [r.source for r in records if r.source not in (None, Source.OFF)]
    customers = {r.customer for r in records}
    by_customer: dict[str, list[MessageRecord]] = defaultdict(list)
    for r in records:
        if r.outcome == Outcome.ANSWERED:
            by_customer[r.customer].append(r)
    late = 0
    for answered in by_customer.values():
        latest = -math.inf
        for r in sorted(answered, key=lambda r: (r.arrival, r.message)):
            late += r.reply_at < latest
            latest = max(latest, r.reply_at)
    return {
        "messages": n,
        "answered": count[Outcome.ANSWERED],
        "busy": count[Outcome.BUSY],
        "failed": count[Outcome.FAILED],
        "busy_rate": count[Outcome.BUSY] / n if n else math.nan,
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "latency_p99_s": p99,
        "latency_answered_p50_s": a50,
        "latency_answered_p95_s": a95,
        "latency_answered_p99_s": a99,
        "first_reply_p50_s": f50,
        "first_reply_p95_s": f95,
        "customers_apologised": (
            len({r.customer for r in records if r.outcome == Outcome.BUSY}) / len(customers) if customers else math.nan
        ),
        "cache_hit_ratio": asked.count(Source.HIT) / len(asked) if asked else math.nan,
        "crm_calls": sum(r.crm_calls for r in records),
        "llm_calls": sum(r.llm_calls for r in records),
        "lock_polls": sum(r.lock_attempts for r in records) if marked else math.nan,
        "redis_commands": sum(r.redis_commands for r in records),
        "lock_lost": sum(1 for r in records if r.lock_lost) if marked else math.nan,
        "redis_errors": sum(r.lock_errors + r.cache_errors for r in records),
        "out_of_order": late,
    }


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


with_bursts = st.tuples(any_record(), st.one_of(st.none(), st.integers(0, 4)), st.booleans()).map(
    lambda t: MessageRecord(**{**_fields(t[0]), "burst": t[1], "in_outage": t[2]})
)


def _fields(r: MessageRecord) -> dict[str, object]:
    return {name: getattr(r, name) for name in r.__dataclass_fields__}


@settings(max_examples=300, deadline=None)
@given(st.lists(with_bursts, max_size=30))
def test_the_columnar_summary_equals_the_per_record_definitions(rs: list[MessageRecord]) -> None:
    got, want = summarize(rs), oracle(rs)
    assert list(got) == list(want)
    assert all(same(got[m], want[m]) for m in want), {m: (got[m], want[m]) for m in want if not same(got[m], want[m])}
    stored = summarize(RecordColumns.from_records(rs))
    assert all(same(stored[m], got[m]) for m in got)


def test_out_of_order_counts_an_overtaking_answer_once_per_customer_and_never_across_customers() -> None:
    def answered(message: int, customer: str, arrival: float, reply_at: float) -> MessageRecord:
        fields = {**_fields(BASE), "message": message, "customer": customer, "arrival": arrival, "reply_at": reply_at}
        return MessageRecord(**fields)  # type: ignore[arg-type]

    rs = [
        answered(0, "a", 0.0, 50.0),
        answered(1, "a", 1.0, 40.0),  # overtook message 0
        answered(2, "a", 2.0, 45.0),  # still before 50: overtook it too
        answered(3, "b", 0.5, 10.0),  # another customer: 50 is not theirs
        answered(4, "b", 1.5, 10.0),  # a tie is not out of order
    ]
    assert summarize(rs)["out_of_order"] == 2


BASE = MessageRecord(
    message=0, customer="a", index=0, arrival=0.0, queue_wait=0.0, lock_wait=0.0, lock_attempts=1,
    outcome=Outcome.ANSWERED, source=Source.HIT, crm_s=0.0, llm_s=0.0, reply_at=1.0, lock_lost=False,
    done_at=1.0, redis_commands=3, cache_errors=0, lock_errors=0, started_at=0.0,
)  # fmt: skip
