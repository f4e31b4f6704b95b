import pytest

from sim.metrics.records import MessageRecord
from sim.metrics.summary import METRICS, out_of_order, summarize


def rec(message, customer="a", arrival=0.0, reply_at=10.0, outcome="answered", source="miss", attempts=1, **kw):
    base = dict(
        message=message, customer=customer, index=0, arrival=arrival, queue_wait=0.0, lock_wait=0.0,
        lock_attempts=attempts, outcome=outcome, source=source, crm_s=0.0, llm_s=0.0, reply_at=reply_at,
        lock_lost=False, done_at=reply_at, redis_commands=attempts + 2, cache_errors=0, lock_errors=0,
    )  # fmt: skip
    base.update(kw)
    return MessageRecord(**base)


def test_out_of_order_counts_later_messages_answered_before_earlier_ones():
    records = [
        rec(0, arrival=0, reply_at=30),
        rec(1, arrival=5, reply_at=20),  # answered before message 0: out of order
        rec(2, arrival=6, reply_at=25),  # still before message 0's answer: out of order
        rec(3, arrival=7, reply_at=40),
        rec(4, customer="b", arrival=1, reply_at=2),  # other customers do not count
        rec(5, arrival=8, reply_at=1, outcome="busy", source=""),  # apologies do not count
    ]
    assert out_of_order(records) == 2


def test_summary_of_a_hand_made_run():
    records = [
        rec(0, arrival=0, reply_at=10, source="miss", attempts=1),
        rec(1, arrival=0, reply_at=20, source="hit", attempts=5),
        rec(2, arrival=0, reply_at=30, source="hit", attempts=3),
        rec(3, arrival=0, reply_at=40, outcome="busy", source="", attempts=301),
    ]
    m = summarize(records)
    assert list(m) == list(METRICS)
    assert (m["messages"], m["answered"], m["busy"], m["failed"]) == (4, 3, 1, 0)
    assert m["busy_rate"] == 0.25
    assert m["latency_p50_s"] == pytest.approx(25.0)  # linear interpolation between 20 and 30
    assert m["latency_p95_s"] == pytest.approx(38.5)
    assert m["cache_hit_ratio"] == pytest.approx(2 / 3)
    assert (m["crm_calls"], m["lock_polls"], m["redis_commands"]) == (1, 310, 318)
