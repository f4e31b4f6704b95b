"""The message handler: lock → massive-failure check → LLM → reply → release."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sim.sut.cache import Crm, OutageCache
from sim.sut.effects import NOW, Log, Step
from sim.sut.lock import Release, ThreadLock

BUSY_REPLY = "Sorry, I am still processing your previous message"
FAILED_REPLY = "Sorry, something went wrong, please try again"


class ServiceError(Exception):
    """A CRM or LLM call failed or timed out."""


class Llm(Protocol):
    def answer(self, text: str, outage_points: int) -> Step:
        """Yields effects; returns the answer text. Raises `ServiceError` on failure."""
        ...


@dataclass(frozen=True, slots=True)
class Message:
    thread_id: str
    tax_id: str
    text: str
    token: str  # unique per handling: the lock's owner id


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: str  # "answered" | "busy" | "failed"
    reply: str
    lock_attempts: int
    lock_wait: float
    lock_errors: int
    source: str  # outage-check source: "hit" | "miss" | "fallback" | "off" | "" (never checked)
    crm_s: float
    llm_s: float
    lock_lost: bool
    cache_errors: int
    replied_at: float


class MessageHandler:
    def __init__(self, lock: ThreadLock, cache: OutageCache) -> None:
        self.lock = lock
        self.cache = cache

    def handle(self, msg: Message, crm: Crm, llm: Llm) -> Step:
        """Returns a `Handled`."""
        got = yield from self.lock.acquire(msg.thread_id, msg.token)
        if not got.acquired:
            now = yield NOW
            yield Log(f"Replying busy to {msg.thread_id}")
            return Handled("busy", BUSY_REPLY, got.attempts, got.waited, got.errors, "", 0.0, 0.0, False, 0, now)
        outcome, reply, source, crm_s, llm_s, cache_errors = yield from self._answer(msg, crm, llm)
        replied_at = yield NOW
        yield Log(f"Replied {outcome} to {msg.thread_id}")
        released = yield from self.lock.release(msg.thread_id, msg.token)
        if released is not Release.RELEASED:
            yield Log(f"Lock for {msg.thread_id} not released: {released.value}")
        return Handled(
            outcome, reply, got.attempts, got.waited, got.errors, source,
            crm_s, llm_s, released.lost, cache_errors, replied_at,
        )  # fmt: skip

    def _answer(self, msg: Message, crm: Crm, llm: Llm) -> Step:
        """The work done under the lock; returns (outcome, reply, source, crm_s, llm_s, cache_errors)."""
        started = yield NOW
        source, crm_s, cache_errors = "", 0.0, 0
        try:
            found = yield from self.cache.lookup(msg.tax_id, crm)
            source, cache_errors = found.source, found.cache_errors
            checked = yield NOW
            crm_s = checked - started if found.crm_called else 0.0
            reply = yield from llm.answer(msg.text, len(found.info.points))
        except ServiceError as error:
            yield Log(f"Failed to answer {msg.thread_id}: {error}")
            return "failed", FAILED_REPLY, source, crm_s, 0.0, cache_errors
        done = yield NOW
        return "answered", reply, source, crm_s, done - checked, cache_errors
