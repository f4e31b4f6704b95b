"""The message handler: lock → massive-failure check → LLM → reply → release.

Options (all off by default, as in the seed): an outage notice without an LLM
call for customers inside an outage; a debounce that answers a burst in one
LLM call; a watchdog that extends the lock while the answer is being made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError

from sim.sut.cache import Crm, OutageCache
from sim.sut.effects import NOW, Command, Log, Script, Sleep, Spawn, Step, Stop, StopSignal
from sim.sut.lock import EXTEND_SCRIPT, Acquisition, Release, ThreadLock
from sim.sut.units import milliseconds

BUSY_REPLY = "Sorry, I am still processing your previous message"
FAILED_REPLY = "Sorry, something went wrong, please try again"
OUTAGE_NOTICE = "There is a massive outage in your region; our team is working on it"

# Takes every message waiting in a debounce batch, atomically.
TAKE_BATCH_SCRIPT = """
local batch = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return batch
"""


class ServiceError(Exception):
    """A CRM or LLM call failed or timed out."""


class Llm(Protocol):
    def answer(self, text: str, outage_points: int) -> Step[str]:
        """Yields effects; returns the answer text. Raises `ServiceError` on failure."""
        ...


@dataclass(frozen=True, slots=True)
class Message:
    thread_id: str
    tax_id: str
    text: str
    token: str  # unique per handling: the lock's owner id


@dataclass(frozen=True, slots=True)
class HandlerOptions:
    outage_notice_skips_llm: bool = False
    debounce: float = 0.0  # seconds; > 0 answers the messages of a burst together


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: str  # "answered" | "failed"
    reply: str
    source: str  # outage-check source: "hit" | "miss" | "fallback" | "off" | "" (check did not finish)
    crm_s: float
    llm_s: float
    cache_errors: int
    llm_called: bool
    checked_at: float = -1.0  # when the outage check returned; -1 if it did not


NO_ANSWER = Answer("busy", BUSY_REPLY, "", 0.0, 0.0, 0, False)


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: str  # "answered" | "busy" | "failed" | "merged" (answered with the batch of another message)
    reply: str
    lock_attempts: int
    lock_wait: float
    lock_errors: int
    source: str
    crm_s: float
    llm_s: float
    lock_lost: bool
    cache_errors: int
    replied_at: float
    llm_called: bool = False
    batch: tuple[str, ...] = ()  # tokens of other messages this reply also answered (debounce)
    acquired_at: float = -1.0  # when the lock was taken; -1 if it never was
    # When things happened, for the simulator's invariants (all -1 when they did not):
    lock_asked_at: float = -1.0  # the first lock attempt (the fair lock: joining the queue)
    lock_refreshed_at: float = -1.0  # the last time our lock's TTL was set: acquired, or extended by the watchdog
    released_at: float = -1.0  # when we sent the release
    checked_at: float = -1.0  # when the outage check returned (a hit's read, a miss's fill)


class _Hold:
    """What the handler learns about its lock while it holds it (the watchdog runs concurrently)."""

    __slots__ = ("refreshed_at",)

    def __init__(self, refreshed_at: float) -> None:
        self.refreshed_at = refreshed_at


class MessageHandler:
    def __init__(
        self, lock: ThreadLock, cache: OutageCache, options: HandlerOptions = HandlerOptions(), namespace: str = ""
    ) -> None:
        self.lock = lock
        self.cache = cache
        self.options = options
        self.namespace = namespace  # before the debounce keys (`sim live`: the run's own)

    def handle(self, msg: Message, crm: Crm, llm: Llm) -> Step[Handled]:
        """Returns a `Handled`."""
        if self.options.debounce > 0:
            leads = yield from self._join_batch(msg)
            if not leads:
                now = yield NOW
                return Handled("merged", "", 0, 0.0, 0, "", 0.0, 0.0, False, 0, now)
            yield Sleep(self.options.debounce)
        asked_at = yield NOW
        got = yield from self.lock.acquire(msg.thread_id, msg.token)
        acquired_at = (yield NOW) if got.acquired else -1.0
        batch = (yield from self._take_batch(msg)) if self.options.debounce > 0 else ()
        if not got.acquired:
            now = yield NOW
            yield Log(f"Replying busy to {msg.thread_id}")
            return _handled(NO_ANSWER, got, False, now, batch, acquired_at, asked_at=asked_at)
        hold = _Hold(acquired_at)
        answer = yield from self._answer_under_watchdog(msg, crm, llm, len(batch), hold)
        replied_at = yield NOW
        yield Log(f"Replied {answer.outcome} to {msg.thread_id}")
        released_at = yield NOW
        released = yield from self.lock.release(msg.thread_id, msg.token)
        if released is not Release.RELEASED:
            yield Log(f"Lock for {msg.thread_id} not released: {released.value}")
        return _handled(
            answer, got, released.lost, replied_at, batch, acquired_at,
            asked_at=asked_at, refreshed_at=hold.refreshed_at, released_at=released_at,
        )  # fmt: skip

    def _answer_under_watchdog(self, msg: Message, crm: Crm, llm: Llm, merged: int, hold: _Hold) -> Step[Answer]:
        if not self.lock.config.watchdog:
            return (yield from self._answer(msg, crm, llm, merged))
        stop = StopSignal()
        yield Spawn(_noting_extensions(self.lock.watchdog(msg.thread_id, msg.token, stop), hold))
        answer = yield from self._answer(msg, crm, llm, merged)
        yield Stop(stop)
        return answer

    def _answer(self, msg: Message, crm: Crm, llm: Llm, merged: int) -> Step[Answer]:
        """The work done under the lock; returns an `Answer`."""
        started = yield NOW
        try:
            found = yield from self.cache.lookup(msg.tax_id, crm, msg.token)
        except ServiceError as error:
            now = yield NOW
            yield Log(f"Failed to answer {msg.thread_id}: {error}")
            return Answer("failed", FAILED_REPLY, "", now - started, 0.0, 0, False)
        checked = yield NOW
        crm_s = checked - started if found.crm_called else 0.0
        if found.info.in_outage and self.options.outage_notice_skips_llm:
            yield Log(f"Outage notice to {msg.thread_id}, no LLM call")
            return Answer("answered", OUTAGE_NOTICE, found.source, crm_s, 0.0, found.cache_errors, False, checked)
        text = msg.text if not merged else f"{msg.text} (+{merged} more messages)"
        try:
            reply = yield from llm.answer(text, len(found.info.points))
        except ServiceError as error:
            now = yield NOW
            yield Log(f"Failed to answer {msg.thread_id}: {error}")
            return Answer("failed", FAILED_REPLY, found.source, crm_s, now - checked, found.cache_errors, True, checked)
        done = yield NOW
        return Answer("answered", reply, found.source, crm_s, done - checked, found.cache_errors, True, checked)

    def _join_batch(self, msg: Message) -> Step[bool]:
        """Queue the message for its thread's batch; True when it is the first, which answers for all."""
        key = self._batch_key(msg.thread_id)
        try:
            length: int = yield Command(("RPUSH", key, msg.token))
            yield Command(("PEXPIRE", key, milliseconds(2 * (self.options.debounce + self.lock.config.timeout))))
        except RedisError:
            return True  # cannot batch without Redis: answer alone
        return length == 1

    def _take_batch(self, msg: Message) -> Step[tuple[str, ...]]:
        try:
            tokens = yield Script(TAKE_BATCH_SCRIPT, (self._batch_key(msg.thread_id),), ())
        except RedisError:
            return ()
        return tuple(
            t.decode() if isinstance(t, bytes) else t for t in tokens if t not in (msg.token, msg.token.encode())
        )

    def _batch_key(self, thread_id: str) -> str:
        return f"{self.namespace}debounce:{thread_id}"


