"""The invariant checker catches what it promises to catch, and real runs keep every invariant."""

import dataclasses

from sim.experiment import run_once
from sim.metrics.invariants import NAMES, check
from sim.metrics.records import WorldCounts
from sim.scenario import load_scenario
from sim.world.model import simulate
from tests.helpers import SCENARIOS
from tests.metrics.test_summary import rec


def test_bundled_scenarios_keep_every_invariant():
    for name in ("magna", "peak-hour"):
        for result in run_once(load_scenario(SCENARIOS / f"{name}.toml")).values():
            assert result.run.violations == ()


def test_a_pool_saturated_for_an_hour_runs_clean():
    # Five workers for the peak hour: a queue all hour long, where round-off once faked two messages on one worker.
    scenario = load_scenario(SCENARIOS / "peak-hour.toml")
    variant = dataclasses.replace(scenario.variant("after"), workers=5)
    run = simulate(scenario, variant, 0)
    waits = sorted(r.queue_wait for r in run.records)
    assert waits[len(waits) // 2] > 60  # saturated: the median message queued over a minute
    assert run.violations == ()


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


def test_a_worker_taken_again_at_the_instant_it_was_freed_is_one_worker_despite_round_off():
    first = rec(0, arrival=0.1, queue_wait=0.0, reply_at=0.3, done_at=0.1 + 0.2)  # 0.30000000000000004
    second = rec(1, arrival=0.2, queue_wait=0.1, started_at=0.3, reply_at=1.0, customer="b")
    assert first.done_at > second.started_at  # by 5.6e-17 s
    assert check([first, second], expected=2, workers=1, lock_ttl=120) == []


def test_an_answer_sooner_than_its_lock_crm_and_llm_time_is_reported():
    early = rec(0, acquired_at=5.0, crm_s=3.0, llm_s=3.0, reply_at=10.0)
    assert check([early], expected=1, workers=5, lock_ttl=120) == [
        "answers before their lock + CRM + LLM time in messages [0]"
    ]
    on_time = rec(0, acquired_at=4.0, crm_s=3.0, llm_s=3.0, reply_at=10.0)
    assert check([on_time], expected=1, workers=5, lock_ttl=120) == []


def test_a_worker_freed_before_its_reply_is_reported():
    assert check([rec(0, reply_at=10.0, done_at=9.0)], expected=1, workers=5, lock_ttl=120) == [
        "workers freed before their reply in messages [0]"
    ]


def test_a_busy_apology_before_the_lock_timeout_is_reported_unless_redis_errored():
    def busy(wait, errors=0):
        return rec(0, outcome="busy", source=None, lock_wait=wait, reply_at=wait, lock_errors=errors)

    facts = dict(expected=1, workers=5, lock_ttl=120, lock_timeout=30.0)
    assert check([busy(10.0)], **facts) == ["busy apologies before the 30 s lock timeout in messages [0]"]
    assert check([busy(10.0, errors=1)], **facts) == []
    assert check([busy(30.0 - 1e-10)], **facts) == []  # the lock's last attempt is "at" its deadline


def holder(message, acquired, released, refreshed=None, lost=False):
    return rec(message, arrival=acquired, acquired_at=acquired, reply_at=released, released_at=released,
               lock_refreshed_at=acquired if refreshed is None else refreshed, lock_lost=lost)  # fmt: skip


def test_two_holders_inside_the_ttl_are_reported_but_not_after_it_expired():
    overlapping = [holder(0, 0.0, 30.0), holder(1, 10.0, 40.0)]
    assert check(overlapping, expected=2, workers=5, lock_ttl=120) == ["two holders of a's lock: messages 0 and 1"]
    assert check(overlapping, expected=2, workers=5, lock_ttl=5) == []  # the first lock expired at t = 5 s


def test_a_lost_flag_does_not_excuse_an_overlap_inside_the_first_holders_ttl():
    # Lost later (its TTL ran out at 120 s), but at 10 s the first holder's key was still live.
    lost = [holder(0, 0.0, 130.0, lost=True), holder(1, 10.0, 40.0)]
    assert check(lost, expected=2, workers=5, lock_ttl=120) == ["two holders of a's lock: messages 0 and 1"]


def test_an_overlap_while_the_watchdog_kept_the_first_hold_alive_is_reported():
    # TTL 15 s, extended at 20 s: the first hold lasted until 35 s at least, not 15 s.
    extended = [holder(0, 0.0, 50.0, refreshed=20.0), holder(1, 30.0, 60.0)]
    assert check(extended, expected=2, workers=5, lock_ttl=15) == ["two holders of a's lock: messages 0 and 1"]
    ran_out = [holder(0, 0.0, 50.0, refreshed=10.0, lost=True), holder(1, 30.0, 60.0)]  # expired at 25 s
    assert check(ran_out, expected=2, workers=5, lock_ttl=15) == []


def test_an_overlap_across_a_redis_restart_is_a_finding_not_a_bug():
    overlapping = [holder(0, 0.0, 30.0, lost=True), holder(1, 10.0, 40.0)]
    assert check(overlapping, expected=2, workers=5, lock_ttl=120, restarts=(5.0,)) == []
    assert check(overlapping, expected=2, workers=5, lock_ttl=120, restarts=(12.0,)) != []


def test_a_message_in_two_debounce_batches_is_reported():
    records = [rec(0, batch=(2,)), rec(1, batch=(2,)), rec(2, outcome="answered", merged_into=0)]
    assert check(records, expected=3, workers=5, lock_ttl=120) == [
        "messages answered in more than one debounce batch: [2]"
    ]


def test_a_fair_lock_granting_out_of_queue_order_is_reported():
    first = holder(0, 5.0, 6.0)
    second = holder(1, 3.0, 4.0)
    records = [dataclasses.replace(first, lock_asked_at=0.0), dataclasses.replace(second, lock_asked_at=1.0)]
    assert check(records, expected=2, workers=5, lock_ttl=120) == []  # a polling lock promises no order
    assert check(records, expected=2, workers=5, lock_ttl=120, fair=True) == [
        "a's fair lock granted message 1 before 0, queued earlier"
    ]


def test_a_cache_hit_older_than_the_ttl_is_reported():
    fill = rec(0, source="miss", tax_id="t", cache_checked_at=0.0)

    def hit(at):
        return rec(1, source="hit", tax_id="t", cache_checked_at=at, customer="b")

    assert check([fill, hit(200.0)], expected=2, workers=5, lock_ttl=120, cache_ttl=300.0) == []
    assert check([fill, hit(400.0)], expected=2, workers=5, lock_ttl=120, cache_ttl=300.0) == [
        "cache hits older than the 300 s TTL in messages [1]"
    ]
    failed_fill = dataclasses.replace(fill, cache_errors=1)  # its write failed: nothing was stored
    assert check([failed_fill, hit(200.0)], expected=2, workers=5, lock_ttl=120, cache_ttl=300.0) != []


def world(records, **changes):
    counted = WorldCounts(
        redis_commands=sum(r.redis_commands for r in records),
        crm_calls=sum(r.crm_calls for r in records),
        llm_calls=sum(r.llm_calls for r in records),
    )
    return dataclasses.replace(counted, **changes)


def test_counts_that_add_up_to_the_worlds_hold():
    records = [rec(0, llm_called=True), rec(1, source="hit", customer="b")]
    assert check(records, expected=2, workers=5, lock_ttl=120, world=world(records)) == []


def test_redis_commands_not_adding_up_to_what_was_sent_are_reported():
    records = [rec(0)]  # 3 commands
    assert check(records, expected=1, workers=5, lock_ttl=120, world=world(records, redis_commands=5)) == [
        "the messages account for 3 Redis commands of 5 sent"
    ]


def test_crm_and_llm_calls_not_adding_up_to_the_calls_served_are_reported():
    records = [rec(0, llm_called=True)]
    counted = world(records, crm_calls=2, llm_calls=0)
    assert check(records, expected=1, workers=5, lock_ttl=120, world=counted) == [
        "the metrics count 1 CRM calls but the CRM served 2",
        "the metrics count 1 LLM calls but the LLM served 0",
    ]


def test_a_command_answered_while_redis_was_down_is_reported():
    records = [rec(0)]
    counted = world(records, succeeded_while_down=2)
    assert check(records, expected=1, workers=5, lock_ttl=120, world=counted) == [
        "2 Redis commands succeeded while Redis was down"
    ]


def test_keys_left_after_the_drain_are_reported():
    records = [rec(0)]
    counted = world(records, leftover_keys=("lock:thread:thread_a",))
    assert check(records, expected=1, workers=5, lock_ttl=120, world=counted) == [
        "1 lock, queue, grant or batch keys left after the drain: ['lock:thread:thread_a']"
    ]


def test_the_conservation_checks_are_named_for_the_report():
    assert "Redis commands per message add up to the commands sent" in NAMES
    assert "CRM and LLM calls in the metrics equal the calls served" in NAMES
