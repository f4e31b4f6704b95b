"""The metrics of customers who wait for answers: by hand, on runs whose values follow from the
scenario, in the digest only when the scenario has conversations, and their invariant broken on purpose."""

import math

import pytest

from sim.metrics.catalog import CONVERSATION_METRICS, METRICS
from sim.metrics.conversations import conversation_metrics
from sim.metrics.digest import digest
from sim.metrics.invariants import check
from sim.metrics.records import ConversationRecord, MessageKind
from sim.scenario import ScenarioError
from sim.scenario.describe import context
from sim.world.model import simulate
from tests.metrics.test_summary import rec
from tests.world.scenario_kit import MAGNA, run, scenario
from tests.world.test_conversations import EVERYONE_GIVES_UP, TALK

INTENT, NUDGE, RESEND = MessageKind.INTENT, MessageKind.NUDGE, MessageKind.RESEND


def talk(burst, sent, messages, *, intents, answered, gave_up_at=None, dropped=()):
    return ConversationRecord(
        burst=burst,
        customer=f"w{burst}",
        started=0.0,
        intents=intents,
        answered=answered,
        sent=sent,
        messages=messages,
        gave_up_at=gave_up_at,
        dropped=dropped,
    )


HAND = (
    talk(0, (INTENT, NUDGE, INTENT), (0, 1, 2), intents=2, answered=2),
    # Gave up after two nudges; its second nudge was still queued, so it was dropped; 2 intents never sent.
    talk(1, (INTENT, NUDGE, NUDGE), (3, 4, 5), intents=3, answered=0, gave_up_at=40.0, dropped=(5,)),
    talk(2, (INTENT, NUDGE, RESEND), (6, 7, 8), intents=1, answered=1),
)


def test_the_metrics_of_three_conversations_counted_by_hand():
    found = conversation_metrics(HAND)
    assert list(found) == list(CONVERSATION_METRICS)
    assert found == {
        "conversations": 3,
        "abandon_rate": pytest.approx(1 / 3),  # one of three left
        "intents_answered_rate": 0.5,  # 2 + 0 + 1 of the 2 + 3 + 1 intents they came with
        "nudges_per_intent": 1.0,  # 1 + 2 + 1 nudges over the 4 intents sent
        "resends_per_intent": 0.25,  # one re-send over 4 intents sent
        "dropped_messages": 1,
    }


def test_without_conversations_there_are_none_and_the_rates_do_not_apply():
    found = conversation_metrics(())
    assert (found["conversations"], found["dropped_messages"]) == (0, 0)
    assert all(math.isnan(found[m]) for m in ("abandon_rate", "intents_answered_rate", "nudges_per_intent"))


def test_customers_whose_patience_runs_out_twice_before_every_answer_nudge_exactly_twice_per_intent():
    # LLM 20 s, patience 7 s, two nudges allowed, nobody gives up: every intent is nudged at 7 s and 14 s.
    result = run(TALK, '[workload.conversations]\nmessages = 2\nimpatience = "7s"\nmax_nudges = 2\n')
    found = conversation_metrics(result.conversations)
    assert found["conversations"] == len(result.conversations) >= 5
    assert found["nudges_per_intent"] == 2.0
    assert (found["abandon_rate"], found["intents_answered_rate"], found["resends_per_intent"]) == (0.0, 1.0, 0.0)
    assert found["dropped_messages"] == 0


def test_customers_who_all_give_up_answered_nothing_and_the_dropped_are_the_messages_without_a_record():
    # One worker, 100 s answers, 30 s patience, give_up = 1: every customer leaves before its answer.
    s = scenario(TALK, EVERYONE_GIVES_UP)
    result = simulate(s, s.variants[0], 0)
    assert result.violations == ()
    found = digest(result, context(s)).metrics
    assert (found["abandon_rate"], found["intents_answered_rate"], found["nudges_per_intent"]) == (1.0, 0.0, 0.0)
    sent = sum(len(t.messages) for t in result.conversations)
    assert found["dropped_messages"] == sent - len(result.records) > 0
    assert found["conversations"] == len(result.conversations)


