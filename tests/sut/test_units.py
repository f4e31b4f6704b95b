"""Durations in the milliseconds Redis expects (PX, PEXPIRE)."""

from __future__ import annotations

import pytest

from sim.sut.units import milliseconds


@pytest.mark.parametrize(("seconds", "expected"), [(1.5, 1500), (0.0014, 1), (0.0016, 2), (120.0, 120_000)])
def test_seconds_round_to_the_nearest_millisecond(seconds, expected):
    assert milliseconds(seconds) == expected


@pytest.mark.parametrize("seconds", [0.0, 0.0004, 1e-9])
def test_a_duration_that_rounds_to_zero_becomes_one_millisecond_because_redis_refuses_zero(seconds):
    assert milliseconds(seconds) == 1
