"""The per-conversation Redis lock (single instance, the pattern of the Redis docs).

Acquire is `SET key token NX PX ttl`; release is an atomic compare-and-delete
in Lua, so a worker whose lock expired never deletes the lock another worker
now holds. The waits between attempts come from a retry policy.

The give-up edge: attempts continue while the clock is before the deadline;
the last wait is cut short so that one final attempt is made exactly at the
deadline (`start + timeout`). A worker therefore never gives up while a
slightly later attempt would still have been within its budget.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from sim.sut.effects import NOW, BlockingPop, Command, Log, Script, Sleep, Step, Stopped, StopSignal
from sim.sut.retry import DecorrelatedJitter, RetryPolicy

# Returns 1 when it deleted our lock, 0 when the key was gone, -1 when another token holds it.
RELEASE_SCRIPT = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
if owner then
  return -1
end
return 0
"""

# Extends the TTL only while we still own the lock (the watchdog's heartbeat).
EXTEND_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


# Sums of float sleeps land a hair short of the deadline (10 × 0.1 s = 0.9999…);
# closer than this counts as "at the deadline", so no nanosecond-long extra wait.
CLOCK_EPSILON = 1e-9


# The fair (FIFO) lock. Waiters queue in a Redis list; a release hands the lock to
# the head of the queue and wakes it with a push on its own grant list, which it
# waits on with BLPOP: no polling storm. Single Redis instance only (the grant key
# is built inside the script).
_HANDOFF = """
local function handoff(lock, queue, ttl)
  local nxt = redis.call('LPOP', queue)
  if nxt then
    redis.call('SET', lock, nxt, 'PX', ttl)
    redis.call('RPUSH', 'lock:grant:' .. nxt, 1)
    redis.call('PEXPIRE', 'lock:grant:' .. nxt, ttl)
  else
    redis.call('DEL', lock)
  end
end
"""
# 1: acquired at once; 0: queued.
FAIR_ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 0
"""
# Like RELEASE_SCRIPT, but hands the lock on instead of deleting it.
FAIR_RELEASE_SCRIPT = (
    _HANDOFF
    + """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  handoff(KEYS[1], KEYS[2], ARGV[2])
  return 1
end
if owner then
  return -1
end
return 0
"""
)
# A holder that died leaves an expired lock and nobody to hand it on: a waiter that
# times out on its grant list promotes the head of the queue.
FAIR_PROMOTE_SCRIPT = (
    _HANDOFF
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then
  handoff(KEYS[1], KEYS[2], ARGV[1])
  return 1
end
return 0
"""
)
# A waiter giving up leaves the queue; 1 if it was handed the lock meanwhile (then it holds it).
FAIR_ABANDON_SCRIPT = """
if redis.call('LREM', KEYS[2], 0, ARGV[1]) > 0 then
  return 0
end
redis.call('DEL', 'lock:grant:' .. ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return 1
end
return 0
"""
FAIR_CHECK_EVERY = 5.0  # seconds a fair waiter blocks before checking for a dead holder


class Release(enum.Enum):
    RELEASED = "released"  # we still held it and deleted it
    EXPIRED = "expired"  # the TTL ran out; nobody holds it
    STOLEN = "stolen"  # the TTL ran out and another worker took it
    UNREACHABLE = "unreachable"  # Redis answered with an error; the TTL will free the lock

    @property
    def lost(self) -> bool:
        return self in (Release.EXPIRED, Release.STOLEN)


@dataclass(frozen=True, slots=True)
class LockConfig:
    ttl: float  # seconds the lock lives without its holder
    timeout: float  # seconds a waiter tries before giving up
    policy: RetryPolicy = field(compare=False)
    log_every: int = 10  # "waiting for lock … (attempt N)" every N attempts
    fair: bool = False  # FIFO hand-off instead of polling (the policy is then unused)
    watchdog: bool = False  # the handler spawns `watchdog` to extend the TTL while it works


@dataclass(frozen=True, slots=True)
class Acquisition:
    acquired: bool
    attempts: int
    waited: float  # seconds from the first attempt to success or give-up
    errors: int  # attempts that failed because Redis answered with an error


