"""The same lock, cache and handler against a real Redis server, to catch any fakeredis difference."""

import os
import resource
import subprocess
import sys
import threading
import time

import pytest
import redis

from sim.experiment import run_once
from sim.live import connect, run_live
from sim.metrics.summary import summarize
from sim.scenario import load_scenario
from sim.sut.blocking import BlockingDriver
from sim.sut.lock import LockConfig, Release, ThreadLock
from sim.sut.retry import Fixed
from tests.helpers import MAGNA, ROOT


@pytest.mark.slow
def test_magna_live_has_the_same_outcomes_as_the_simulation(redis_url):
    scenario = load_scenario(MAGNA)
    simulated = run_once(scenario)
    for variant in scenario.variants:
        live = summarize(run_live(scenario, variant, connect(redis_url), time_scale=0.05).result.records)
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
    assert client.get(lock.key(key)) == b"next"
    assert driver.run(lock.release(key, "next")) is Release.RELEASED
    assert driver.run(lock.release(key, "next")) is Release.EXPIRED


def test_live_refuses_a_server_that_is_not_there(capsys):
    from sim.cli import main

    assert main(["live", str(MAGNA), "--redis", "redis://127.0.0.1:1/0", "--time-scale", "0.05"]) == 2
    assert "--redis redis://127.0.0.1:1/0:" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "x", "inf", "nan", "1e-300", "1e300"])
def test_time_scale_must_be_a_finite_number_in_range(value, capsys):
    from sim.cli import main

    assert main(["live", str(MAGNA), "--redis", "redis://127.0.0.1:1/0", "--time-scale", value]) == 2
    assert "argument --time-scale" in capsys.readouterr().err


def test_fifo_lock_hands_over_in_arrival_order_on_a_real_server(redis_url):
    """BLPOP hand-off and the Lua scripts, against the real thing.

    The arrival order is made by a handshake, not by sleeps (20 ms apart under CPU load was no order at
    all: 'fourth' before 'third'): each waiter starts only once the server shows the previous one in the
    queue, and the holder releases only once all three are queued.
    """
    key = f"fifo-{time.monotonic_ns()}"
    lock = ThreadLock(LockConfig(ttl=10, timeout=10, policy=Fixed(0.01), fair=True))
    client = redis.Redis.from_url(redis_url)
    order, guard = [], threading.Lock()
    holding, all_queued = threading.Event(), threading.Event()

    def worker(name):
        driver = BlockingDriver(redis.Redis.from_url(redis_url))
        assert driver.run(lock.acquire(key, name)).acquired
        with guard:
            order.append(name)
        if name == "first":
            holding.set()
            assert all_queued.wait(10)
        assert driver.run(lock.release(key, name)) is Release.RELEASED

    def queued(name):
        """Until the server's queue of the thread holds `name`'s token (a bounded wait, never a fixed one)."""
        deadline = time.monotonic() + 10
        while name.encode() not in client.lrange(lock.queue_key(key), 0, -1):
            assert time.monotonic() < deadline, f"{name} never queued"
            time.sleep(0.001)

    threads = {name: threading.Thread(target=worker, args=(name,)) for name in ("first", "second", "third", "fourth")}
    threads["first"].start()
    assert holding.wait(10)
    for name in ("second", "third", "fourth"):
        threads[name].start()
        queued(name)
    all_queued.set()
    for t in threads.values():
        t.join()
    assert order == ["first", "second", "third", "fourth"]


def test_a_worker_count_this_machine_cannot_thread_is_exit_2_before_the_live_run(redis_url, tmp_path):
    """Under an address-space limit, 3,000 workers could not start their threads: exit 4 after the run began."""
    scenario = tmp_path / "crowd.toml"
    scenario.write_text(
        '[scenario]\nname = "crowd"\nseed = 1\nduration = "20s"\n\n'
        "[workload]\ncustomers_per_hour = 540000\npopulation = 0\nburst_size = 1\n\n[workers]\ncount = 3000\n"
    )

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))  # 2 GiB: about a hundred 8 MiB stacks

    done = subprocess.run(
        [sys.executable, "-m", "sim", "live", str(scenario), "--redis", redis_url, "--time-scale", "0.01", "--quiet"],
        preexec_fn=limited, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.count("\n") == 1
        and "[workers]count = 3,000: sim live serves with a thread per worker" in done.stderr
    )
    assert done.stdout == ""  # nothing was served


def test_watchdog_thread_keeps_a_real_lock_alive_past_its_ttl(redis_url):
    from sim.sut.effects import Spawn, Stop, StopSignal

    client = redis.Redis.from_url(redis_url)
    driver = BlockingDriver(client)
    lock = ThreadLock(LockConfig(ttl=0.3, timeout=0, policy=Fixed(0.01), watchdog=True))
    key = f"watchdog-{time.monotonic_ns()}"
    assert driver.run(lock.acquire(key, "slow")).acquired
    stop = StopSignal()
    driver.run(_one_effect(Spawn(lock.watchdog(key, "slow", stop))))
    time.sleep(0.9)  # three TTLs
    assert client.get(lock.key(key)) == b"slow"
    driver.run(_one_effect(Stop(stop)))
    time.sleep(0.5)
    assert client.get(lock.key(key)) is None  # no longer extended: it expired


def _one_effect(effect):
    yield effect