def test_the_digest_has_conversation_metrics_only_when_the_scenario_has_conversations():
    magna = scenario(MAGNA)
    assert list(digest(simulate(magna, magna.variants[0], 0), context(magna)).metrics) == list(METRICS)
    # A scenario with conversations whose run opened none still reports them: 0 conversations (a rate so low
    # none opens; a rate of 0 is an empty workload, refused).
    quiet = scenario(TALK, "[workload.conversations]\nsessions_per_hour = 1e-9\n")
    found = digest(simulate(quiet, quiet.variants[0], 0), context(quiet)).metrics
    assert list(found) == [*METRICS, *CONVERSATION_METRICS]
    assert found["conversations"] == 0 and math.isnan(found["abandon_rate"])


def test_same_seed_same_conversation_metrics_another_replication_other_ones():
    extra = '[workload.conversations]\nimpatience = { dist = "exponential", mean = "15s" }\ngive_up = 0.5\n'
    s = scenario(TALK, extra)
    first, again, other = (digest(simulate(s, s.variants[0], r), context(s)).metrics for r in (0, 0, 1))
    names = list(CONVERSATION_METRICS)
    assert [first[m] for m in names] == [again[m] for m in names]
    assert [first[m] for m in names] != [other[m] for m in names]


# ------------------------------------------------------------------ the invariant


def served(message, burst, index):
    return rec(message, customer=f"w{burst}", burst=burst, index=index, arrival=float(message), reply_at=50.0)


def test_conversations_whose_messages_are_their_records_and_their_dropped_ones_keep_the_invariant():
    records = [served(m, b, i) for b, i, m in ((0, 0, 0), (0, 1, 1), (0, 2, 2), (1, 0, 3), (1, 1, 4))]
    records += [served(m, 2, i) for i, m in enumerate((6, 7, 8))]
    assert check(records, expected=9, workers=50, lock_ttl=120, dropped=1, conversations=HAND) == []


def test_a_sent_message_neither_served_nor_dropped_breaks_the_invariant():
    records = [served(0, 0, 0), served(1, 0, 1)]
    lost = talk(0, (INTENT, NUDGE, NUDGE), (0, 1, 2), intents=1, answered=1)  # message 2 vanished
    problems = check(records, expected=2, workers=50, lock_ttl=120, conversations=(lost,))
    assert problems == [
        "the conversations sent 3 messages that were served, their bursts hold 2 records, and these do not match "
        "message for message (id, burst, place in the conversation)"
    ]


def test_a_record_at_the_wrong_place_in_its_conversation_breaks_the_invariant():
    records = [served(0, 0, 0), served(1, 0, 0)]  # the nudge recorded as the conversation's first message
    right = talk(0, (INTENT, NUDGE), (0, 1), intents=1, answered=1)
    assert len(check(records, expected=2, workers=50, lock_ttl=120, conversations=(right,))) == 1


def test_dropped_messages_the_world_did_not_count_break_the_invariant():
    records = [served(0, 0, 0)]
    left = talk(0, (INTENT, NUDGE), (0, 1), intents=1, answered=0, gave_up_at=30.0, dropped=(1,))
    problems = check(records, expected=1, workers=50, lock_ttl=120, dropped=0, conversations=(left,))
    assert problems == ["the conversations list 1 dropped messages but 0 were dropped"]


def test_more_intents_sent_than_the_customer_came_with_or_answered_than_sent_breaks_the_invariant():
    records = [served(0, 0, 0), served(1, 0, 1)]
    greedy = talk(0, (INTENT, INTENT), (0, 1), intents=1, answered=3)
    assert check(records, expected=2, workers=50, lock_ttl=120, conversations=(greedy,)) == [
        "conversation 0 (w0): 2 intents sent of the 1 it came with",
        "conversation 0 (w0): 3 intents answered of 2 sent",
    ]


# ------------------------------------------------------------------ names in thresholds and --precision


def test_a_threshold_or_precision_on_a_conversation_metric_needs_conversations():
    with pytest.raises(ScenarioError, match=r"abandon_rate needs customers who wait for answers"):
        scenario(MAGNA, '[scenario]\nthresholds = ["abandon_rate < 10%"]\n')
    with pytest.raises(ScenarioError, match=r"\[scenario\]precision: nudges_per_intent needs customers who wait"):
        scenario(MAGNA, '[scenario]\nprecision = "nudges_per_intent=0.1"\n')
    s = scenario(TALK, '[scenario]\nthresholds = ["abandon_rate < 10%"]\nprecision = "nudges_per_intent=0.1"\n')
    assert (s.thresholds[0].metric, s.thresholds[0].limit) == ("abandon_rate", 0.1)
    assert s.precision[0].metric == "nudges_per_intent"
