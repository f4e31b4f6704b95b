"""Time windows and segments on hand-built runs, every number computed by hand."""

import math

import numpy as np
import pytest

from sim.metrics.arrays import columns
from sim.metrics.context import RunContext, Shaded, ShadeKind
from sim.metrics.records import RunResult
from sim.metrics.segments import Grouping, segments
from sim.metrics.timeseries import SERIES, per_window, time_average, timeseries, window_length
from tests.metrics.test_summary import rec


def run(records, replication=0, commands=None):
    return RunResult(variant="v", replication=replication, records=tuple(records), commands_per_second=commands or {})


# Three messages, windows of 60 s:
#   m0 arrives 0, served 0–30, lock asked 0, acquired 5, one CRM and one LLM call, answered at 30
#   m1 arrives 10, waits for a worker until 30, served 30–90 (lock at once), answered at 90
#   m2 arrives 70, served 70–100, asks the lock at 70 and gives up after 30 s: a busy apology at 100
HAND = [
    rec(0, arrival=0, reply_at=30, acquired_at=5.0, lock_asked_at=0.0, lock_wait=5, crm_calls=1, llm_calls=1),
    rec(1, arrival=10, queue_wait=20, reply_at=90, acquired_at=30.0, lock_asked_at=30.0, crm_calls=1, llm_calls=1),
    rec(2, arrival=70, reply_at=100, outcome="busy", source=None, lock_asked_at=70.0, lock_wait=30),
]


def test_window_length_follows_the_run_length():
    assert window_length(3600) == 60  # an hour: minutes
    assert window_length(86400) == 900  # a day: quarter hours
    assert window_length(120) == 5  # Magna's two minutes
    assert window_length(2 * 3600) == 120
    assert window_length(0) == 1


def test_time_average_of_busy_workers_by_hand():
    # busy [0, 30), [30, 90), [70, 100): window 0 holds 30 + 30 = 60 worker-seconds, window 1 30 + 30
    edges = np.array([0.0, 60.0, 120.0])
    assert time_average(np.array([0.0, 30, 70]), np.array([30.0, 90, 100]), edges) == pytest.approx([1.0, 1.0])
    # one interval straddling three windows of 10 s: [5, 25) → 0.5, 1, 0.5
    three = time_average(np.array([5.0]), np.array([25.0]), np.array([0.0, 10, 20, 30]))
    assert three == pytest.approx([0.5, 1.0, 0.5])


def test_every_window_metric_of_a_hand_made_run():
    w = per_window(columns(HAND), {0: 6, 59: 6, 61: 12}, 60.0, 2)
    assert set(w) == set(SERIES)
    assert list(w["messages"]) == [2, 1]
    assert list(w["busy_rate"]) == [0.0, 1.0]
    assert w["latency_answered_p95_s"][0] == pytest.approx(30 + 0.95 * 50)  # latencies 30 and 80
    assert math.isnan(w["latency_answered_p95_s"][1])  # nothing answered arrived in it
    assert w["queue_length"] == pytest.approx([20 / 60, 0.0])  # m1 waited 10–30
    assert w["busy_workers"] == pytest.approx([1.0, 1.0])
    assert w["lock_waiters"] == pytest.approx([5 / 60, 30 / 60])  # m0 0–5; m2 70–100 (gave up)
    assert w["redis_commands_per_s"] == pytest.approx([12 / 60, 12 / 60])
    assert list(w["crm_calls"]) == [2, 0] and list(w["llm_calls"]) == [2, 0]  # by the window service started


def test_across_replications_a_window_has_a_mean_and_a_band_cut_at_zero():
    calm = [rec(0, arrival=0, reply_at=30), rec(1, arrival=70, reply_at=100)]
    busy = [rec(0, arrival=0, reply_at=30), rec(1, arrival=70, reply_at=100, outcome="busy", source=None)]
    ts = timeseries({"v": [run(calm, 0), run(busy, 1)]}, RunContext(duration=120))
    assert (ts.window_s, len(ts.starts), ts.starts[:2]) == (5.0, 24, (0.0, 5.0))
    rate = ts.values["v"]["busy_rate"][14]  # window 70–75: busy rates 0 and 1
    assert (rate.mean, rate.low, rate.high, rate.n) == (0.5, 0.0, 1.0, 2)  # ± 6.35: cut to the share's bounds
    empty = ts.values["v"]["busy_rate"][1]  # nothing arrived in 5–10: not applicable in either replication
    assert empty.n == 0 and math.isnan(empty.mean)
    assert ts.values["v"]["messages"][1].mean == 0.0


def test_segments_of_a_hand_made_run():
    records = [
        rec(0, arrival=10, reply_at=20, in_outage=True, scripted=True),
        rec(1, arrival=60, reply_at=200, outcome="busy", source=None, in_outage=True, index=1),
        rec(2, arrival=70, reply_at=90, outcome="failed", source=None),
        rec(3, arrival=120, reply_at=180),
    ]
    fault = RunContext(duration=200, shaded=(Shaded(kind=ShadeKind.FAULT, label="Redis down", start=50, end=100),))
    found = {(s.grouping, s.inside): s.estimates["v"] for s in segments({"v": [columns(records)]}, fault)}
    assert {g for g, _ in found} == {Grouping.OUTAGE, Grouping.SCRIPTED, Grouping.FAULT, Grouping.FIRST}  # no surge

    def values(grouping, inside):
        return {m: e.mean for m, e in found[(grouping, inside)].items()}

    assert values(Grouping.OUTAGE, True) == pytest.approx(
        {"messages": 2, "busy_rate": 0.5, "latency_answered_p95_s": 10.0, "failed_share": 0.0}
    )
    assert values(Grouping.OUTAGE, False) == pytest.approx(
        {"messages": 2, "busy_rate": 0.0, "latency_answered_p95_s": 60.0, "failed_share": 0.5}
    )
    inside_fault = values(Grouping.FAULT, True)  # m1 and m2 arrived in [50, 100)
    assert (inside_fault["messages"], inside_fault["busy_rate"], inside_fault["failed_share"]) == (2, 0.5, 0.5)
    assert math.isnan(inside_fault["latency_answered_p95_s"])  # neither was answered
    assert values(Grouping.FIRST, False)["messages"] == 1
    assert values(Grouping.SCRIPTED, True)["messages"] == 1


def test_segments_across_replications_have_intervals():
    one = [rec(0, arrival=10, reply_at=20, in_outage=True), rec(1, arrival=20, reply_at=30, index=1)]
    two = [*one, rec(2, arrival=30, reply_at=60, in_outage=True, index=1)]
    found = segments({"v": [columns(one), columns(two)]}, RunContext(duration=60))
    outage = next(s for s in found if s.grouping == Grouping.OUTAGE and s.inside).estimates["v"]["messages"]
    assert (outage.mean, outage.n) == (1.5, 2) and outage.low == 0.0  # 1.5 ± 6.35, cut at zero
