"""Retry policies keep their bounds for any base, factor, cap, attempt number and random draw.

Parameters roam as widely as a scenario allows (`sim/scenario/model.py`: base ≥ 1 ms, factor ≥ 1,
cap ≥ base); draws are uniform floats in [0, 1) including both ends' extremes, as the policies'
`rand` promises.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from sim.sut.retry import DecorrelatedJitter, EqualJitter, Exponential, FullJitter

bases = st.floats(min_value=0.001, max_value=3600.0)
factors = st.floats(min_value=1.0, max_value=1000.0)
cap_multiples = st.floats(min_value=1.0, max_value=1e6)
attempts = st.integers(min_value=1, max_value=10_000)
draws = st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), min_size=1, max_size=50)


@st.composite
def exponentials(draw: st.DrawFn) -> Exponential:
    base = draw(bases)
    return Exponential(base=base, factor=draw(factors), cap=base * draw(cap_multiples))


def cycling(values: list[float]):
    """A `rand` that replays the drawn values in a loop."""
    return itertools.cycle(values).__next__


@given(exponentials(), attempts)
def test_exponential_delay_is_within_zero_and_the_cap(policy, attempt):
    assert 0 <= policy.delay(attempt) <= policy.cap


@given(exponentials(), st.integers(min_value=1, max_value=200))
def test_exponential_never_shrinks_and_stays_at_the_cap_once_reached(policy, last):
    waits = [policy.delay(n) for n in range(1, last + 1)]
    assert all(a <= b for a, b in itertools.pairwise(waits))
    reached = next((i for i, wait in enumerate(waits) if wait == policy.cap), len(waits))
    assert all(wait == policy.cap for wait in waits[reached:])


@given(exponentials(), attempts, draws)
def test_full_jitter_is_within_zero_and_the_exponential_wait(backoff, attempt, values):
    policy = FullJitter(backoff, rand=cycling(values))
    for _ in values:
        assert 0 <= policy.delay(attempt) <= backoff.delay(attempt) <= backoff.cap


@given(exponentials(), attempts, draws)
def test_equal_jitter_is_within_half_and_all_of_the_exponential_wait(backoff, attempt, values):
    policy = EqualJitter(backoff, rand=cycling(values))
    exponential = backoff.delay(attempt)
    for _ in values:
        assert exponential / 2 <= policy.delay(attempt) <= exponential <= backoff.cap


@given(bases, cap_multiples, draws, st.integers(min_value=1, max_value=100))
def test_decorrelated_jitter_is_within_base_and_cap_and_at_most_three_times_the_last_wait(base, multiple, values, n):
    policy = DecorrelatedJitter(base=base, cap=base * multiple, rand=cycling(values))
    previous = base
    for attempt in range(1, n + 1):
        wait = policy.delay(attempt)
        assert base <= wait <= policy.cap
        assert wait <= 3 * previous * (1 + 1e-12)  # uniform(base, 3 × previous), up to one rounding
        previous = wait


@given(st.integers(min_value=1, max_value=10_000))
def test_the_seeds_backoff_waits_100_200_400_800_1600_then_2000_ms_forever(attempt):
    expected_ms = (100, 200, 400, 800, 1600)[attempt - 1] if attempt <= 5 else 2000
    assert round(Exponential(base=0.1, factor=2, cap=2.0).delay(attempt) * 1000) == expected_ms
