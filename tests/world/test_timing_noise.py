"""Timing noise and the worker model on simulated time: where each draw lands, and what it changes."""

from __future__ import annotations

import tomllib

import numpy as np
import simpy

from sim.core.distributions import Uniform
from sim.metrics import invariants
from sim.run.noise import CHUNK, Draws, TimerJitter
from sim.run.streams import STREAMS, Streams
from sim.scenario.load import parse_scenario
from sim.sut.effects import NOW, Command, Sleep
from sim.world import fakeredis_clock
from sim.world.driver import SimDriver
from sim.world.executors import DirectExecutor
from sim.world.model import simulate
from tests.world.scenario_kit import MAGNA, merge, run, scenario


def _drive(step, **driver_args) -> SimDriver:
    env = simpy.Environment()
    driver = SimDriver(env, DirectExecutor(fakeredis_clock.clocked_server(lambda: env.now)), **driver_args)
    env.process(driver.run(step))
    env.run()
    return driver


def _sleeps(seen: list[float]):
    for seconds in (0.1, 0.2, 0.3):
        yield Sleep(seconds)
        seen.append((yield NOW))
    yield Sleep(5.0, timer=False)  # a service call's time: never jittered
    seen.append((yield NOW))


def test_each_timer_ends_at_its_due_time_plus_the_next_draw_of_the_timers_stream():
    seen: list[float] = []
    _drive(_sleeps(seen), rtt=0.001, timers=TimerJitter(0.005, Streams.of(7, 0).timers))
    offsets = Streams.of(7, 0).timers.uniform(-0.005, 0.005, CHUNK)[:3]
    expected, t = [], 0.0
    for seconds, offset in zip((0.1, 0.2, 0.3), offsets, strict=True):
        t += seconds + offset
        expected.append(t)
    assert seen == [*expected, t + 5.0]
    assert all(abs(o) <= 0.005 for o in offsets) and len(set(offsets)) == 3


def test_without_jitter_every_timer_ends_exactly_when_due():
    seen: list[float] = []
    _drive(_sleeps(seen), rtt=0.001)
    assert seen == [0.1, 0.1 + 0.2, 0.1 + 0.2 + 0.3, 0.1 + 0.2 + 0.3 + 5.0]


def test_a_jittered_timer_never_ends_before_it_was_set():
    jitter = TimerJitter(0.010, np.random.default_rng(1))
    ends = [jitter(0.002) for _ in range(2000)]
    assert min(ends) == 0.0 and max(ends) <= 0.012
    assert 0.36 < sum(e == 0.0 for e in ends) / len(ends) < 0.44  # cut to zero when U(-10, 10) ms < -2 ms: 40 %


def _commands(seen: list[float]):
    for n in range(3):
        yield Command(("SET", f"k{n}", "v"))
        seen.append((yield NOW))


def test_each_round_trip_is_the_next_draw_of_the_rtt_stream_and_the_driver_knows_their_extremes():
    seen: list[float] = []
    dist = Uniform(0.001, 0.010)
    driver = _drive(_commands(seen), rtt=Draws(dist, Streams.of(7, 0).rtt))
    drawn = dist.sample(Streams.of(7, 0).rtt, CHUNK)[:3]
    assert seen == [drawn[0], drawn[0] + drawn[1], drawn[0] + drawn[1] + drawn[2]]
    assert driver.round_trips() == (max(drawn), max(drawn) - min(drawn))


def test_a_constant_round_trip_has_no_spread():
    driver = _drive(_commands([]), rtt=0.002)
    assert driver.round_trips() == (0.002, 0.0)


def test_the_noise_streams_are_appended_so_every_older_stream_draws_what_it_always_drew():
    old = np.random.SeedSequence([11, 3]).spawn(9)  # the nine streams before the noise was added
    streams = Streams.of(11, 3)
    for name, child in zip(STREAMS[:9], old, strict=True):
        assert (
            getattr(streams, name).random(4).tolist() == np.random.Generator(np.random.PCG64(child)).random(4).tolist()
        )
    assert STREAMS[9:] == ("conversations", "rtt", "timers", "hits", "code", "replication")  # appended only


NOISY = """
[redis]
rtt = { dist = "uniform", low = "0.5ms", high = "20ms" }
[timers]
jitter = "5ms"
[cache]
hit_cost = { dist = "uniform", low = "50ms", high = "100ms" }
"""


def _rows(result) -> list:
    return [result.records[i] for i in range(len(result.records))]


