"""The simulated driver: a step that yields something other than an effect is reported where it did."""

from __future__ import annotations

import pytest
import simpy

from sim.sut.effects import NOW, Sleep
from sim.world import fakeredis_clock
from sim.world.driver import SimDriver
from sim.world.executors import DirectExecutor


def yields_a_number():
    yield Sleep(1.0)
    yield 42  # not an effect


def delegates_to_a_bad_step():
    yield NOW
    return (yield from yields_a_number())


def _run(step) -> None:
    env = simpy.Environment()
    driver = SimDriver(env, DirectExecutor(fakeredis_clock.clocked_server(lambda: env.now)), rtt=0.001)
    env.process(driver.run(step))
    env.run()


def _line_of_42() -> int:
    return yields_a_number.__code__.co_firstlineno + 2


def test_the_simulated_driver_names_the_file_line_and_function_of_a_bad_yield():
    with pytest.raises(TypeError) as raised:
        _run(yields_a_number())
    assert str(raised.value) == f"42 is not an effect: yielded at {__file__}:{_line_of_42()} in yields_a_number"


def test_a_bad_yield_inside_yield_from_is_reported_where_it_was_written():
    with pytest.raises(TypeError, match=rf"yielded at .*test_driver\.py:{_line_of_42()} in yields_a_number$"):
        _run(delegates_to_a_bad_step())
