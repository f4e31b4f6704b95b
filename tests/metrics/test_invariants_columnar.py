"""The vectorised invariants say exactly what the record-at-a-time ones said, on any records.

The oracle is the previous implementation (tests/metrics/invariants_oracle.py). Records are
drawn to collide: few customers and tax ids, times from a handful of values a few EPSILON
apart, missing times, duplicated ids, every outcome and source, debounce batches, restarts.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.metrics import invariants
from sim.metrics.columns import RecordColumns
from sim.metrics.records import MessageRecord, Outcome, Source, WorldCounts
from tests.metrics import invariants_oracle

EPS = invariants.EPSILON
# Times that tie, or sit just inside, on or outside one EPSILON (and a round trip) of each other, and some anywhere.
times = st.one_of(
    st.sampled_from(
        [0.0, 1.0, 1.0 + EPS / 2, 1.0 + EPS, 1.0 - EPS, 1.0 + 2 * EPS, 1.0 + 0.001 + EPS, 2.0, 2.0 - EPS, 2.0 + EPS]
        + [5.0, 30.0, 31.0, 120.0]
    ),
    st.floats(min_value=-2.0, max_value=200.0, allow_nan=False),
)
maybe_times = st.one_of(st.none(), times)
counts = st.integers(min_value=0, max_value=4)


@st.composite
def records(draw: st.DrawFn) -> MessageRecord:
    batch = draw(st.one_of(st.just(()), st.lists(st.integers(0, 12), max_size=3).map(tuple)))
    return MessageRecord(
        message=draw(st.integers(min_value=0, max_value=12)),
        customer=draw(st.sampled_from(["a", "b", "c"])),
        index=draw(st.integers(min_value=0, max_value=3)),
        arrival=draw(times),
        queue_wait=draw(times),
        lock_wait=draw(times),
        lock_attempts=draw(counts),
        outcome=draw(st.sampled_from(list(Outcome))),
        source=draw(st.sampled_from([None, *Source])),
        crm_s=draw(times),
        llm_s=draw(times),
        reply_at=draw(times),
        lock_lost=draw(st.booleans()),
        done_at=draw(times),
        redis_commands=draw(counts),
        cache_errors=draw(st.integers(min_value=0, max_value=1)),
        lock_errors=draw(st.integers(min_value=0, max_value=1)),
        llm_called=draw(st.booleans()),
        merged_into=draw(st.one_of(st.none(), st.integers(0, 12))),
        batch=batch,
        acquired_at=draw(maybe_times),
        started_at=draw(times),
        lock_asked_at=draw(maybe_times),
        lock_refreshed_at=draw(maybe_times),
        released_at=draw(maybe_times),
        tax_id=draw(st.sampled_from(["", "t1", "t2"])),
        cache_checked_at=draw(maybe_times),
        crm_calls=draw(counts),
        llm_calls=draw(counts),
    )


@st.composite
def facts(draw: st.DrawFn, rs: list[MessageRecord]) -> dict:
    world = draw(
        st.one_of(
            st.none(),
            st.just(
                WorldCounts(
                    redis_commands=sum(r.redis_commands for r in rs),
                    crm_calls=sum(r.crm_calls for r in rs),
                    llm_calls=sum(r.llm_calls for r in rs),
                )
            ),
            st.builds(WorldCounts, redis_commands=counts, crm_calls=counts, llm_calls=counts),
        )
    )
    return dict(
        expected=draw(st.integers(min_value=0, max_value=len(rs) + 1)),
        workers=draw(st.integers(min_value=1, max_value=4)),
        lock_ttl=draw(st.sampled_from([0.5, 5.0, 30.0, 120.0])),
        lock_timeout=draw(st.sampled_from([None, 2.0, 30.0])),
        fair=draw(st.booleans()),
        cache_ttl=draw(st.sampled_from([None, 1.0, 30.0, 300.0])),
        rtt=draw(st.sampled_from([0.0, 0.001, 1.0])),
        restarts=tuple(sorted(draw(st.lists(times, max_size=3)))),
        world=world,
    )


@settings(max_examples=400)
@given(st.lists(records(), max_size=14), st.data())
def test_the_columnar_invariants_report_what_the_per_record_ones_did(rs, data):
    known = data.draw(facts(rs), label="facts")
    expected = invariants_oracle.check(rs, **known)
    assert invariants.check(rs, **known) == expected
    assert invariants.check(RecordColumns.from_records(rs), **known) == expected


@settings(max_examples=100)
@given(st.lists(records(), min_size=1, max_size=14), st.data())
def test_each_rule_on_its_own_agrees_with_the_oracle(rs, data):
    # The same, one rule at a time: a problem in one rule cannot hide behind another's.
    known = data.draw(facts(rs), label="facts")
    columns = RecordColumns.from_records(rs)
    # Checks newer than the oracle (the conversations' own and lock safety's, which these records never have:
    # tests/metrics/test_lock_safety.py has theirs) are tested apart.
    known_to_oracle = len(invariants_oracle.CHECKS)
    older, newer = invariants.CHECKS[:known_to_oracle], invariants.CHECKS[known_to_oracle:]
    assert {name for name, _ in newer} == invariants.CONVERSATION_CHECKS | invariants.LOCK_SAFETY_CHECKS
    for (name, rule), (oracle_name, oracle_rule) in zip(older, invariants_oracle.CHECKS, strict=True):
        assert name == oracle_name
        assert rule(columns, invariants.Facts(**known)) == oracle_rule(rs, invariants_oracle.Facts(**known)), name


def _interleaved_overlaps() -> list[MessageRecord]:
    """Many customers interleaved, each with an overlap."""
    return [
        MessageRecord(
            message=m,
            customer=f"c{m % 7}",
            index=0,
            arrival=0.0,
            queue_wait=0.0,
            lock_wait=0.0,
            lock_attempts=1,
            outcome=Outcome.ANSWERED,
            source=None,
            crm_s=0.0,
            llm_s=0.0,
            reply_at=10.0 + m,
            lock_lost=False,
            done_at=10.0 + m,
            redis_commands=1,
            cache_errors=0,
            lock_errors=0,
            started_at=0.0,
            acquired_at=float(m // 7),
            lock_refreshed_at=float(m // 7),
            released_at=10.0 + m,
        )  # fmt: skip
        for m in range(40, 0, -1)
    ]


def test_a_long_run_of_holds_is_swept_per_customer_in_first_appearance_order():
    # Problems name the first five, in the oracle's order.
    rs = _interleaved_overlaps()
    known = dict(expected=40, workers=40, lock_ttl=120.0)
    assert len(invariants.check(rs, **known)) == 5  # every customer overlaps; the rule names the first five
    assert invariants.check(rs, **known) == invariants_oracle.check(rs, **known)


@settings(max_examples=150)
@given(st.lists(records(), min_size=1, max_size=14), st.data())
def test_holds_swept_in_passes_of_customers_report_what_one_sweep_does(rs, data):
    # A month's holds are swept a few hundred thousand at a time; with passes of two holds, every
    # customer split into passes still yields the oracle's problems, in its order.
    known = data.draw(facts(rs), label="facts")
    rule = dict(invariants.CHECKS)[
        "one lock holder until the hold really ended (released, TTL ran out, or Redis restarted)"
    ]
    oracle = dict(invariants_oracle.CHECKS)[
        "one lock holder until the hold really ended (released, TTL ran out, or Redis restarted)"
    ]
    columns = RecordColumns.from_records(rs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(invariants, "HOLDS_PER_PASS", 2)
        assert rule(columns, invariants.Facts(**known)) == oracle(rs, invariants_oracle.Facts(**known))


def test_the_interleaved_customers_split_into_passes_keep_the_oracles_order(monkeypatch):
    monkeypatch.setattr(invariants, "HOLDS_PER_PASS", 3)  # 40 holds of 7 customers: 14 passes
    rs = _interleaved_overlaps()
    known = dict(expected=40, workers=40, lock_ttl=120.0)
    assert len(invariants.check(rs, **known)) == 5
    assert invariants.check(rs, **known) == invariants_oracle.check(rs, **known)
