"""The fast path must be indistinguishable from redis-py's own path."""

import dataclasses

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario import load_scenario
from sim.sut.lock import EXTEND_SCRIPT, RELEASE_SCRIPT
from sim.world import fakeredis_clock
from sim.world.executors import DirectExecutor, RedisPyExecutor
from sim.world.model import simulate
from tests.helpers import BUNDLED as SCENARIOS


@pytest.mark.slow  # about 90 s in all: redis-py encodes and parses every command
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


def outcome(executor, args):
    """What a command gives back: its reply, or the type and message of its error."""
    try:
        return ("ok", executor.command(args))
    except redis.RedisError as error:
        return (type(error).__name__, str(error))


def test_an_integer_then_an_equal_float_argument_give_the_same_outcomes_on_both_paths():
    # 1000 == 1000.0: a cache keyed by value alone replayed the integer's prepared command for the float.
    sequence = [("SET", "k", "v", "PX", 1000), ("SET", "k", "v", "PX", 1000.0), ("SET", "k", "v", "PX", True)]
    direct, plain = both(lambda: 0.0)
    got = [outcome(direct, c) for c in sequence]
    assert got == [outcome(plain, c) for c in sequence]
    assert got[1][0] == "ResponseError" and got[2][0] == "DataError"


NUMBERS = st.one_of(
    st.integers(-2, 3000),
    st.sampled_from([0.0, 1.0, 1000.0, 1.5, -1.0, 2**63, 10**20, 10**15 - 1]),
    st.integers(-2, 3000).map(str),
    st.sampled_from([b"1000", b"x", "1000.0", "NX"]),
)
KEYS = st.sampled_from(["k", "q", b"k"])
VALUES = st.one_of(st.sampled_from(["v", b"v", ""]), NUMBERS)
COMMAND = st.one_of(
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("SET"), KEYS, VALUES, st.just("NX")),
    st.tuples(st.just("SET"), KEYS, VALUES, st.just("PX"), NUMBERS),
    st.tuples(st.just("SET"), KEYS, VALUES, st.just("NX"), st.just("PX"), NUMBERS),
    st.tuples(st.just("GET"), KEYS),
    st.tuples(st.just("PEXPIRE"), KEYS, NUMBERS),
    st.tuples(st.just("RPUSH"), KEYS, VALUES),
    st.tuples(st.just("LPOP"), KEYS),
    st.tuples(st.just("DEL"), KEYS),
)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(COMMAND, st.sampled_from([0.0, 0.5, 2.0])), max_size=12))
def test_both_paths_agree_on_random_commands_with_mixed_argument_types(steps):
    now = [0.0]
    direct, plain = both(lambda: now[0])
    for command, pause in steps:
        now[0] += pause  # lets PX and PEXPIRE run out between commands
        assert outcome(direct, command) == outcome(plain, command), command