def _noting_extensions(watchdog: Step[None], hold: _Hold) -> Step[None]:
    """Run the lock's watchdog unchanged, noting when an extension succeeded: a lost hold
    really ended one TTL after the last one, not one TTL after it was acquired."""
    reply: Any = None
    error: RedisError | None = None
    while True:
        try:
            effect = watchdog.throw(error) if error is not None else watchdog.send(reply)
        except StopIteration:
            return  # the watchdog returns nothing
        try:
            reply, error = (yield effect), None
        except RedisError as exc:
            reply, error = None, exc
        if reply and type(effect) is Script and effect.source is EXTEND_SCRIPT:
            hold.refreshed_at = yield NOW


def _handled(
    answer: Answer, got: Acquisition, lost: bool, replied_at: float, batch: tuple[str, ...], acquired_at: float,
    *, asked_at: float, refreshed_at: float = -1.0, released_at: float = -1.0,
) -> Handled:  # fmt: skip
    return Handled(
        answer.outcome, answer.reply, got.attempts, got.waited, got.errors, answer.source, answer.crm_s,
        answer.llm_s, lost, answer.cache_errors, replied_at, answer.llm_called, batch, acquired_at,
        lock_asked_at=asked_at, lock_refreshed_at=refreshed_at, released_at=released_at,
        checked_at=answer.checked_at,
    )  # fmt: skip
