"""Third-party internals (`sim.world.internals`): each works, and a missing one fails at start-up in one line."""

from __future__ import annotations

import ast
from pathlib import Path

import fakeredis
import pytest
import simpy
from fakeredis._socket._fakesocket import FakeSocket

from sim.core.errors import ExitCode
from sim.world import fakeredis_clock, internals


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


def test_live_keys_leaves_out_keys_whose_ttl_ran_out_on_the_simulated_clock():
    now = [0.0]
    server = fakeredis_clock.clocked_server(lambda: now[0])
    redis = fakeredis_clock.client(server)
    redis.set("lock", "a", px=1000)
    redis.set("queue", "b")
    now[0] = 1.5
    assert sorted(internals.live_keys(server)) == [b"queue"]


def test_flush_drops_every_key_and_script_as_a_restart_without_persistence():
    server = fakeredis_clock.clocked_server(lambda: 0.0)
    redis = fakeredis_clock.client(server)
    redis.set("k", "v")
    redis.select(1)
    redis.set("k1", "v")
    sha = redis.script_load("return 1")
    internals.flush(server)
    assert internals.live_keys(server) == []
    assert redis.get("k1") is None
    assert redis.script_exists(sha) == [False]


def test_only_the_internals_module_imports_private_modules_of_simpy_or_fakeredis():
    root = Path(__file__).resolve().parents[2] / "sim"
    offenders = [
        f"{path.relative_to(root.parent)}: {name}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "internals.py"
        for name in _imported_modules(path)
        if name.startswith(("fakeredis._", "simpy._")) or ("._" in name and name.startswith(("fakeredis", "simpy")))
    ]
    assert offenders == []


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return names + [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