class ThreadLock:
    """The lock guarding one conversation, as the chatbot's workers use it."""

    def __init__(self, config: LockConfig) -> None:
        self.config = config
        self._ttl_ms = max(1, round(config.ttl * 1000))

    @staticmethod
    def key(thread_id: str) -> str:
        return f"lock:thread:{thread_id}"

    @staticmethod
    def queue_key(thread_id: str) -> str:
        return f"lock:queue:{thread_id}"

    def acquire(self, thread_id: str, token: str) -> Step:
        """Try until acquired or the deadline; returns an `Acquisition`."""
        if self.config.fair:
            return (yield from self._acquire_fair(thread_id, token))
        key, cfg = self.key(thread_id), self.config
        policy = cfg.policy.fresh() if isinstance(cfg.policy, DecorrelatedJitter) else cfg.policy
        start = yield NOW
        deadline = start + cfg.timeout
        attempt = errors = 0
        while True:
            attempt += 1
            try:
                acquired = yield Command(("SET", key, token, "NX", "PX", self._ttl_ms))
            except RedisError:
                # Redis unreachable: treated like a busy lock, retried until the deadline.
                acquired, errors = None, errors + 1
            now = yield NOW
            if acquired:
                yield Log(f"Lock acquired for {thread_id} (attempt {attempt})")
                return Acquisition(True, attempt, now - start, errors)
            if now >= deadline - CLOCK_EPSILON:
                yield Log(f"Could not acquire lock for {thread_id} after {attempt} attempts")
                return Acquisition(False, attempt, now - start, errors)
            if attempt % cfg.log_every == 0:
                yield Log(f"Waiting for lock for {thread_id} (attempt {attempt})")
            yield Sleep(min(policy.delay(attempt), deadline - now))

    def _acquire_fair(self, thread_id: str, token: str) -> Step:
        """Queue once, then block on our grant list until handed the lock or the deadline."""
        keys, cfg = (self.key(thread_id), self.queue_key(thread_id)), self.config
        start = yield NOW
        deadline = start + cfg.timeout
        queue_ttl = self._ttl_ms + max(1, round(cfg.timeout * 1000))
        try:
            queued = yield Script(FAIR_ENQUEUE_SCRIPT, keys, (token, self._ttl_ms, queue_ttl))
        except RedisError:
            now = yield NOW
            return Acquisition(False, 1, now - start, 1)
        attempt = errors = 0
        while not queued:
            now = yield NOW
            attempt += 1
            try:
                if now >= deadline - CLOCK_EPSILON:
                    queued = yield Script(FAIR_ABANDON_SCRIPT, keys, (token,))
                    break
                queued = yield BlockingPop(f"lock:grant:{token}", min(deadline - now, FAIR_CHECK_EVERY))
                if not queued:
                    yield Script(FAIR_PROMOTE_SCRIPT, keys, (self._ttl_ms,))
            except RedisError:  # Redis away: wait a little and look again, until the deadline
                errors += 1
                yield Sleep(min(1.0, max(0.0, deadline - now)))
                if now >= deadline - CLOCK_EPSILON:
                    break
        now = yield NOW
        verdict = "Lock acquired for" if queued else "Could not acquire lock for"
        yield Log(f"{verdict} {thread_id} (fair, {attempt} waits)")
        return Acquisition(bool(queued), attempt + 1, now - start, errors)

    def watchdog(self, thread_id: str, token: str, stop: StopSignal) -> Step:
        """Extend the TTL every third of it while `stop` is not set and we still own the lock."""
        while True:
            yield Sleep(self.config.ttl / 3)
            if (yield Stopped(stop)):
                return
            extended = yield from self.extend(thread_id, token)  # compare-and-extend: safe even if late
            if not extended:
                return

    def release(self, thread_id: str, token: str) -> Step:
        """Compare-and-delete (fair: compare-and-hand-off); returns a `Release`."""
        keys: tuple[str, ...] = (self.key(thread_id),)
        args: tuple[Any, ...] = (token,)
        script = RELEASE_SCRIPT
        if self.config.fair:
            keys, args, script = (*keys, self.queue_key(thread_id)), (token, self._ttl_ms), FAIR_RELEASE_SCRIPT
        try:
            reply = yield Script(script, keys, args)
        except RedisError:
            return Release.UNREACHABLE
        return {1: Release.RELEASED, 0: Release.EXPIRED}.get(int(reply), Release.STOLEN)

    def extend(self, thread_id: str, token: str) -> Step:
        """Push the TTL out again if we still own the lock; returns True if we do."""
        try:
            reply: Any = yield Script(EXTEND_SCRIPT, (self.key(thread_id),), (token, self._ttl_ms))
        except RedisError:
            return False
        return bool(reply)
