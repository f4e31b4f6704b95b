"""Customers who wait for answers (`[workload.conversations]`): each behaviour pinned on a small run."""

import dataclasses

import pytest

from sim.metrics.records import MessageKind, Outcome
from sim.world.model import simulate
from tests.world.scenario_kit import run, scenario

EXACT = 1e-9

# Distinct customers, no lock or cache contention between them, plenty of workers: each
# conversation's timing is its own.
TALK = """
[scenario]
seed = 5
duration = "30m"
[workload]
[workload.conversations]
sessions_per_hour = 20
messages = 3
think = "5s"
impatience = "1000h"
[services]
crm = 0
llm = "20s"
[workers]
count = 50
[lock]
timeout = "1000h"
ttl = "1000h"
"""

# One worker, 100 s answers, 30 s patience, give_up = 1: every customer leaves before its answer.
EVERYONE_GIVES_UP = """
[workload.conversations]
sessions_per_hour = 60
impatience = "30s"
give_up = 1
[services]
llm = "100s"
[workers]
count = 1
"""


def by_message(result):
    return {r.message: r for r in result.records}


def test_a_customer_sends_its_next_intent_a_think_time_after_the_reply_not_after_the_worker_is_free():
    result = run(TALK)
    records = by_message(result)
    assert len(result.conversations) >= 5
    for talk in result.conversations:
        assert talk.sent == (MessageKind.INTENT,) * 3 and talk.answered == 3
        sent = [records[m] for m in talk.messages]
        assert [r.index for r in sent] == [0, 1, 2]
        assert {r.burst for r in sent} == {talk.burst}
        for before, after in zip(sent[:-1], sent[1:], strict=True):
            # the worker frees itself one round trip after the reply (the release): the customer does not wait for it
            assert before.done_at > before.reply_at
            assert after.arrival == pytest.approx(before.reply_at + 5.0, abs=EXACT)


def test_an_impatient_customer_nudges_exactly_when_its_patience_runs_out_and_at_most_max_nudges_times():
    result = run(TALK, '[workload.conversations]\nmessages = 1\nimpatience = "7s"\nmax_nudges = 2\n')
    records = by_message(result)
    for talk in result.conversations:
        assert talk.sent == (MessageKind.INTENT, MessageKind.NUDGE, MessageKind.NUDGE)
        intent, first, second = (records[m].arrival for m in talk.messages)
        assert first == pytest.approx(intent + 7.0, abs=EXACT)
        assert second == pytest.approx(first + 7.0, abs=EXACT)  # the patience starts again at each nudge
        assert talk.answered == 1 and talk.gave_up_at is None


def test_a_reply_within_the_patience_means_no_nudge():
    result = run(TALK, '[workload.conversations]\nimpatience = "21s"\n')  # the LLM answers in 20 s
    assert all(talk.sent == (MessageKind.INTENT,) * 3 for talk in result.conversations)


def test_a_customer_who_gives_up_leaves_and_its_queued_message_is_dropped_unserved():
    # One worker and 100 s answers: whoever is not picked up within 30 s leaves, and every customer's
    # patience (30 s) runs out before its answer, so every customer leaves at exactly +30 s.
    result = run(TALK, EVERYONE_GIVES_UP)
    records = by_message(result)
    talks = result.conversations
    dropped = [m for talk in talks for m in talk.dropped]
    assert dropped and len(dropped) < len(talks)
    for talk in talks:
        assert talk.sent == (MessageKind.INTENT,)  # it left: the rest of its intents were never sent
        assert talk.gave_up_at == pytest.approx(talk.started + 30.0, abs=EXACT)
        (message,) = talk.messages
        if talk.dropped:
            assert message not in records
        else:
            assert records[message].queue_wait <= 30.0 + EXACT  # picked up before it left: served
    assert len(result.records) + len(dropped) == sum(len(t.messages) for t in talks)


