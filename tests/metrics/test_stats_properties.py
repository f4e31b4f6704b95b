"""Confidence intervals behave as intervals must, for any replications a run can produce."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sim.metrics.stats import mean_ci, paired_difference, welch_difference

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
samples = st.lists(values, min_size=1, max_size=40)
spread_samples = st.lists(values, min_size=2, max_size=40).filter(lambda xs: max(xs) - min(xs) > 1e-3)


@given(samples)
def test_the_interval_contains_the_mean(xs):
    estimate = mean_ci(xs)
    assert estimate.low <= estimate.mean <= estimate.high
    assert estimate.n == len(xs)


@given(spread_samples, st.integers(min_value=2, max_value=5))
def test_the_same_spread_measured_over_more_replications_gives_a_narrower_interval(xs, copies):
    # The sample repeated: the same mean and spread, more replications.
    once, repeated = mean_ci(xs), mean_ci(xs * copies)
    assert repeated.mean == pytest.approx(once.mean, abs=1e-6)
    assert repeated.high - repeated.low < once.high - once.low


@given(samples)
def test_the_paired_difference_of_identical_samples_is_exactly_zero(xs):
    estimate = paired_difference(xs, xs)
    assert (estimate.mean, estimate.low, estimate.high) == (0.0, 0.0, 0.0)
    assert not estimate.excludes_zero()


@given(samples, samples)
@example(new=[0.0, 0.0], old=[0.0, 5.871466235332542e-92])  # once 0/0 in the degrees of freedom: variance² underflowed
def test_welch_swapped_is_the_same_interval_with_the_sign_flipped(new, old):
    forward, backward = welch_difference(new, old), welch_difference(old, new)
    assert backward.mean == pytest.approx(-forward.mean, rel=1e-12, abs=1e-9)
    assert backward.low == pytest.approx(-forward.high, rel=1e-12, abs=1e-9)
    assert backward.high == pytest.approx(-forward.low, rel=1e-12, abs=1e-9)
    assert backward.n == forward.n
    assert forward.excludes_zero() == backward.excludes_zero()


@given(samples, samples)
def test_the_welch_interval_contains_its_difference(new, old):
    estimate = welch_difference(new, old)
    assert estimate.low <= estimate.mean <= estimate.high


@given(spread_samples, st.floats(min_value=-1e5, max_value=1e5))
def test_welch_of_a_sample_against_itself_shifted_is_centred_on_the_shift(xs, shift):
    estimate = welch_difference([x + shift for x in xs], xs)
    assert estimate.mean == pytest.approx(shift, abs=1e-6)
    assert estimate.low <= estimate.mean <= estimate.high
