"""The thread lock, run by the production driver on a manual clock over fakeredis."""

import pytest

from sim.sut.lock import LockConfig, Release, ThreadLock
from sim.sut.retry import Exponential, Fixed
from tests.helpers import Harness

BEFORE = LockConfig(ttl=120, timeout=30, policy=Fixed(0.1))
AFTER = LockConfig(ttl=120, timeout=60, policy=Exponential(0.1, 2, 2.0))


def test_free_lock_is_acquired_on_the_first_attempt_with_nx_px():
    h = Harness()
    got = h.run(ThreadLock(BEFORE).acquire("thread_A", "tok-1"))
    assert (got.acquired, got.attempts, got.waited) == (True, 1, 0.0)
    assert h.redis.get("lock:thread:thread_A") == b"tok-1"
    assert h.redis.pttl("lock:thread:thread_A") == 120_000
    assert h.logs == ["Lock acquired for thread_A (attempt 1)"]


def test_after_backoff_waits_exactly_the_seed_sequence_and_tries_once_more_at_the_deadline():
    h = Harness()
    h.redis.set("lock:thread:thread_A", "someone-else", px=600_000)
    got = h.run(ThreadLock(AFTER).acquire("thread_A", "tok"))
    sleeps_ms = [round(s * 1000) for s in h.clock.sleeps]
    assert sleeps_ms[:8] == [100, 200, 400, 800, 1600, 2000, 2000, 2000]
    # 0.1+0.2+0.4+0.8+1.6 = 3.1 s, then 2 s steps up to 59.1 s, then 0.9 s to the deadline.
    assert sleeps_ms[-2:] == [2000, 900]
    assert sum(h.clock.sleeps) == pytest.approx(60.0)
    assert (got.acquired, got.attempts) == (False, 35)
    assert got.waited == pytest.approx(60.0)


def test_before_backoff_polls_every_100ms_for_30s():
    h = Harness()
    h.redis.set("lock:thread:thread_A", "someone-else", px=600_000)
    got = h.run(ThreadLock(BEFORE).acquire("thread_A", "tok"))
    assert set(round(s, 9) for s in h.clock.sleeps) <= {0.1}
    assert (got.acquired, got.attempts) == (False, 301)  # t = 0, 0.1, …, 30.0
    assert got.waited == pytest.approx(30.0)


def test_log_lines_every_ten_attempts_and_on_acquire_with_the_attempt_count():
    h = Harness()
    h.redis.set("lock:thread:thread_A", "other", px=2_250)  # frees itself at t = 2.25 s
    got = h.run(ThreadLock(BEFORE).acquire("thread_A", "tok"))
    assert got.attempts == 24  # first attempt after 2.25 s is at 2.3 s
    assert h.logs == [
        "Waiting for lock for thread_A (attempt 10)",
        "Waiting for lock for thread_A (attempt 20)",
        "Lock acquired for thread_A (attempt 24)",
    ]


def test_give_up_is_logged_with_the_attempt_count():
    h = Harness()
    h.redis.set("lock:thread:thread_A", "other", px=600_000)
    h.run(ThreadLock(AFTER).acquire("thread_A", "tok"))
    assert h.logs[-1] == "Could not acquire lock for thread_A after 35 attempts"


def test_zero_timeout_tries_exactly_once():
    h = Harness()
    h.redis.set("lock:thread:thread_A", "other", px=600_000)
    got = h.run(ThreadLock(LockConfig(120, 0, Fixed(0.1))).acquire("thread_A", "tok"))
    assert (got.acquired, got.attempts, h.clock.sleeps) == (False, 1, [])


def test_release_deletes_only_our_own_token():
    h = Harness()
    lock = ThreadLock(BEFORE)
    h.run(lock.acquire("thread_A", "mine"))
    assert h.run(lock.release("thread_A", "mine")) is Release.RELEASED
    assert h.redis.get("lock:thread:thread_A") is None