def test_a_noisy_run_is_reproduced_exactly_and_differs_from_the_exact_one():
    s = scenario(MAGNA, NOISY)
    first, again = simulate(s, s.variants[0], 4), simulate(s, s.variants[0], 4)
    assert _rows(first) == _rows(again)
    exact = scenario(MAGNA)
    assert [r.reply_at for r in _rows(first)] != [r.reply_at for r in _rows(simulate(exact, exact.variants[0], 4))]


def test_a_cache_hit_costs_its_drawn_time_after_its_reply():
    plain, costly = run(MAGNA), run(MAGNA, '[cache]\nhit_cost = "75ms"\n')
    before, after = _rows(plain), _rows(costly)
    assert [r.source for r in before] == ["miss", "hit", "hit"]
    assert after[0] == before[0]  # the miss is untouched
    first_hit = min((r for r in after if r.source == "hit"), key=lambda r: r.reply_at)
    same_in_plain = next(r for r in before if r.message == first_hit.message)
    assert first_hit.acquired_at == same_in_plain.acquired_at
    assert first_hit.reply_at == same_in_plain.reply_at + 0.075


def test_magnas_third_message_overtakes_the_second_always_with_exact_timers_and_sometimes_with_jitter():
    exact, jittered = scenario(MAGNA), scenario(MAGNA, '[timers]\njitter = "5ms"\n')

    def overtaken(s, replication: int) -> bool:
        second, third = sorted(_rows(simulate(s, s.variants[0], replication)), key=lambda r: r.arrival)[1:]
        return third.reply_at < second.reply_at

    assert all(overtaken(exact, r) for r in range(8))
    assert 0 < sum(overtaken(jittered, r) for r in range(16)) < 16


TRAFFIC = """
[scenario]
seed = 5
duration = "10m"
[workload]
customers_per_hour = 900
population = 40
burst_size = { dist = "uniform", low = 1, high = 4 }
burst_gap = { dist = "exponential", mean = "3s" }
[services]
crm = { dist = "uniform", low = "2s", high = "4s" }
llm = { dist = "uniform", low = "5s", high = "9s" }
[workers]
count = 4
[lock]
ttl = "8s"
timeout = "20s"
[cache]
enabled = true
ttl = "30s"
"""


def test_the_async_model_never_queues_a_message_for_a_worker_and_has_no_limit():
    pool = run(TRAFFIC)
    asynchronous = run(TRAFFIC, '[workers]\nmodel = "async"\n')
    assert max(r.queue_wait for r in _rows(pool)) > 1.0  # four workers: messages queue
    rows = _rows(asynchronous)
    assert all(r.queue_wait == 0.0 and r.started_at == r.arrival for r in rows)
    starts, ends = sorted(r.started_at for r in rows), sorted(r.done_at for r in rows)
    in_service = max(i + 1 - sum(e <= s for e in ends) for i, s in enumerate(starts))
    assert in_service > 4  # more at once than the pool's count: the count is not read


def test_every_invariant_holds_with_all_the_noise_on_for_each_lock_and_cache_option():
    options = [
        "",
        '[lock]\nfair = true\n[workers]\nmodel = "async"\n',
        "[lock]\nwatchdog = true\n[cache]\nsingle_flight = true\n",
        '[handler]\ndebounce = "2s"\n[cache]\nxfetch_beta = 1.0\n',
    ]
    for extra in options:
        data = merge(merge(tomllib.loads(TRAFFIC), tomllib.loads(NOISY)), tomllib.loads(extra))
        s = parse_scenario(data, "inline.toml")
        result = simulate(s, s.variants[0], 1)
        assert result.violations == (), extra
        if not extra:  # an 8 s TTL under 7–13 s of work: holds expire, so the overlap rule is really tried
            assert any(r.lock_lost for r in _rows(result))


def test_the_invariants_need_the_round_trips_spread_and_the_hit_cost_a_noisy_run_would_break_them_without():
    s = parse_scenario(merge(tomllib.loads(TRAFFIC), tomllib.loads(NOISY)), "inline.toml")
    variant = s.variants[0]
    result = simulate(s, variant, 0)
    assert result.violations == ()
    as_if_constant = invariants.check(
        result.records, expected=len(result.records), workers=4, lock_ttl=8.0, rtt=0.02, cache_ttl=30.0
    )
    assert any(problem.startswith("two holders of") for problem in as_if_constant)
