"""The invariant checker catches what it promises to catch, and real runs keep every invariant."""

from pathlib import Path

from sim.experiment import run_once
from sim.metrics.invariants import check
from sim.scenario import load_scenario
from tests.metrics.test_summary import rec

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def test_bundled_scenarios_keep_every_invariant():
    for name in ("magna", "peak-hour"):
        for result in run_once(load_scenario(SCENARIOS / f"{name}.toml")).values():
            assert result.run.violations == ()


def test_a_missing_or_duplicated_outcome_is_reported():
    records = [rec(0), rec(0)]
    assert "3 messages arrived but 1 distinct ones got an outcome (2)" in check(
        records, expected=3, workers=5, lock_ttl=120
    )


def test_negative_waits_are_reported():
    assert check([rec(0, queue_wait=-1.0)], expected=1, workers=5, lock_ttl=120) == [
        "negative waits or replies before arrival in messages [0]"
    ]


def test_more_messages_in_service_than_workers_is_reported():
    records = [rec(n, arrival=0, reply_at=10, customer=f"c{n}") for n in range(3)]
    assert check(records, expected=3, workers=2, lock_ttl=120) == ["3 messages in service at once with 2 workers"]


def test_two_holders_inside_the_ttl_are_reported_but_not_after_it_expired():
    overlapping = [rec(0, arrival=0, reply_at=30, acquired_at=0.0), rec(1, arrival=10, reply_at=40, acquired_at=10.0)]
    assert check(overlapping, expected=2, workers=5, lock_ttl=120) == ["two holders of a's lock: messages 0 and 1"]
    assert check(overlapping, expected=2, workers=5, lock_ttl=5) == []  # the first lock expired at t = 5 s


def test_an_overlap_after_a_lost_lock_is_a_finding_not_a_bug():
    lost = [rec(0, reply_at=30, acquired_at=0.0, lock_lost=True), rec(1, reply_at=40, acquired_at=10.0)]
    assert check(lost, expected=2, workers=5, lock_ttl=120) == []
