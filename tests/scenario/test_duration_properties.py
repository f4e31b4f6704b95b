"""Durations as a scenario file writes them: a rendered duration parses back to its seconds in every
unit, the units agree with each other, and anything that is not a duration parses to None."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.core.durations import parse_duration

SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
UNITS = st.sampled_from(sorted(SECONDS_PER_UNIT))
SPACES = st.text(alphabet=" \t", max_size=2)
MILLISECONDS = st.integers(min_value=0, max_value=1000 * 86400 * 1000)  # up to the loader's 1,000-day limit


def renderings(milliseconds: int) -> list[str]:
    """Every way a person could write this many milliseconds with a whole or decimal amount."""
    written = [f"{milliseconds}ms", f"{milliseconds / 1000}s"]
    if milliseconds % 1000 == 0:
        written.append(f"{milliseconds // 1000}s")
    if milliseconds % 60_000 == 0:
        written += [f"{milliseconds // 60_000}m", f"{milliseconds // 60_000}min"]
    if milliseconds % 3_600_000 == 0:
        written.append(f"{milliseconds // 3_600_000}h")
    return written


@given(MILLISECONDS)
def test_a_rendered_duration_parses_back_to_its_seconds_in_every_unit(milliseconds):
    for text in renderings(milliseconds):
        assert parse_duration(text) == pytest.approx(milliseconds / 1000, rel=1e-12, abs=1e-12), text


@given(st.integers(min_value=0, max_value=24_000), SPACES, SPACES, SPACES)
def test_hours_minutes_seconds_and_milliseconds_agree_with_spaces_around_the_unit(hours, before, between, after):
    amounts = {"h": hours, "m": hours * 60, "min": hours * 60, "s": hours * 3600, "ms": hours * 3_600_000}
    for unit, amount in amounts.items():
        text = f"{before}{amount}{between}{unit}{after}"
        assert parse_duration(text) == pytest.approx(hours * 3600.0), text


@given(st.one_of(st.integers(min_value=-(10**15), max_value=10**15), st.floats(allow_nan=False, allow_infinity=False)))
def test_a_plain_number_is_seconds(number):
    assert parse_duration(number) == float(number)


@given(
    st.one_of(
        st.booleans(),
        st.none(),
        st.sampled_from([math.nan, math.inf, -math.inf]),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    )
)
def test_a_boolean_nan_infinity_or_container_is_not_a_duration(value):
    assert parse_duration(value) is None


def malformed(amount: str, unit: str, mangle: int) -> str:
    """A duration broken in one way a file could break it."""
    return (
        f"-{amount}{unit}",  # negative
        f"+{amount}{unit}",  # signed
        f"{amount}e3{unit}",  # exponent
        f"{amount}",  # a string without a unit
        f"{unit}",  # a unit without an amount
        f"{amount}{unit}{amount}{unit}",  # two durations
        f"{amount},5{unit}",  # a decimal comma
        f"{amount}.{unit}",  # a dangling point
        f".{amount}{unit}",  # no whole part
        f"{amount}{unit.upper()}x",  # an unknown unit
        f"{amount} {unit} later",  # trailing words
        f"{amount}{unit}s" if unit != "m" else f"{amount}mins",  # a plural
    )[mangle]


@given(st.integers(min_value=0, max_value=10**6).map(str), UNITS, st.integers(min_value=0, max_value=11))
def test_a_malformed_duration_string_is_none(amount, unit, mangle):
    assert parse_duration(malformed(amount, unit, mangle)) is None


@given(st.one_of(st.text(max_size=12), st.text(alphabet="0123456789. smhin\t", max_size=12)))
def test_any_string_is_none_or_a_non_negative_number_of_seconds(text):
    seconds = parse_duration(text)
    assert seconds is None or seconds >= 0  # never negative, never NaN (the loader bounds it from above)
