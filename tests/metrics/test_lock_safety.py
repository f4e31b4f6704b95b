"""Lock safety from the records, by hand: overlapping holders, stale and fenced writes; their invariants
broken on purpose; present in digests, comparisons and thresholds only when a scenario measures them."""

import math

import numpy as np
import pytest

from sim.metrics.catalog import LOCK_SAFETY_METRICS
from sim.metrics.digest import digest
from sim.metrics.invariants import LOCK_SAFETY_CHECKS, NAMES, check
from sim.metrics.lock_safety import earlier_max, lock_safety_metrics, overlapping_holders, stale_writes
from sim.metrics.records import Stored, WorldCounts
from sim.metrics.thresholds import ThresholdError, parse_threshold
from sim.scenario import ScenarioError
from sim.scenario.describe import context
from sim.world.model import simulate
from tests.metrics.test_summary import rec
from tests.world.scenario_kit import MAGNA, scenario
from tests.world.test_failover import HAND

ACCEPTED, REFUSED = Stored.ACCEPTED, Stored.REFUSED


def hold(message, customer, acquired, released, stored=ACCEPTED):
    """A message that held its conversation's lock from `acquired` to `released` and answered then."""
    return rec(message, customer, reply_at=released, acquired_at=acquired, released_at=released, stored=stored)


def test_overlapping_holders_counted_by_hand():
    records = [
        hold(0, "a", 0.0, 10.0),
        hold(1, "a", 5.0, 20.0),  # began inside 0's hold: both count
        hold(2, "a", 20.0, 30.0),  # began as 1 let go: no overlap
        hold(3, "b", 1.0, 50.0),
        hold(4, "b", 2.0, 3.0),  # inside 3's hold
        hold(5, "b", 40.0, 45.0),  # inside 3's hold too, not 4's
        hold(6, "c", 7.0, 8.0),  # alone
        rec(7, "a"),  # never held the lock
    ]
    assert overlapping_holders(records) == 5  # 0, 1, 3, 4, 5


def test_stale_writes_counted_by_hand_by_the_grants_order_not_the_writes():
    records = [
        hold(0, "a", 0.0, 50.0),  # written last, granted first, after 1 had written: stale
        hold(1, "a", 15.0, 40.0),
        hold(2, "b", 0.0, 30.0),  # written before the newer holder wrote: not stale
        hold(3, "b", 15.0, 40.0),
        hold(4, "c", 0.0, 50.0, stored=REFUSED),  # refused: not written, so not stale
        hold(5, "c", 15.0, 40.0),
        hold(6, "d", 0.0, 60.0),  # after 7 wrote, and 8 wrote: one stale write (a write is counted once)
        hold(7, "d", 10.0, 30.0),
        hold(8, "d", 35.0, 55.0),
    ]
    assert stale_writes(records) == 2  # 0 and 6
    assert lock_safety_metrics(records) == {"overlapping_holders": 9, "stale_writes": 2, "fenced_writes": 1}


def test_earlier_max_restarts_with_each_group():
    group = np.array([0, 0, 0, 1, 1, 2])
    values = np.array([3.0, 1.0, 5.0, 0.5, 0.25, 9.0])
    assert earlier_max(group, values).tolist() == [-math.inf, 3.0, 3.0, -math.inf, 0.5, -math.inf]


def test_a_run_without_holders_has_none_of_them():
    assert lock_safety_metrics([]) == {"overlapping_holders": 0, "stale_writes": 0, "fenced_writes": 0}


FENCED_FACTS = dict(expected=2, workers=4, lock_ttl=120.0, fencing=True)


def test_a_stale_write_under_fencing_breaks_its_invariant():
    stale = [hold(0, "a", 0.0, 50.0), hold(1, "a", 15.0, 40.0)]
    assert check(stale, **{**FENCED_FACTS, "restarts": (0.0,)}) == [
        "1 stale writes reached the conversation store although the lock fences them"
    ]
    assert check(stale, **{**FENCED_FACTS, "fencing": False, "restarts": (0.0,)}) == []


def test_a_store_that_counts_other_than_the_records_breaks_its_invariant():
    records = [hold(0, "a", 0.0, 10.0, stored=REFUSED), hold(1, "a", 12.0, 20.0)]
    commands, crm = sum(r.redis_commands for r in records), sum(r.crm_calls for r in records)
    world = WorldCounts(redis_commands=commands, crm_calls=crm, store_writes=2, store_refused=1)
    assert check(records, **FENCED_FACTS, world=world) == []
    assert check(records, **FENCED_FACTS, world=WorldCounts(redis_commands=commands, crm_calls=crm)) == [
        "the records show 2 writes to the conversation store (1 refused) but the store counted 0 (0 refused)"
    ]


def test_a_failover_excuses_an_overlap_as_a_restart_does():
    overlap = [hold(0, "a", 0.0, 50.0), hold(1, "a", 15.0, 40.0)]
    facts = dict(expected=2, workers=4, lock_ttl=120.0, rtt=0.001)
    assert check(overlap, **facts) == ["two holders of a's lock: messages 0 and 1"]
    assert check(overlap, **facts, failovers=(10.0,)) == []
    assert check(overlap, **facts, failovers=(16.0,)) == ["two holders of a's lock: messages 0 and 1"]  # after


def test_only_a_scenario_that_measures_lock_safety_reports_it():
    plain, failing_over = scenario(MAGNA), scenario(HAND)
    assert not plain.measures_lock_safety() and failing_over.measures_lock_safety()
    run = simulate(plain, plain.variants[0], 0)
    assert not set(LOCK_SAFETY_METRICS) & set(digest(run, context(plain)).metrics)
    run = simulate(failing_over, failing_over.variant("plain"), 0)
    found = digest(run, context(failing_over)).metrics
    assert (found["overlapping_holders"], found["stale_writes"], found["fenced_writes"]) == (2, 1, 0)
    assert LOCK_SAFETY_CHECKS <= set(NAMES)


def test_a_lock_safety_threshold_needs_a_scenario_that_measures_it():
    assert parse_threshold("fenced.stale_writes<=0", ["fenced"], lock_safety=True).metric == "stale_writes"
    with pytest.raises(ThresholdError, match="stale_writes is measured only with a failover fault"):
        parse_threshold("stale_writes<=0", ["a"], lock_safety=False)
    with pytest.raises(ScenarioError, match=r"\[scenario\]thresholds: .*measured only with a failover"):
        scenario(MAGNA, '[scenario]\nthresholds = ["stale_writes<=0"]\n')
    with pytest.raises(ScenarioError, match=r"\[scenario\]precision: fenced_writes is measured only"):
        scenario(MAGNA, '[scenario]\nprecision = "fenced_writes=1"\n')
    assert scenario(HAND, '[scenario]\nthresholds = ["fenced.stale_writes<=0"]\n').thresholds[0].variant == "fenced"