def test_a_busy_apology_makes_the_customer_resend_the_intent_after_its_delay():
    # The lock waits 10 s; the first answer takes 60 s; the customer nudges at 3 s; the nudge waits for the
    # lock and gets the busy apology at 13 s; the customer re-sends the intent 2 s after it.
    result = run(
        TALK,
        """
        [workload.conversations]
        sessions_per_hour = 4
        messages = 1
        impatience = "3s"
        max_nudges = 1
        resend = 1
        resend_delay = "2s"
        max_resends = 1
        [services]
        llm = "60s"
        [lock]
        timeout = "10s"
        """,
    )
    records = by_message(result)
    assert result.conversations
    for talk in result.conversations:
        assert talk.sent == (MessageKind.INTENT, MessageKind.NUDGE, MessageKind.RESEND)
        _, nudge, resend = (records[m] for m in talk.messages)
        assert nudge.outcome == Outcome.BUSY
        assert resend.arrival == pytest.approx(nudge.reply_at + 2.0, abs=EXACT)
        assert talk.answered == 1


def test_same_seed_same_conversations_and_records():
    extra = '[workload]\ncustomers_per_hour = 30\nburst_size = 2\n[workload.conversations]\nimpatience = "8s"\n'
    first, second = run(TALK, extra), run(TALK, extra)
    assert first.conversations == second.conversations
    assert list(first.records) == list(second.records)
    assert first.conversations != run(TALK, extra, replication=1).conversations


def test_two_variants_see_the_same_customers_make_the_same_choices():
    text = """
    [workload.conversations]
    sessions_per_hour = 60
    messages = { dist = "uniform", low = 1, high = 4 }
    think = { dist = "exponential", mean = "10s" }
    impatience = { dist = "exponential", mean = "30s" }
    give_up = 0.3
    [services]
    llm = { dist = "exponential", mean = "20s" }
    [workers]
    count = 3
    [variants.a]
    [variants.a-quiet]
    lock = { log_every = 1000 }
    [variants.b]
    workers = { count = 1 }
    """
    s = scenario(TALK, text)
    a, quiet, b = (simulate(s, v, 0) for v in s.variants)
    assert a.violations == quiet.violations == b.violations == ()
    # A setting that changes no reply: every customer does exactly the same.
    assert a.conversations == quiet.conversations and list(a.records) == list(quiet.records)
    # One worker instead of three: other replies, other waits, but the same customers, arriving at the same
    # instants with the same intents, and their first messages needing the same LLM time.
    assert [(t.customer, t.started, t.intents) for t in a.conversations] == [
        (t.customer, t.started, t.intents) for t in b.conversations
    ]
    assert [t.sent for t in a.conversations] != [t.sent for t in b.conversations]
    first_llm = [{r.burst: r.llm_s for r in run.records if r.index == 0 and r.llm_called} for run in (a, b)]
    shared = first_llm[0].keys() & first_llm[1].keys()
    assert len(shared) > 10
    # the same draw, measured as a difference of two instants on another clock reading
    assert all(first_llm[0][k] == pytest.approx(first_llm[1][k], abs=1e-6) for k in shared)
    assert len({round(first_llm[0][k], 3) for k in shared}) > 10  # drawn, not one fixed value


def test_conversations_leave_the_open_loop_bursts_as_they_were():
    bursts = '[workload]\ncustomers_per_hour = 60\nburst_size = { dist = "uniform", low = 1, high = 3 }\n'
    alone = scenario(TALK, bursts)
    without = dataclasses.replace(alone, workload=dataclasses.replace(alone.workload, conversations=None))
    mixed, open_only = simulate(alone, alone.variants[0], 0), simulate(without, without.variants[0], 0)
    assert mixed.violations == open_only.violations == ()
    first_conversation = min(t.burst for t in mixed.conversations)
    kept = [(r.message, r.customer, r.arrival, r.llm_s) for r in mixed.records if r.burst < first_conversation]
    assert kept == [(r.message, r.customer, r.arrival, r.llm_s) for r in open_only.records]
    assert open_only.conversations == ()