def test_release_after_ttl_expiry_never_deletes_the_new_owners_lock():
    h = Harness()
    lock = ThreadLock(LockConfig(ttl=5, timeout=0, policy=Fixed(0.1)))
    h.run(lock.acquire("thread_A", "slow-worker"))
    h.clock.now = 5.001  # the slow worker's lock expired on simulated time
    assert h.run(lock.acquire("thread_A", "next-worker")).acquired
    assert h.run(lock.release("thread_A", "slow-worker")) is Release.STOLEN
    assert h.redis.get("lock:thread:thread_A") == b"next-worker"


def test_release_of_an_expired_lock_with_no_new_owner_reports_expired():
    h = Harness()
    lock = ThreadLock(LockConfig(ttl=5, timeout=0, policy=Fixed(0.1)))
    h.run(lock.acquire("thread_A", "slow-worker"))
    h.clock.now = 6.0
    assert h.run(lock.release("thread_A", "slow-worker")) is Release.EXPIRED


def test_lock_frees_itself_after_its_ttl_on_simulated_time_for_a_whole_hour():
    h = Harness()
    lock = ThreadLock(LockConfig(ttl=120, timeout=1000, policy=Fixed(0.5)))
    acquired_at = []
    for n in range(30):  # nobody releases: each acquire must wait out the previous TTL
        assert h.run(lock.acquire("thread_A", f"tok-{n}")).acquired
        acquired_at.append(h.clock.now)
    gaps = {round(b - a, 6) for a, b in zip(acquired_at, acquired_at[1:], strict=False)}
    assert gaps == {120.5}  # expired just after 120 s, seen at the next 0.5 s poll
    assert acquired_at[-1] == pytest.approx(29 * 120.5)


def test_redis_errors_while_acquiring_are_retried_until_the_deadline():
    h = Harness()
    h.server.connected = False
    got = h.run(ThreadLock(LockConfig(120, 1.0, Fixed(0.1))).acquire("thread_A", "tok"))
    assert (got.acquired, got.attempts, got.errors) == (False, 11, 11)


def test_extend_pushes_the_ttl_only_for_the_owner():
    h = Harness()
    lock = ThreadLock(BEFORE)
    h.run(lock.acquire("thread_A", "mine"))
    h.clock.now = 100.0
    assert h.run(lock.extend("thread_A", "mine")) is True
    assert h.redis.pttl("lock:thread:thread_A") == 120_000
    assert h.run(lock.extend("thread_A", "not-mine")) is False


def test_every_lua_script_touches_only_keys_passed_in_keys():
    """A key built inside Lua (the old `'lock:grant:' .. token`) could be any key on the server."""
    import re

    from sim.sut import cache, handler, lock

    scripts = {
        f"{m.__name__}.{n}": v for m in (lock, cache, handler) for n, v in vars(m).items() if n.endswith("SCRIPT")
    }
    assert len(scripts) >= 8
    for name, source in scripts.items():
        calls = re.findall(r"redis\.call\('(\w+)'(?:,\s*([^,)]+))?", source)
        assert calls, name
        for command, first in calls:
            assert re.fullmatch(r"KEYS\[\d+\]", first), (name, command, first)
        assert ".." not in source, name  # no string building at all


class _KeyRecorder:
    """An executor that notes every key the lock names (a command's first argument, a script's KEYS)."""

    def __init__(self, inner):
        self.inner, self.keys = inner, set()

    def command(self, args):
        self.keys.add(args[1])
        return self.inner.command(args)

    def script(self, source, keys, args):
        self.keys.update(keys)
        return self.inner.script(source, keys, args)


