"""The same lock, cache and handler against a real Redis server, to catch any fakeredis difference."""

import threading
import time
from pathlib import Path

import pytest
import redis

from sim.experiment import run_once
from sim.live import run_live
from sim.metrics.summary import summarize
from sim.scenario import load_scenario
from sim.sut.blocking import BlockingDriver
from sim.sut.lock import LockConfig, Release, ThreadLock
from sim.sut.retry import Fixed

MAGNA = Path(__file__).parents[2] / "scenarios" / "magna.toml"


def test_magna_live_has_the_same_outcomes_as_the_simulation(redis_url):
    scenario = load_scenario(MAGNA)
    simulated = run_once(scenario)
    for variant in scenario.variants:
        live = summarize(run_live(scenario, variant, redis_url, time_scale=0.05).records)
        sim = simulated[variant.name].metrics
        for key in ("messages", "answered", "busy", "failed", "crm_calls", "lock_lost"):
            assert live[key] == sim[key], (variant.name, key, live[key], sim[key])


def test_mutual_exclusion_among_threads_on_a_real_server(redis_url):
    lock = ThreadLock(LockConfig(ttl=10, timeout=10, policy=Fixed(0.002)))
    key = f"mutex-{time.monotonic_ns()}"
    intervals, guard = [], threading.Lock()

    def worker(n):
        driver = BlockingDriver(redis.Redis.from_url(redis_url))
        assert driver.run(lock.acquire(key, f"w{n}")).acquired
        begin = time.monotonic()
        time.sleep(0.01)
        end = time.monotonic()
        assert driver.run(lock.release(key, f"w{n}")) is Release.RELEASED
        with guard:
            intervals.append((begin, end))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    intervals.sort()
    assert len(intervals) == 12
    assert all(b[0] >= a[1] for a, b in zip(intervals, intervals[1:], strict=False))


def test_release_never_deletes_another_tokens_lock_on_a_real_server(redis_url):
    client = redis.Redis.from_url(redis_url)
    driver = BlockingDriver(client)
    lock = ThreadLock(LockConfig(ttl=0.1, timeout=0, policy=Fixed(0.01)))
    key = f"steal-{time.monotonic_ns()}"
    assert driver.run(lock.acquire(key, "slow")).acquired
    time.sleep(0.15)  # the real server expires the 100 ms lock
    assert driver.run(lock.acquire(key, "next")).acquired
    assert driver.run(lock.release(key, "slow")) is Release.STOLEN
    assert client.get(ThreadLock.key(key)) == b"next"
    assert driver.run(lock.release(key, "next")) is Release.RELEASED
    assert driver.run(lock.release(key, "next")) is Release.EXPIRED


def test_live_refuses_a_server_that_is_not_there(capsys):
    from sim.cli import main

    assert main(["live", str(MAGNA), "--redis", "redis://127.0.0.1:1/0", "--time-scale", "0.05"]) == 2
    assert "--redis redis://127.0.0.1:1/0:" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_time_scale_must_be_positive(value, capsys):
    from sim.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["live", str(MAGNA), "--redis", "redis://127.0.0.1:1/0", "--time-scale", value])
    assert exit_.value.code == 2
