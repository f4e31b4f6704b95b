"""Many workers contending for one conversation on SimPy time: never two holders."""

import numpy as np
import pytest
import simpy

from sim.sut.lock import LockConfig, Release, ThreadLock
from sim.sut.retry import Exponential, Fixed
from sim.world import fakeredis_clock
from sim.world.driver import SimDriver
from sim.world.executors import EXECUTORS


def contend(policy, path, workers=25, hold_mean=3.0, seed=1, rtt=0.001, fair=False):
    env = simpy.Environment()
    driver = SimDriver(env, EXECUTORS[path](fakeredis_clock.clocked_server(lambda: env.now)), rtt)
    lock = ThreadLock(LockConfig(ttl=120, timeout=600, policy=policy, fair=fair))
    rng = np.random.default_rng(seed)
    holds = rng.exponential(hold_mean, workers)
    starts = rng.uniform(0, 5, workers)
    intervals, releases = [], []

    def worker(n):
        yield env.timeout(starts[n])
        got, _ = yield from driver.run(lock.acquire("thread_X", f"w{n}"))
        assert got.acquired
        begin = env.now
        yield env.timeout(holds[n])
        end = env.now
        released, _ = yield from driver.run(lock.release("thread_X", f"w{n}"))
        intervals.append((begin, end))
        releases.append(released)

    for n in range(workers):
        env.process(worker(n))
    env.run()
    return sorted(intervals), releases


def assert_disjoint(intervals):
    for (_, end), (begin, _) in zip(intervals, intervals[1:], strict=False):
        assert begin >= end, f"two holders at once: one until {end}, next from {begin}"


@pytest.mark.parametrize("path", sorted(EXECUTORS))
def test_fixed_polling_never_lets_two_workers_hold_the_lock(path):
    intervals, releases = contend(Fixed(0.1), path)
    assert len(intervals) == 25
    assert_disjoint(intervals)
    assert set(releases) == {Release.RELEASED}


@pytest.mark.parametrize("path", sorted(EXECUTORS))
def test_exponential_backoff_never_lets_two_workers_hold_the_lock(path):
    intervals, releases = contend(Exponential(0.1, 2, 2.0), path, seed=2)
    assert len(intervals) == 25
    assert_disjoint(intervals)
    assert set(releases) == {Release.RELEASED}


@pytest.mark.parametrize("path", sorted(EXECUTORS))
def test_fifo_lock_never_lets_two_workers_hold_the_lock(path):
    intervals, releases = contend(Fixed(0.1), path, seed=3, fair=True)
    assert len(intervals) == 25
    assert_disjoint(intervals)
    assert set(releases) == {Release.RELEASED}
