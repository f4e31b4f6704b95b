"""The per-conversation Redis lock (single instance, the pattern of the Redis docs).

Acquire is `SET key token NX PX ttl`; release is an atomic compare-and-delete
in Lua, so a worker whose lock expired never deletes the lock another worker
now holds. The waits between attempts come from a retry policy.

The give-up edge: attempts continue while the clock is before the deadline;
the last wait is cut short so that one final attempt is made exactly at the
deadline (`start + timeout`). A worker therefore never gives up while a
slightly later attempt would still have been within its budget.

Keys. Every key lies under the lock's `namespace` (empty by default; `sim live`
gives each run its own) and every key a script touches is passed in KEYS,
never built inside Lua (Redis Cluster requires that, and a key built in Lua
from a value could be any key on the server):

    <namespace>lock:thread:<thread>   the lock; its value is the holder's token
    <namespace>lock:queue:<thread>    the fair lock's waiters, tokens in arrival order
    <namespace>lock:grant:<token>     the fair lock's hand-off list *of the holder <token>*
    <namespace>lock:fence             fencing: the grants' counter (never expires)
    <namespace>lock:epoch             fencing: the failover epoch, set on each new primary by the failover

Fencing (Kleppmann, "How to do distributed locking"). With `fencing`, a grant carries a
token that only grows, and the store the holder writes to refuses a token older than one it
has seen: a holder whose lock ran out (a stall) or vanished (a failover) cannot overwrite the
work of the holder after it. The token is taken in the same script as the lock: `(epoch,
counter)`, the counter INCR'd per grant. A failover may lose the counter's last increments
(replication is asynchronous), so the counter alone could hand out a number twice; the epoch,
which the failover's orchestration (Sentinel's configuration epoch) publishes on every new
primary before clients reach it, puts every later grant above every earlier one.

WAIT. With `wait_replicas = K`, a lock just taken is kept only once `WAIT K timeout` says K
replicas have it (then a failover promotes a replica that holds it); fewer, or an error, and
the lock is let go again and the attempt counts as failed.

The fair lock is a CLH queue lock (Craig; Landin and Hagersten): a waiter does
not wait on a key of its own, which its predecessor's release would have to
name without knowing it, but on its *predecessor's* grant list, which only
depends on the predecessor's token. Enqueueing returns that predecessor (the
queue's tail, or the holder when the queue is empty). A release pops the head
of the queue, makes it the holder and pushes its token on the releaser's own
grant list, a key the releaser can name: the hand-off stays one atomic script.
A waiter that gives up pushes its own predecessor's token on its grant list,
so the waiter behind it moves on to wait there (one extra wake-up, no lost
hand-off). A holder that died is replaced when a waiter's periodic check finds
the lock gone: the head of the queue is made the holder, and learns it at its
own next check (it is not woken: its wait key is unknown to the others).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from sim.sut.effects import NOW, BlockingPop, Command, Log, Script, Sleep, Step, Stopped, StopSignal, WaitReplicas
from sim.sut.retry import DecorrelatedJitter, RetryPolicy
from sim.sut.units import milliseconds

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


# Fencing: takes the lock and its fence in one step. KEYS: the lock, the counter, the epoch; ARGV: token, TTL ms.
# Nil when another holder has the lock; else {epoch, counter}. (A missing epoch is 0: no failover yet.)
FENCED_ACQUIRE_SCRIPT = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
local epoch = tonumber(redis.call('GET', KEYS[3]) or '0')
return {epoch, redis.call('INCR', KEYS[2])}
"""
FENCE_EPOCH = 2**40  # a fence is epoch × this + counter: a counter stays far below it (a run grants < 10⁹ locks)


# Sums of float sleeps land a hair short of the deadline (10 × 0.1 s = 0.9999…);
# closer than this counts as "at the deadline", so no nanosecond-long extra wait.
CLOCK_EPSILON = 1e-9


# The fair (FIFO) lock, a CLH queue (see the module docstring). Every key is in KEYS.
# Enqueue: 1 when acquired at once, else the token of the predecessor whose grant list to wait on.
FAIR_ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
local pred = redis.call('LINDEX', KEYS[2], -1)
if not pred then
  pred = redis.call('GET', KEYS[1])
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return pred
"""
# Like RELEASE_SCRIPT, but hands the lock to the head of the queue and pushes the new
# holder's token on our own grant list (KEYS[3]), where our successor waits.
FAIR_RELEASE_SCRIPT = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  local nxt = redis.call('LPOP', KEYS[2])
  if nxt then
    redis.call('SET', KEYS[1], nxt, 'PX', ARGV[2])
    redis.call('RPUSH', KEYS[3], nxt)
    redis.call('PEXPIRE', KEYS[3], ARGV[2])
  else
    redis.call('DEL', KEYS[1])
  end
  return 1
end
if owner then
  return -1
end
return 0
"""
# A waiter's periodic check (its wait timed out): 1 if it holds the lock now. A holder
# that died leaves an expired lock and nobody to hand it on: the head of the queue is
# made the holder (it finds out at its own check). KEYS[3] is the predecessor's grant
# list, emptied once we hold the lock (a hand-off that arrived as our wait timed out).
FAIR_PROMOTE_SCRIPT = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[3])
  return 1
