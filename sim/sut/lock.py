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

from sim.sut.effects import NOW, Command, Log, Script, Sleep, Step
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

    def acquire(self, thread_id: str, token: str) -> Step:
        """Try until acquired or the deadline; returns an `Acquisition`."""
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

    def release(self, thread_id: str, token: str) -> Step:
        """Compare-and-delete; returns a `Release`."""
        try:
            reply = yield Script(RELEASE_SCRIPT, (self.key(thread_id),), (token,))
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
