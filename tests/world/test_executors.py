"""The fast path must be indistinguishable from redis-py's own path."""

import dataclasses
from pathlib import Path

import pytest
import redis

from sim.scenario import load_scenario
from sim.sut.lock import EXTEND_SCRIPT, RELEASE_SCRIPT
from sim.world import fakeredis_clock
from sim.world.executors import DirectExecutor, RedisPyExecutor
from sim.world.model import simulate

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_bundled_scenarios_give_identical_records_on_both_paths(path):
    # The first two simulated hours of each: the whole reference day takes minutes on the slow path.
    scenario = load_scenario(path)
    scenario = dataclasses.replace(scenario, duration=min(scenario.duration, 7200.0))
    for variant in scenario.variants:
        direct = simulate(scenario, variant, 0, redis_path="direct")
        plain = simulate(scenario, variant, 0, redis_path="redis-py")
        assert direct.records == plain.records
        assert direct.commands_per_second == plain.commands_per_second


def both(clock):
    return [E(fakeredis_clock.clocked_server(clock)) for E in (DirectExecutor, RedisPyExecutor)]


COMMANDS = [
    ("SET", "k", "v", "NX", "PX", 1000),
    ("SET", "k", "w", "NX", "PX", 1000),
    ("GET", "k"),
    ("GET", "missing"),
    ("SET", "c", '{"points": []}', "PX", 300000),
    ("PTTL", "c"),
    ("DEL", "c"),
]


def test_replies_match_command_by_command():
    direct, plain = both(lambda: 0.0)
    assert [direct.command(c) for c in COMMANDS] == [plain.command(c) for c in COMMANDS]


def test_scripts_match_including_the_first_call_that_loads_them():
    direct, plain = both(lambda: 0.0)
    for e in (direct, plain):
        e.command(("SET", "lock", "me", "PX", 5000))
    calls = [(RELEASE_SCRIPT, ("lock",), ("other",)), (EXTEND_SCRIPT, ("lock",), ("me", 9000)),
             (RELEASE_SCRIPT, ("lock",), ("me",)), (RELEASE_SCRIPT, ("lock",), ("me",))]  # fmt: skip
    assert [direct.script(*c) for c in calls] == [plain.script(*c) for c in calls] == [-1, 1, 1, 0]


def test_errors_match_in_type_and_message():
    for bad in (("SET", "k"), ("NOSUCHCOMMAND",)):
        messages = []
        for e in both(lambda: 0.0):
            with pytest.raises(redis.ResponseError) as error:
                e.command(bad)
            messages.append(str(error.value))
        assert messages[0] == messages[1]


def test_a_refusing_server_raises_connection_error_on_both_paths():
    direct, plain = both(lambda: 0.0)
    direct.server.connected = False
    plain.client.connection_pool.connection_kwargs["server"].connected = False
    for e in (direct, plain):
        with pytest.raises(redis.ConnectionError):
            e.command(("GET", "k"))
