"""The invariant checker on generated runs: a simple valid schedule passes every invariant, and
one record broken in one way is reported by the invariant it breaks.

The schedule: a few customers, each with a few messages served one at a time under its lock
(acquired when the previous holder released it), the first message a cache miss that fills the
customer's entry, the later ones hits; as many workers as messages. Records are built with the
`rec` helper the other metrics tests use, so they stay valid as the record's fields change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from sim.metrics.invariants import check
from sim.metrics.records import MessageRecord, WorldCounts
from sim.metrics.summary import crm_calls, llm_calls, redis_commands
from tests.metrics.test_summary import rec

LOCK_TTL, LOCK_TIMEOUT, CACHE_TTL = 120.0, 60.0, 3600.0
seconds = st.floats(min_value=0.0, max_value=60.0)
work = st.floats(min_value=0.1, max_value=25.0)  # CRM or LLM time: never zero, so a hold has a length


@st.composite
def customer_messages(draw: st.DrawFn, customer: str) -> list[dict]:
    """One customer's messages in arrival order, each acquiring the lock after the last one released it."""
    messages, arrival, free_at = [], draw(seconds), 0.0
    for index in range(draw(st.integers(min_value=2, max_value=4))):
        arrival += draw(seconds)
        started = arrival + draw(st.floats(min_value=0.0, max_value=10.0))
        acquired = max(started, free_at)
        miss = index == 0
        crm_s, llm_s = (draw(work) if miss else 0.0), draw(work)
        reply_at = acquired + crm_s + llm_s
        messages.append(
            dict(
                customer=customer,
                index=index,
                arrival=arrival,
                queue_wait=started - arrival,
                started_at=started,
                lock_asked_at=started,
                lock_wait=acquired - started,
                acquired_at=acquired,
                source="miss" if miss else "hit",
                crm_s=crm_s,
                llm_s=llm_s,
                reply_at=reply_at,
                done_at=reply_at,
                llm_called=True,
                tax_id=f"tax-{customer}",
                cache_checked_at=acquired + crm_s if miss else acquired,  # a miss fills after its CRM call
            )
        )
        free_at = reply_at
    return messages


@st.composite
def schedules(draw: st.DrawFn) -> list[MessageRecord]:
    customers = [f"c{k}" for k in range(draw(st.integers(min_value=1, max_value=4)))]
    fields = [m for customer in customers for m in draw(customer_messages(customer))]
    return [rec(message, **f) for message, f in enumerate(fields)]


def facts(records: list[MessageRecord]) -> dict:
    """What the world counted is what the valid schedule's records say: conservation holds."""
    world = WorldCounts(
        redis_commands=redis_commands(records), crm_calls=crm_calls(records), llm_calls=llm_calls(records)
    )
    return dict(
        expected=len(records),
        workers=len(records),
        lock_ttl=LOCK_TTL,
        lock_timeout=LOCK_TIMEOUT,
        cache_ttl=CACHE_TTL,
        world=world,
    )


Mutation = Callable[[list[MessageRecord], int], MessageRecord]


def _reply_before_arrival(records, i):
    r = records[i]
    return dataclasses.replace(r, reply_at=r.arrival - 1.0, done_at=r.arrival - 1.0)


def _id_of_another_message(records, i):
    return dataclasses.replace(records[i], message=records[i - 1].message)


def _second_holder_inside_the_ttl(records, i):
    """Takes the lock halfway through the previous holder's hold (the schedule makes it the same customer's)."""
    before = records[i - 1]
    inside = (before.acquired_at + before.released_at) / 2
    return dataclasses.replace(records[i], acquired_at=inside, lock_refreshed_at=inside)


def _answer_before_the_work(records, i):
    r = records[i]
    early = r.acquired_at + (r.crm_s + r.llm_s) / 2
    return dataclasses.replace(r, reply_at=early, done_at=early, released_at=early)


def _worker_freed_before_the_reply(records, i):
    return dataclasses.replace(records[i], done_at=records[i].reply_at - 0.05)


def _negative_queue_wait(records, i):
    return dataclasses.replace(records[i], queue_wait=-0.5)


def _busy_before_the_timeout(records, i):
    return dataclasses.replace(records[i], outcome="busy", lock_wait=LOCK_TIMEOUT / 2)


def _an_uncounted_crm_call(records, i):
    return dataclasses.replace(records[i], crm_calls=records[i].crm_calls + 1)


def _an_uncounted_redis_command(records, i):
    return dataclasses.replace(records[i], redis_commands=records[i].redis_commands + 1)


def _a_hit_nobody_filled(records, i):
    return dataclasses.replace(records[i], tax_id="never-filled")


# The mutation, and the start of the problem the checker must report for it.
MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "reply before arrival": (_reply_before_arrival, "negative waits or replies before arrival"),
    "a duplicated message id": (_id_of_another_message, "{n} messages arrived but {m} distinct ones"),
    "a second holder inside the TTL": (_second_holder_inside_the_ttl, "two holders of"),
    "an answer before the lock, CRM and LLM time": (_answer_before_the_work, "answers before their lock"),
    "a worker freed before the reply": (_worker_freed_before_the_reply, "workers freed before their reply"),
    "a negative queue wait": (_negative_queue_wait, "negative waits or replies before arrival"),
    "a busy apology before the lock timeout": (_busy_before_the_timeout, "busy apologies before the"),
    "a CRM call the CRM never served": (_an_uncounted_crm_call, "the metrics count"),
    "a Redis command never sent": (_an_uncounted_redis_command, "the messages account for"),
    "a cache hit nobody filled": (_a_hit_nobody_filled, "cache hits older than the"),
}


@given(schedules())
def test_a_simple_valid_schedule_keeps_every_invariant(records):
    assert check(records, **facts(records)) == []


@given(schedules(), st.sampled_from(sorted(MUTATIONS)), st.data())
def test_one_record_broken_in_one_way_is_reported(records, name, data):
    mutate, expected = MUTATIONS[name]
    # Every mutation applies to a customer's later message: it has a predecessor (same customer,
    # the previous holder of its lock) and is a cache hit.
    i = data.draw(st.sampled_from([i for i, r in enumerate(records) if r.index > 0]), label="record")
    broken = [*records[:i], mutate(records, i), *records[i + 1 :]]
    expected = expected.format(n=len(records), m=len(records) - 1)
    problems = check(broken, **facts(records))
    assert any(problem.startswith(expected) for problem in problems), (name, problems)
