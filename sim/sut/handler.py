"""The message handler: lock → massive-failure check → LLM → reply → release.

Options (all off by default, as in production): an outage notice without an LLM
call for customers inside an outage; a debounce that answers a burst in one
LLM call; a watchdog that extends the lock while the answer is being made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError

from sim.sut.cache import Crm, OutageCache
from sim.sut.effects import NOW, Log, Script, Sleep, Spawn, Step, Stop, StopSignal
from sim.sut.lock import EXTEND_SCRIPT, Acquisition, Release, ThreadLock
from sim.sut.outcomes import Outcome, Source, Stored
from sim.sut.units import milliseconds

BUSY_REPLY = "Sorry, I am still processing your previous message"
FAILED_REPLY = "Sorry, something went wrong, please try again"
OUTAGE_NOTICE = "There is a massive outage in your region; our team is working on it"

# Takes every message waiting in a debounce batch, atomically.
# Append and set the TTL in one step: a crash (or a dropped connection) between two separate
# commands would leave a batch list that never expires.
JOIN_BATCH_SCRIPT = """
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return length
"""

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


class ConversationStore(Protocol):
    """Where an answer made under the lock is saved (the conversation's history), outside Redis."""

    def write(self, thread_id: str, token: str, fence: int | None) -> Step[bool]:
        """Save the answer of the holder `token`; False when refused (its `fence` is older than one seen)."""
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What the work under the lock produced (or stands in for it: `NO_ANSWER`, `MERGED`)."""

    outcome: Outcome
    reply: str
    source: Source | None  # where the outage check's answer came from; None: the check did not finish
    crm_s: float
    llm_s: float
    cache_errors: int
    llm_called: bool
    checked_at: float | None = None  # when the outage check returned; None if it did not


NO_ANSWER = Answer(
    outcome=Outcome.BUSY, reply=BUSY_REPLY, source=None, crm_s=0.0, llm_s=0.0, cache_errors=0, llm_called=False
)
MERGED = Answer(outcome=Outcome.MERGED, reply="", source=None, crm_s=0.0, llm_s=0.0, cache_errors=0, llm_called=False)
NOT_ASKED = Acquisition(acquired=False, attempts=0, waited=0.0, errors=0)  # a merged message never asks for the lock


@dataclass(frozen=True, slots=True, kw_only=True)
class Handled:
    """One message handled: its answer, how its lock went, and when things happened
    (the instants are for the simulator's invariants; None when the thing did not happen)."""

    answer: Answer
    acquisition: Acquisition
    lock_lost: bool
    replied_at: float
    batch: tuple[str, ...] = ()  # tokens of other messages this reply also answered (debounce)
    acquired_at: float | None = None  # when the lock was taken
    lock_asked_at: float | None = None  # the first lock attempt (the fair lock: joining the queue)
    lock_refreshed_at: float | None = None  # the last time our lock's TTL was set: acquired, or extended
    released_at: float | None = None  # when we sent the release
    stored: Stored | None = None  # what the conversation store did with the answer, written as it was sent

    @property
    def outcome(self) -> Outcome:
        return self.answer.outcome


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

    def handle(self, msg: Message, crm: Crm, llm: Llm, store: ConversationStore | None = None) -> Step[Handled]:
        """Returns a `Handled`. An answer is written to `store`, when given, before it is sent."""
        if self.options.debounce > 0:
            leads = yield from self._join_batch(msg)
            if not leads:
                now = yield NOW
                return Handled(answer=MERGED, acquisition=NOT_ASKED, lock_lost=False, replied_at=now)
            yield Sleep(self.options.debounce)
        asked_at = yield NOW
        got = yield from self.lock.acquire(msg.thread_id, msg.token)
        acquired_at = (yield NOW) if got.acquired else None
        batch = (yield from self._take_batch(msg)) if self.options.debounce > 0 else ()
        if acquired_at is None:  # the batch gets the busy apology too
            now = yield NOW
            yield Log(f"Replying busy to {msg.thread_id}")
            return Handled(
                answer=NO_ANSWER, acquisition=got, lock_lost=False, replied_at=now, batch=batch, lock_asked_at=asked_at
            )
        hold = _Hold(got.locked_at if got.locked_at is not None else acquired_at)
        answer = yield from self._answer_under_watchdog(msg, crm, llm, len(batch), hold)
        stored = None
        if store is not None and answer.outcome is Outcome.ANSWERED:  # written as it is sent: no time between
            accepted = yield from store.write(msg.thread_id, msg.token, got.fence)
            stored = Stored.ACCEPTED if accepted else Stored.REFUSED
            if not accepted:
                yield Log(f"Conversation store refused the answer to {msg.thread_id}: fence {got.fence} is too old")
        replied_at = yield NOW
        yield Log(f"Replied {answer.outcome} to {msg.thread_id}")
        released_at = yield NOW
        released = yield from self.lock.release(msg.thread_id, msg.token)
        if released is not Release.RELEASED:
            yield Log(f"Lock for {msg.thread_id} not released: {released.value}")
        return Handled(
            answer=answer,
            acquisition=got,
            lock_lost=released.lost,
            replied_at=replied_at,
            batch=batch,
            acquired_at=acquired_at,
            lock_asked_at=asked_at,
            lock_refreshed_at=hold.refreshed_at,
            released_at=released_at,
            stored=stored,
        )

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
            return Answer(
                outcome=Outcome.FAILED,
                reply=FAILED_REPLY,
                source=None,
                crm_s=now - started,
                llm_s=0.0,
                cache_errors=0,
                llm_called=False,
            )
        checked = yield NOW
        crm_s = checked - started if found.crm_called else 0.0

        def checked_answer(outcome: Outcome, reply: str, *, llm_s: float, llm_called: bool) -> Answer:
            return Answer(
                outcome=outcome,
                reply=reply,
                source=found.source,
                crm_s=crm_s,
                llm_s=llm_s,
                cache_errors=found.cache_errors,
                llm_called=llm_called,
                checked_at=checked,
            )

        if found.info.in_outage and self.options.outage_notice_skips_llm:
            yield Log(f"Outage notice to {msg.thread_id}, no LLM call")
            return checked_answer(Outcome.ANSWERED, OUTAGE_NOTICE, llm_s=0.0, llm_called=False)
        text = msg.text if not merged else f"{msg.text} (+{merged} more messages)"
        try:
            reply = yield from llm.answer(text, len(found.info.points))
        except ServiceError as error:
            now = yield NOW
            yield Log(f"Failed to answer {msg.thread_id}: {error}")
            return checked_answer(Outcome.FAILED, FAILED_REPLY, llm_s=now - checked, llm_called=True)
        done = yield NOW
        return checked_answer(Outcome.ANSWERED, reply, llm_s=done - checked, llm_called=True)

    def _join_batch(self, msg: Message) -> Step[bool]:
        """Queue the message for its thread's batch; True when it is the first, which answers for all."""
        key = self._batch_key(msg.thread_id)
        try:
            ttl_ms = milliseconds(2 * (self.options.debounce + self.lock.config.timeout))
            length: int = yield Script(JOIN_BATCH_SCRIPT, (key,), (msg.token, ttl_ms))
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
