import pytest

from sim.metrics.catalog import METRICS
from sim.metrics.records import MessageRecord
from sim.metrics.summary import out_of_order, summarize


def rec(message, customer="a", arrival=0.0, reply_at=10.0, outcome="answered", source="miss", attempts=1, **kw):
    base = dict(
        message=message, customer=customer, index=0, arrival=arrival, queue_wait=0.0, lock_wait=0.0,
        lock_attempts=attempts, outcome=outcome, source=source, crm_s=0.0, llm_s=0.0, reply_at=reply_at,
        lock_lost=False, done_at=reply_at, redis_commands=attempts + 2, cache_errors=0, lock_errors=0,
    )  # fmt: skip
    base.update(kw)
    # The times and counts the simulator records where they happen, consistent with the above.
    base.setdefault("started_at", base["arrival"] + base["queue_wait"])
    base.setdefault("crm_calls", int(base["source"] not in ("hit", None)))
    base.setdefault("llm_calls", int(base.get("llm_called", False)))
    if base.get("acquired_at") is not None:
        base.setdefault("lock_refreshed_at", base["acquired_at"])
        base.setdefault("released_at", base["reply_at"])
    return MessageRecord(**base)


def test_out_of_order_counts_later_messages_answered_before_earlier_ones():
    records = [
        rec(0, arrival=0, reply_at=30),
        rec(1, arrival=5, reply_at=20),  # answered before message 0: out of order
        rec(2, arrival=6, reply_at=25),  # still before message 0's answer: out of order
        rec(3, arrival=7, reply_at=40),
        rec(4, customer="b", arrival=1, reply_at=2),  # other customers do not count
        rec(5, arrival=8, reply_at=1, outcome="busy", source=None),  # apologies do not count
    ]
    assert out_of_order(records) == 2


def test_summary_of_a_hand_made_run():
    records = [
        rec(0, arrival=0, reply_at=10, source="miss", attempts=1),
        rec(1, arrival=0, reply_at=20, source="hit", attempts=5),
        rec(2, arrival=0, reply_at=30, source="hit", attempts=3),
        rec(3, arrival=0, reply_at=40, outcome="busy", source=None, attempts=301),
    ]
    m = summarize(records)
    assert list(m) == list(METRICS)
    assert (m["messages"], m["answered"], m["busy"], m["failed"]) == (4, 3, 1, 0)
    assert m["busy_rate"] == 0.25
    assert m["latency_p50_s"] == pytest.approx(25.0)  # linear interpolation between 20 and 30
    assert m["latency_p95_s"] == pytest.approx(38.5)
    assert m["cache_hit_ratio"] == pytest.approx(2 / 3)
    assert (m["crm_calls"], m["lock_polls"], m["redis_commands"]) == (1, 310, 318)


def test_crm_and_llm_calls_are_the_calls_each_message_made_failed_ones_included():
    records = [
        rec(0, source=None, outcome="failed", crm_calls=1),  # the CRM call failed: no source, still a call
        rec(1, source="miss", crm_calls=1, llm_calls=1),
        rec(2, source="hit", crm_calls=0, llm_calls=1),
    ]
    m = summarize(records)
    assert (m["crm_calls"], m["llm_calls"]) == (2, 2)
