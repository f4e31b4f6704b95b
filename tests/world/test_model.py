"""End-to-end runs of bundled scenarios: the seed's story and the run's invariants."""

import pytest

from sim.experiment import run_once
from sim.run.workload import arrivals
from sim.scenario import load_scenario
from tests.helpers import SCENARIOS


@pytest.fixture(scope="module")
def magna():
    return run_once(load_scenario(SCENARIOS / "magna.toml"))


def test_magna_before_gives_at_least_one_busy_apology(magna):
    assert magna["before"].metrics["busy"] >= 1


def test_magna_after_answers_everything_with_one_crm_call(magna):
    after = magna["after"]
    assert after.metrics["busy"] == 0
    assert after.metrics["answered"] == 3
    assert after.metrics["crm_calls"] == 1
    later = [r for r in after.run.records if r.index > 0]
    assert [r.source for r in later] == ["hit", "hit"]


def test_magna_before_calls_the_crm_for_every_answered_message(magna):
    before = magna["before"]
    assert before.metrics["crm_calls"] == before.metrics["answered"]


def test_magna_holds_for_every_replication():
    scenario = load_scenario(SCENARIOS / "magna.toml")
    for replication in range(scenario.replications):
        runs = run_once(scenario, replication)
        assert runs["before"].metrics["busy"] >= 1
        assert runs["after"].metrics["busy"] == 0


@pytest.fixture(scope="module")
def peak():
    return run_once(load_scenario(SCENARIOS / "peak-hour.toml"))


def test_every_message_gets_exactly_one_outcome(peak):
    for result in peak.values():
        records = result.run.records
        assert [r.message for r in records] == list(range(len(records)))
        assert all(r.outcome in ("answered", "busy", "failed") for r in records)
        m = result.metrics
        assert m["answered"] + m["busy"] + m["failed"] == m["messages"] == len(records)


def test_waits_are_never_negative_and_replies_follow_arrivals(peak):
    for result in peak.values():
        for r in result.run.records:
            assert r.queue_wait >= 0 and r.lock_wait >= 0
            assert r.arrival <= r.reply_at <= r.done_at


def test_variants_see_the_same_customers_at_the_same_instants(peak):
    before, after = (peak[v].run.records for v in ("before", "after"))
    assert [(r.customer, r.index, r.arrival) for r in before] == [(r.customer, r.index, r.arrival) for r in after]


def test_every_answered_message_met_its_planned_llm_latency_in_both_variants(peak):
    before, after = (peak[v].run.records for v in ("before", "after"))
    for b, a in zip(before, after, strict=True):
        if b.outcome == a.outcome == "answered":
            assert b.llm_s == pytest.approx(a.llm_s)


def test_busy_messages_never_reach_the_outage_check(peak):
    for result in peak.values():
        assert all(r.source is None for r in result.run.records if r.outcome == "busy")


def test_another_replication_draws_other_customers():
    scenario = load_scenario(SCENARIOS / "peak-hour.toml")
    first, second = arrivals(scenario, 0), arrivals(scenario, 1)
    assert first.at[:20].tolist() != second.at[:20].tolist()