end
if owner then
  return 0
end
local head = redis.call('LPOP', KEYS[2])
if not head then
  return 0
end
redis.call('SET', KEYS[1], head, 'PX', ARGV[2])
if head == ARGV[1] then
  redis.call('DEL', KEYS[3])
  return 1
end
return 0
"""
# A waiter giving up leaves the queue; 1 if it was handed the lock meanwhile (then it holds
# it). A waiter behind it is told, on our grant list (KEYS[3]), to wait on our predecessor's
# (KEYS[4], token ARGV[2]) instead; with nobody behind, a notice left there for us is dropped.
FAIR_ABANDON_SCRIPT = """
local tail = redis.call('LINDEX', KEYS[2], -1)
if redis.call('LREM', KEYS[2], 0, ARGV[1]) > 0 then
  if tail ~= ARGV[1] then
    redis.call('RPUSH', KEYS[3], ARGV[2])
    redis.call('PEXPIRE', KEYS[3], ARGV[3])
  else
    redis.call('DEL', KEYS[4])
  end
  return 0
end
redis.call('DEL', KEYS[4])
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
    fencing: bool = False  # each grant carries a fence (the polling lock only)
    wait_replicas: int = 0  # > 0: WAIT for this many replicas after acquiring (the polling lock only)
    wait_timeout: float = 1.0  # seconds WAIT blocks at most

    def __post_init__(self) -> None:
        if self.fair and (self.fencing or self.wait_replicas):
            raise ValueError("fencing and wait_replicas work with the polling lock only (fair = False)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Acquisition:
    acquired: bool
    attempts: int
    waited: float  # seconds from the first attempt to success or give-up
    errors: int  # attempts that failed because Redis answered with an error
    fence: int | None = None  # fencing: the grant's token (epoch × FENCE_EPOCH + counter); None without
    locked_at: float | None = None  # WAIT: when the lock was set, before the wait; None: when acquired


class ThreadLock:
    """The lock guarding one conversation, as the chatbot's workers use it.

    `namespace` is prepended to every key (see the module docstring); a token must be
    unique among all workers using the same namespace, and only names keys under it.
    """

    def __init__(self, config: LockConfig, namespace: str = "") -> None:
        self.config = config
        self.namespace = namespace
        self._ttl_ms = milliseconds(config.ttl)

    def key(self, thread_id: str) -> str:
        return f"{self.namespace}lock:thread:{thread_id}"

    def queue_key(self, thread_id: str) -> str:
        return f"{self.namespace}lock:queue:{thread_id}"

    def grant_key(self, token: str) -> str:
        """The fair lock's hand-off list of the holder `token`: its successor waits here."""
        return f"{self.namespace}lock:grant:{token}"

    def fence_key(self) -> str:
        """Fencing: the counter of grants; it never expires."""
        return f"{self.namespace}lock:fence"

    def epoch_key(self) -> str:
        """Fencing: the failover epoch, which the failover sets on each new primary; it never expires."""
        return f"{self.namespace}lock:epoch"

    def _attempt(self, thread_id: str, token: str) -> Command | Script:
        """One try for the lock: `SET NX PX`, or the fenced script. Built once: a waiter repeats it."""
        key = self.key(thread_id)
        if self.config.fencing:
            return Script(FENCED_ACQUIRE_SCRIPT, (key, self.fence_key(), self.epoch_key()), (token, self._ttl_ms))
        return Command(("SET", key, token, "NX", "PX", self._ttl_ms))

    def acquire(self, thread_id: str, token: str) -> Step[Acquisition]:
        """Try until acquired or the deadline; returns an `Acquisition`."""
        if self.config.fair:
            return (yield from self._acquire_fair(thread_id, token))
        cfg = self.config
        policy = cfg.policy.fresh() if isinstance(cfg.policy, DecorrelatedJitter) else cfg.policy
        request = self._attempt(thread_id, token)
        start = yield NOW
        deadline = start + cfg.timeout
        attempt = errors = 0
        while True:
            attempt += 1
            try:
                acquired = yield request
            except RedisError:
                # Redis unreachable: treated like a busy lock, retried until the deadline.
                acquired, errors = None, errors + 1
            locked_at = None
            if acquired and cfg.wait_replicas:
                locked_at = yield NOW
                acquired, failed = yield from self._replicated(thread_id, token, acquired)
                errors += failed
            now = yield NOW
            if acquired:
                yield Log(f"Lock acquired for {thread_id} (attempt {attempt})")
                fence = _fence(acquired) if cfg.fencing else None
                return Acquisition(
                    acquired=True, attempts=attempt, waited=now - start, errors=errors, fence=fence, locked_at=locked_at
                )
            if now >= deadline - CLOCK_EPSILON:
                yield Log(f"Could not acquire lock for {thread_id} after {attempt} attempts")
                return Acquisition(acquired=False, attempts=attempt, waited=now - start, errors=errors)
            if attempt % cfg.log_every == 0:
                yield Log(f"Waiting for lock for {thread_id} (attempt {attempt})")
            yield Sleep(min(policy.delay(attempt), deadline - now))

    def _replicated(self, thread_id: str, token: str, reply: Any) -> Step[tuple[Any, int]]:
        """WAIT until `wait_replicas` replicas have the lock just taken: (`reply`, 0) when they do; else the lock
        is let go again (a failover could lose it) and (None, 1 if WAIT failed with an error else 0)."""
        cfg = self.config
        try:
            acknowledged: int = yield WaitReplicas(cfg.wait_replicas, cfg.wait_timeout)
            failed = 0
        except RedisError:
            acknowledged, failed = 0, 1
        if acknowledged >= cfg.wait_replicas:
            return reply, 0
        yield Log(f"Lock for {thread_id} reached {acknowledged} of {cfg.wait_replicas} replicas: letting it go")
        yield from self.release(thread_id, token)
        return None, failed

    def _acquire_fair(self, thread_id: str, token: str) -> Step[Acquisition]:
        """Queue once, then block on the predecessor's grant list until handed the lock or the deadline."""
        keys, cfg = (self.key(thread_id), self.queue_key(thread_id)), self.config
        start = yield NOW
        deadline = start + cfg.timeout
        queue_ttl = self._ttl_ms + milliseconds(cfg.timeout)
        try:
            reply = yield Script(FAIR_ENQUEUE_SCRIPT, keys, (token, self._ttl_ms, queue_ttl))
        except RedisError:
            now = yield NOW
            return Acquisition(acquired=False, attempts=1, waited=now - start, errors=1)
        acquired, pred = reply == 1, _text(reply)
        attempt = errors = 0
        check_at: float | None = None  # when the current wait ends in a check for a dead holder
        while not acquired:
            now = yield NOW
            attempt += 1
            try:
                if now >= deadline - CLOCK_EPSILON:
                    grants = (self.grant_key(token), self.grant_key(pred))
                    acquired = bool((yield Script(FAIR_ABANDON_SCRIPT, (*keys, *grants), (token, pred, queue_ttl))))
                    break
                wait = min(deadline - now, FAIR_CHECK_EVERY if check_at is None else check_at - now)
                check_at = now + FAIR_CHECK_EVERY if check_at is None else check_at
                popped = yield BlockingPop(self.grant_key(pred), wait)
                if popped is None:  # the wait timed out: is the holder dead?
                    check_at = None
                    promoted = yield Script(FAIR_PROMOTE_SCRIPT, (*keys, self.grant_key(pred)), (token, self._ttl_ms))
                    acquired = bool(promoted)
                elif _text(popped) == token:
                    acquired = True
                else:  # the predecessor gave up: wait behind its own predecessor, in the same window
                    pred = _text(popped)
            except RedisError:  # Redis away: wait a little and look again, until the deadline
                errors += 1
                yield Sleep(min(1.0, max(0.0, deadline - now)))
                if now >= deadline - CLOCK_EPSILON:
                    break
        now = yield NOW
        verdict = "Lock acquired for" if acquired else "Could not acquire lock for"
        yield Log(f"{verdict} {thread_id} (fair, {attempt} waits)")
        return Acquisition(acquired=acquired, attempts=attempt + 1, waited=now - start, errors=errors)

    def watchdog(self, thread_id: str, token: str, stop: StopSignal) -> Step[None]:
        """Extend the TTL every third of it while `stop` is not set and we still own the lock."""
        while True:
            yield Sleep(self.config.ttl / 3)
            if (yield Stopped(stop)):
                return
            extended = yield from self.extend(thread_id, token)  # compare-and-extend: safe even if late
            if not extended:
                return

    def release(self, thread_id: str, token: str) -> Step[Release]:
        """Compare-and-delete (fair: compare-and-hand-off); returns a `Release`."""
        keys: tuple[str, ...] = (self.key(thread_id),)
        args: tuple[Any, ...] = (token,)
        script = RELEASE_SCRIPT
        if self.config.fair:
            keys = (*keys, self.queue_key(thread_id), self.grant_key(token))
            args, script = (token, self._ttl_ms), FAIR_RELEASE_SCRIPT
        try:
            reply = yield Script(script, keys, args)
        except RedisError:
            return Release.UNREACHABLE
        return {1: Release.RELEASED, 0: Release.EXPIRED}.get(int(reply), Release.STOLEN)

    def extend(self, thread_id: str, token: str) -> Step[bool]:
        """Push the TTL out again if we still own the lock; returns True if we do."""
        try:
            reply: Any = yield Script(EXTEND_SCRIPT, (self.key(thread_id),), (token, self._ttl_ms))
        except RedisError:
            return False
        return bool(reply)


def _fence(reply: Any) -> int:
    """The fence of a grant from FENCED_ACQUIRE_SCRIPT's reply, [epoch, counter]."""
    epoch, counter = (int(v) for v in reply)
    return epoch * FENCE_EPOCH + counter


def _text(value: Any) -> str:
    """A token as redis-py returns it (bytes) or as the caller gave it (str)."""
    return value.decode() if isinstance(value, bytes) else str(value)
