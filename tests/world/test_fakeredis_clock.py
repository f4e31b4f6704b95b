"""fakeredis must follow the simulated clock; if an upgrade breaks that, these fail loudly."""

import fakeredis
import pytest
import simpy
from fakeredis._socket._fakesocket import FakeSocket

from sim.errors import ExitCode
from sim.world import fakeredis_clock, internals


def test_keys_expire_on_the_injected_clock_not_the_wall_clock():
    now = [1000.0]
    redis = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: now[0]))
    redis.set("k", "v", px=120_000)
    now[0] = 1120.0
    assert redis.get("k") == b"v"  # exactly at the TTL the key still lives (Redis: expired when now > at)
    now[0] = 1120.001
    assert redis.get("k") is None


def test_ttl_reports_remaining_simulated_time():
    env = simpy.Environment()
    redis = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: env.now))
    redis.set("k", "v", ex=300)
    env.run(until=100)
    assert redis.ttl("k") == 200


def test_lua_scripts_see_the_simulated_clock_too():
    now = [0.0]
    redis = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: now[0]))
    redis.set("k", "v", px=1000)
    get = redis.register_script("return redis.call('GET', KEYS[1])")
    now[0] = 0.5
    assert get(keys=["k"]) == b"v"
    now[0] = 1.5
    assert get(keys=["k"]) is None


def test_self_check_passes_on_the_installed_fakeredis():
    internals.self_check.cache_clear()
    internals.self_check()


@pytest.fixture
def fresh_self_check():
    """Run the self-check from scratch inside the test, and again afterwards for the tests that follow."""
    internals.self_check.cache_clear()
    yield
    internals.self_check.cache_clear()


def _defining_class(cls: type, name: str) -> type:
    """The class in `cls`'s hierarchy that defines `name`: deleting it there removes it for real."""
    return next(base for base in cls.__mro__ if name in vars(base))


def _one_line_error() -> str:
    with pytest.raises(internals.InternalsChanged) as raised:
        fakeredis_clock.clocked_server(lambda: 0.0)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_fakeredis_without_a_private_method_fails_at_start_up_in_one_line_naming_its_version(
    fresh_self_check, monkeypatch
):
    monkeypatch.delattr(_defining_class(FakeSocket, "_decode_error"), "_decode_error")
    message = _one_line_error()
    assert message.startswith(f"fakeredis {fakeredis.__version__} changed FakeSocket's command table")
    assert "_decode_error" in message
    assert "sim/world/internals.py" in message


def test_a_fakeredis_clock_that_no_longer_reaches_the_database_fails_at_start_up(fresh_self_check, monkeypatch):
    monkeypatch.setattr(internals.ClockedDatabase, "time", 0.0)  # as if fakeredis no longer read `time`
    assert _one_line_error().startswith(f"fakeredis {fakeredis.__version__} changed Database.time")


def test_a_simpy_without_its_private_clock_fails_at_start_up_in_one_line_naming_its_version(
    fresh_self_check, monkeypatch
):
    original = simpy.Environment.__init__

    def without_private_clock(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.__dict__["_clock_now"] = self.__dict__.pop("_now")  # renamed, as an upgrade might

    monkeypatch.setattr(simpy.Environment, "__init__", without_private_clock)
    monkeypatch.setattr(simpy.Environment, "now", property(lambda self: self._clock_now))
    assert _one_line_error().startswith(f"simpy {simpy.__version__} changed Environment._now")


def test_a_failed_self_check_is_not_remembered(fresh_self_check, monkeypatch):
    monkeypatch.delattr(_defining_class(FakeSocket, "_name_to_func"), "_name_to_func")
    _one_line_error()
    monkeypatch.undo()
    fakeredis_clock.clocked_server(lambda: 0.0)  # checks again, and passes


def test_the_self_check_error_is_a_bad_environment_exit_code_2():
    assert internals.InternalsChanged("x").exit_code == ExitCode.BAD_INPUT


def test_events_scheduled_counts_every_event_simpy_scheduled():
    env = simpy.Environment()
    for _ in range(3):
        env.timeout(1.0)
    env.run()
    assert internals.events_scheduled(env) == 3


def test_simulated_now_is_simpys_clock():
    env = simpy.Environment(initial_time=2.5)
    env.run(until=4.0)
    assert internals.simulated_now(env) == env.now == 4.0


def test_each_server_is_isolated():
    a = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: 0.0))
    b = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: 0.0))
    a.set("k", "1")
    assert b.get("k") is None
