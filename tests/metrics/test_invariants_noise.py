"""The invariants restated for the async worker model and for round trips and cache hits of varying length."""

import dataclasses

from sim.metrics.invariants import check
from tests.metrics.test_invariants import holder
from tests.metrics.test_summary import rec


def test_without_a_worker_limit_a_message_that_waited_for_a_worker_is_reported():
    many_at_once = [rec(n, arrival=0.0, reply_at=10.0, customer=f"c{n}") for n in range(50)]
    assert check(many_at_once, expected=50, workers=None, lock_ttl=120) == []
    queued = [*many_at_once[:49], rec(49, arrival=0.0, queue_wait=2.0, reply_at=12.0, customer="c49")]
    assert check(queued, expected=50, workers=None, lock_ttl=120) == [
        "waits for a worker with no worker limit in messages [49]"
    ]


def test_a_next_holder_seen_early_by_less_than_the_round_trips_spread_is_not_an_overlap():
    # The first hold's key expired at 120 s as seen; the next holder saw its SET 3 ms before that.
    records = [holder(0, 0.0, 130.0, lost=True), holder(1, 119.997, 140.0)]
    overlap = ["two holders of a's lock: messages 0 and 1"]
    assert check(records, expected=2, workers=5, lock_ttl=120, rtt=0.001) == overlap
    assert check(records, expected=2, workers=5, lock_ttl=120, rtt=0.006, rtt_spread=0.005) == []
    too_early = [records[0], holder(1, 119.99, 140.0)]  # 10 ms early: more than any round trip explains
    assert check(too_early, expected=2, workers=5, lock_ttl=120, rtt=0.006, rtt_spread=0.005) == overlap


def test_a_hit_seen_late_by_its_cost_may_read_an_entry_older_than_the_ttl_as_seen_but_no_older():
    fill = rec(0, source="miss", tax_id="t", cache_checked_at=0.0)

    def hit(at):
        return rec(1, source="hit", tax_id="t", cache_checked_at=at, customer="b")

    stale = ["cache hits older than the 300 s TTL in messages [1]"]
    facts = dict(expected=2, workers=5, lock_ttl=120, cache_ttl=300.0)
    assert check([fill, hit(300.05)], **facts) == stale
    assert check([fill, hit(300.05)], **facts, hit_cost=0.1) == []
    assert check([fill, hit(300.2)], **facts, hit_cost=0.1) == stale


def test_a_fill_seen_after_the_hit_that_read_it_is_excused_only_within_the_round_trips_spread():
    fill = rec(0, source="miss", tax_id="t", cache_checked_at=10.004)
    read = rec(1, source="hit", tax_id="t", cache_checked_at=10.0, customer="b")
    facts = dict(expected=2, workers=5, lock_ttl=120, cache_ttl=300.0)
    assert check([fill, read], **facts, rtt=0.001) == ["cache hits older than the 300 s TTL in messages [1]"]
    assert check([fill, read], **facts, rtt=0.002, rtt_spread=0.003) == []
    assert check([dataclasses.replace(fill, cache_checked_at=10.01), read], **facts, rtt=0.002, rtt_spread=0.003) != []
