"""The per-run metrics that answer at a glance, on hand-built records with hand-computed numbers."""

import math

import pytest

from sim.metrics.catalog import METRICS, Unit
from sim.metrics.summary import cache_hit_ratio, first_replies, summarize
from tests.metrics.test_summary import rec


def test_answered_latency_leaves_the_apologies_out():
    records = [
        rec(0, arrival=0, reply_at=10),
        rec(1, arrival=0, reply_at=20),
        rec(2, arrival=0, reply_at=30, outcome="busy", source=None),  # an apology: not in the answered latencies
        rec(3, arrival=0, reply_at=40, outcome="failed", source=None),
    ]
    m = summarize(records)
    assert m["latency_answered_p50_s"] == pytest.approx(15.0)  # between 10 and 20
    assert m["latency_answered_p95_s"] == pytest.approx(19.5)  # 10 + 0.95 × 10
    assert m["latency_answered_p99_s"] == pytest.approx(19.9)
    assert m["latency_p50_s"] == pytest.approx(25.0)  # all four messages


def test_no_answered_message_has_no_answered_latency():
    m = summarize([rec(0, outcome="busy", source=None)])
    assert math.isnan(m["latency_answered_p95_s"])


def test_first_reply_is_a_bursts_first_reply_minus_its_first_arrival():
    records = [
        # burst 0: arrives at 0 and 5; the second message is answered first, at 12
        rec(0, customer="a", arrival=0, reply_at=30, burst=0),
        rec(1, customer="a", arrival=5, reply_at=12, burst=0, index=1),
        # burst 1, the same customer again later: an apology at 140 is its first reply
        rec(2, customer="a", arrival=100, reply_at=140, outcome="busy", source=None, burst=1),
        rec(3, customer="a", arrival=101, reply_at=160, burst=1, index=1),
        # burst 2: one message
        rec(4, customer="b", arrival=10, reply_at=30, burst=2),
    ]
    assert sorted(first_replies(records)) == [12.0, 20.0, 40.0]
    m = summarize(records)
    assert m["first_reply_p50_s"] == pytest.approx(20.0)
    assert m["first_reply_p95_s"] == pytest.approx(20 + 0.9 * 20)  # rank 1.9 of 0…2: 20 + 0.9 × (40 − 20)


def test_records_without_a_burst_have_no_first_reply():
    assert math.isnan(summarize([rec(0)])["first_reply_p50_s"])


def test_customers_apologised_is_the_share_of_customers_with_a_busy_apology():
    records = [
        rec(0, customer="a"),
        rec(1, customer="a", outcome="busy", source=None),
        rec(2, customer="a", outcome="busy", source=None),  # a second apology: still one customer
        rec(3, customer="b"),
        rec(4, customer="c", outcome="failed", source=None),  # a failure apology is not a busy one
        rec(5, customer="d", outcome="busy", source=None),
    ]
    assert summarize(records)["customers_apologised"] == 0.5


def test_a_cache_hit_ratio_without_a_cache_is_not_a_number():
    off = [rec(0, source="off"), rec(1, source="off"), rec(2, source=None, outcome="failed")]
    assert math.isnan(cache_hit_ratio(off))
    assert cache_hit_ratio([rec(0, source="hit"), rec(1, source="fallback"), rec(2, source="off")]) == 0.5


def test_an_empty_run_has_counts_but_no_rates_or_latencies():
    m = summarize([])
    assert (m["messages"], m["busy"]) == (0, 0)
    not_applicable = {k for k, v in m.items() if math.isnan(v)}
    assert not_applicable == {k for k, metric in METRICS.items() if metric.unit is not Unit.COUNT}


def test_every_metric_has_a_label_and_the_bounds_of_its_unit():
    assert METRICS["latency_p95_s"].label == "latency p95, all messages (apologies included)"
    assert METRICS["latency_answered_p95_s"].label == "latency p95, answered messages only"
    assert Unit.RATIO.bounds == (0.0, 1.0) and Unit.SECONDS.bounds == Unit.COUNT.bounds == (0.0, math.inf)
