"""Counted where it happens, broken like a real connection, a clock that always moves:
the driver and the world's side of the simulator's invariants."""

import dataclasses

import pytest
import redis
import simpy

from sim.cli import main
from sim.core.errors import ScenarioError
from sim.run import serve
from sim.run.faults import FaultSchedule
from sim.scenario import load_scenario
from sim.scenario.model import RedisDown, RedisRestart
from sim.sut.effects import BlockingPop, Command, Sleep, Spawn
from sim.world import fakeredis_clock, model
from sim.world.driver import SimDriver
from sim.world.executors import DirectExecutor
from sim.world.faults import install
from sim.world.model import simulate
from tests.helpers import SCENARIOS
from tests.world.scenario_kit import MAGNA, scenario


def world(initial_time=0.0):
    env = simpy.Environment(initial_time=initial_time)
    server = fakeredis_clock.clocked_server(lambda: env.now)
    return env, server, SimDriver(env, DirectExecutor(server), rtt=0.001, server=server)


def test_a_spawned_steps_commands_count_for_the_message_that_spawned_it():
    env, _, driver = world()

    def child():
        yield Command(("SET", "a", "1"))
        yield Command(("SET", "b", "1"))

    def parent():
        yield Spawn(child())
        yield Sleep(1.0)
        yield Command(("GET", "a"))

    done = env.process(driver.run(parent()))
    env.run()
    assert done.value == (None, 3)
    assert sum(driver.commands_per_second.values()) == 3


@pytest.mark.parametrize("fault", [RedisDown(start=2.0, duration=3.0), RedisRestart(start=2.0)], ids=lambda f: f.kind)
def test_a_blocked_blpop_fails_with_a_connection_error_when_redis_goes_away(fault):
    env, server, driver = world()
    install(FaultSchedule([fault]), env, server, driver.drop_blocked_clients)
    seen = []

    def waiter():
        try:
            yield BlockingPop("lock:grant:w", 10.0)
        except redis.ConnectionError:
            seen.append(("error", env.now))
            return
        seen.append(("returned", env.now))

    env.process(driver.run(waiter()))
    env.run()
    assert seen == [("error", 2.0)]  # at the fault, not at the 10 s timeout


def test_a_blpop_that_times_out_with_nothing_pushed_still_returns_none():
    env, _, driver = world()

    def waiter():
        return (yield BlockingPop("q", 4.0))

    done = env.process(driver.run(waiter()))
    env.run()
    assert done.value == (None, 1) and env.now == pytest.approx(4.001)


def test_a_sleep_the_clock_cannot_represent_stops_the_run_with_one_line():
    env, _, driver = world(initial_time=1e16)  # 1e16 + 0.1 == 1e16: the step would spin forever

    def poller():
        while True:
            yield Sleep(0.1)
            yield Command(("GET", "k"))

    env.process(driver.run(poller()))
    with pytest.raises(ScenarioError, match=r"cannot advance by 0\.1 s at t = 1e\+16 s: floating point"):
        env.run()


def test_a_wait_shorter_than_any_stated_duration_rounds_to_nothing_instead_of_stopping_the_run():
    env, server, driver = world(initial_time=1e6)  # 1e6 + 1e-12 == 1e6: a near-zero jitter draw

    def step():
        yield Sleep(1e-12)
        yield Command(("SET", "k", "v"))

    env.process(driver.run(step()))
    env.run()
    assert env.now == 1e6 + driver.rtt


def test_a_sleep_moves_the_clock_forward():
    env, _, driver = world(initial_time=1e6)

    def sleeper():
        yield Sleep(0.25)

    env.process(driver.run(sleeper()))
    env.run()
    assert env.now == 1e6 + 0.25


def test_a_command_answered_while_the_server_refuses_connections_is_counted(monkeypatch):
    env, server, driver = world()
    monkeypatch.setattr(driver.redis, "command", lambda args: b"OK")  # a mutant that ignores the outage
    server.connected = False

    def step():
        yield Command(("GET", "k"))

    env.process(driver.run(step()))
    env.run()
    assert driver.succeeded_while_down == 1


def test_failed_crm_calls_are_counted_and_conserved():
    timing_out = scenario(MAGNA, '[services]\ncrm_timeout = "5s"\n')
    run = simulate(timing_out, timing_out.variants[0], 0)
    assert run.violations == ()
    assert {r.source for r in run.records} == {None}  # every CRM call timed out
    assert run.world.crm_calls == sum(r.crm_calls for r in run.records) == 3


def test_the_world_counts_what_the_records_add_up_to_on_a_watchdog_run():
    fixes = load_scenario(SCENARIOS / "fixes.toml")
    fixes = dataclasses.replace(fixes, duration=900.0)
    run = simulate(fixes, fixes.variant("watchdog"), 0)
    assert run.violations == ()
    assert run.world.redis_commands == sum(r.redis_commands for r in run.records)
    assert run.world.leftover_keys == () and run.world.succeeded_while_down == 0


def test_a_driver_that_drops_the_watchdogs_commands_breaks_conservation(monkeypatch):
    original = SimDriver.run
    monkeypatch.setattr(SimDriver, "run", lambda self, step, label="", tally=None: original(self, step, label))
    fixes = load_scenario(SCENARIOS / "fixes.toml")
    fixes = dataclasses.replace(fixes, duration=900.0)
    run = simulate(fixes, fixes.variant("watchdog"), 0)
    assert any(v.startswith("the messages account for") for v in run.violations)


def test_records_that_read_calls_off_the_outcome_break_conservation(monkeypatch):
    original = serve.to_record

    def off_the_outcome(p, arrival, started, handled, commands, done_at, *, calls):  # the old counting
        read_off = (int(handled.answer.source not in ("hit", None)), int(handled.answer.llm_called))
        return original(p, arrival, started, handled, commands, done_at, calls=read_off)

    monkeypatch.setattr(serve, "to_record", off_the_outcome)
    timing_out = scenario(MAGNA, '[services]\ncrm_timeout = "5s"\n')
    run = simulate(timing_out, timing_out.variants[0], 0)
    assert "the metrics count 0 CRM calls but the CRM served 3" in run.violations


def test_an_executor_answering_during_an_outage_makes_sim_run_exit_3(monkeypatch, capsys):
    original = DirectExecutor.command

    def ignoring_the_outage(self, args):
        connected, self.server.connected = self.server.connected, True
        try:
            return original(self, args)
        finally:
            self.server.connected = connected

    monkeypatch.setattr(DirectExecutor, "command", ignoring_the_outage)
    assert main(["run", str(SCENARIOS / "redis-restart.toml"), "--variant", "after"]) == 3
    assert "Redis commands succeeded while Redis was down" in capsys.readouterr().err


def test_a_lock_left_behind_after_the_drain_is_found():
    server = fakeredis_clock.clocked_server(lambda: 0.0)
    client = fakeredis_clock.client(server)
    client.set("massive:points:1", "{}", px=1000)
    client.set("lock:thread:t", "msg-1", px=1000)
    client.set("gone", "x", px=1)
    assert model.leftover_keys(server, "massive:points:") == ("gone", "lock:thread:t")
