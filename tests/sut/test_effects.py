"""A step that yields something other than an effect is a bug in that step: the error says where."""

from __future__ import annotations

import pytest

from sim.sut.effects import NOW, Sleep
from tests.helpers import Harness


def yields_a_number():
    yield NOW
    yield 42  # not an effect


def delegates_to_a_bad_step():
    yield Sleep(1.0)
    return (yield from yields_a_number())


def _line_of_42() -> int:
    return yields_a_number.__code__.co_firstlineno + 2


def test_the_production_driver_names_the_file_line_and_function_of_a_bad_yield():
    with pytest.raises(TypeError) as raised:
        Harness().run(yields_a_number())
    assert str(raised.value) == f"42 is not an effect: yielded at {__file__}:{_line_of_42()} in yields_a_number"


def test_a_bad_yield_inside_yield_from_is_reported_where_it_was_written_not_where_it_was_delegated():
    with pytest.raises(TypeError, match=rf"yielded at .*test_effects\.py:{_line_of_42()} in yields_a_number$"):
        Harness().run(delegates_to_a_bad_step())