def _fair_world(waiters, namespace="ns:run-1:"):
    """Waiters (name, arrives, holds, timeout) on one fair lock in a namespace; when each got it, or None."""
    import simpy

    from sim.world import fakeredis_clock
    from sim.world.driver import SimDriver
    from sim.world.executors import DirectExecutor

    env = simpy.Environment()
    recorder = _KeyRecorder(DirectExecutor(fakeredis_clock.clocked_server(lambda: env.now)))
    driver = SimDriver(env, recorder, rtt=0.001)
    got = {}

    def worker(name, arrive, hold, timeout):
        yield env.timeout(arrive)
        lock = ThreadLock(LockConfig(ttl=120, timeout=timeout, policy=Fixed(0.1), fair=True), namespace)
        result, _ = yield from driver.run(lock.acquire("T", name))
        got[name] = round(env.now, 2) if result.acquired else None
        if result.acquired:
            yield env.timeout(hold)
            yield from driver.run(lock.release("T", name))

    for waiter in waiters:
        env.process(worker(*waiter))
    env.run()
    return got, recorder


def test_fifo_lock_uses_only_keys_of_its_namespace_and_leaves_none_behind():
    got, recorder = _fair_world([("A", 0, 10, 60), ("B", 1, 10, 60), ("C", 2, 0, 3), ("D", 3, 1, 60), ("E", 4, 0, 2)])
    assert got == {"A": 0.0, "B": 10.0, "C": None, "D": 20.0, "E": None}
    assert recorder.keys and all(k.startswith("ns:run-1:lock:") for k in recorder.keys), recorder.keys
    assert recorder.inner.command(("KEYS", "*")) == []


def test_fifo_waiter_behind_two_that_gave_up_is_handed_the_lock_at_the_release():
    # D waits on C's grant list, C on B's: B gives up at 4 s (C now waits on A's), C at 6 s (D then does).
    got, recorder = _fair_world([("A", 0, 10, 60), ("B", 1, 0, 3), ("C", 2, 0, 4), ("D", 3, 1, 60)])
    assert got == {"A": 0.0, "B": None, "C": None, "D": 10.0}
    assert recorder.inner.command(("KEYS", "*")) == []


def test_a_namespace_goes_before_every_lock_key():
    lock = ThreadLock(BEFORE, "sim-live:abc:")
    keys = (lock.key("t"), lock.queue_key("t"), lock.grant_key("msg-1@abc"))
    assert keys == ("sim-live:abc:lock:thread:t", "sim-live:abc:lock:queue:t", "sim-live:abc:lock:grant:msg-1@abc")
    assert ThreadLock(BEFORE).key("t") == "lock:thread:t"  # simulated runs keep today's keys


@pytest.mark.parametrize("timeout, sent", [(1e-7, 0.001), (0.0, 0.001), (2.5, 2.5)])
def test_a_blocking_pop_never_asks_redis_to_wait_forever(timeout, sent):
    """Redis reads a BLPOP timeout under 1 ms as 0: block forever. A fair waiter close to its deadline asks for less."""
    from sim.sut.blocking import BlockingDriver
    from sim.sut.effects import BlockingPop

    class Client:
        def blpop(self, keys, timeout):
            self.timeout = timeout

    client = Client()
    BlockingDriver(client).run(_one(BlockingPop("k", timeout)))
    assert client.timeout == sent


def test_the_blocking_driver_counts_redis_errors_by_class_also_in_spawned_steps():
    import threading

    from redis.exceptions import ConnectionError, OutOfMemoryError

    from sim.sut.blocking import BlockingDriver
    from sim.sut.effects import Command, Spawn

    class Client:
        def execute_command(self, *args):
            raise {"oom": OutOfMemoryError, "down": ConnectionError}[args[0]]("refused")

    def tries(*names):
        for name in names:
            try:
                yield Command((name,))
            except Exception:
                pass

    def main_step():
        yield Spawn(tries("oom"))
        yield from tries("down", "down", "oom")

    driver, running = BlockingDriver(Client()), set(threading.enumerate())
    driver.run(main_step())
    for spawned in set(threading.enumerate()) - running:
        spawned.join()
    assert driver.errors.counts() == {"ConnectionError": 2, "OutOfMemoryError": 2}


def _one(effect):
    return (yield effect)
