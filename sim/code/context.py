"""`ctx`, as the team's handler receives it: one per message, the same in a simulation and live.

It is also where a message's record is written as the handler goes: its reply and when, the
marks it made, its service calls and seconds, its Redis commands (counted by the wire, where the
server executes them, for the message whose context sent them). Nothing here reads a clock of its
own or knows which engine runs it: `clock` and the service desk are given.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sim.code.contract import MARK_VALUES, Mark, Reply


class ReplyError(RuntimeError):
    """The handler replied twice to one message, or with a kind the contract does not have."""


class MarkError(ValueError):
    """A mark the contract does not have, or its value missing or malformed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """The `message` a handler receives (`sim.code.contract.Message`)."""

    id: int
    customer: str
    tax_id: str
    text: str
    arrival: float


class ServiceDesk(Protocol):
    """Serves `ctx.call`: waits the call's time, then answers or raises `ServiceError`."""

    async def call(self, service: str, calls: ServiceCalls) -> Any: ...


class ServiceCalls:
    """One message's calls to each service, and the seconds they took (failed and timed-out ones included)."""

    __slots__ = ("calls", "seconds")

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def add(self, service: str, seconds: float) -> None:
        self.calls[service] = self.calls.get(service, 0) + 1
        self.seconds[service] = self.seconds.get(service, 0.0) + seconds


class HandlerContext:
    """`ctx` (see `sim.code.contract.Context`), and the record of its message as the handler goes."""

    __slots__ = (
        "acquired_at", "cache_checked_at", "cache_errors", "cache_source", "closed", "commands", "desk",
        "late_commands", "lock_asked_at", "lock_attempts", "lock_errors", "lock_lost", "lock_refreshed_at",
        "lock_waited", "lines", "redis", "released_at", "replied_at", "reply_kind", "reply_text", "services",
        "settings", "_clock", "_on_reply",
    )  # fmt: skip

    def __init__(
        self,
        *,
        redis: Any,
        settings: dict[str, Any],
        desk: ServiceDesk,
        clock: Callable[[], float],
        on_reply: Callable[[Reply, float], None] | None = None,
        lines: list[tuple[float, str]] | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.desk = desk
        self._clock = clock
        self._on_reply = on_reply
        self.lines = lines  # production log lines (`ctx.log`), stamped; None: not kept
        self.services = ServiceCalls()
        self.commands = 0  # Redis commands the server executed for this message while it was handled
        self.late_commands = 0  # ... and after its handler had returned (its background tasks')
        self.closed = False  # the handler has returned
        self.reply_kind: Reply | None = None
        self.reply_text = ""
        self.replied_at: float | None = None
        self.lock_asked_at: float | None = None
        self.acquired_at: float | None = None
        self.lock_attempts = 0
        self.lock_waited = 0.0
        self.lock_refreshed_at: float | None = None
        self.released_at: float | None = None
        self.lock_lost = False
        self.lock_errors = 0
        self.cache_source: str | None = None
        self.cache_checked_at: float | None = None
        self.cache_errors = 0

    async def call(self, service: str) -> Any:
        return await self.desk.call(service, self.services)

    async def reply(self, kind: Reply | str, text: str = "") -> None:
        try:
            reply = Reply(kind)
        except ValueError:
            raise ReplyError(f"ctx.reply({kind!r}): the kind is one of {', '.join(r.value for r in Reply)}") from None
        if self.reply_kind is not None:
            raise ReplyError(f"ctx.reply({kind!r}): this message was already replied to ({self.reply_kind.value})")
        now = self._clock()
        self.reply_kind, self.reply_text, self.replied_at = reply, str(text), now
        if self._on_reply is not None:
            self._on_reply(reply, now)

    def mark(self, mark: Mark | str, **values: int) -> None:
        known = _mark(mark)
        value = _mark_value(known, values)
        now = self._clock()
        if known is Mark.LOCK_ASKED:
            if self.lock_asked_at is None:
                self.lock_asked_at = now
        elif known in (Mark.LOCK_ACQUIRED, Mark.LOCK_BUSY):
            self.lock_attempts = value
            self.lock_waited = now - (self.lock_asked_at if self.lock_asked_at is not None else now)
            if known is Mark.LOCK_ACQUIRED:
                self.acquired_at = self.lock_refreshed_at = now
        elif known is Mark.LOCK_EXTENDED:
            self.lock_refreshed_at = now
        elif known is Mark.LOCK_RELEASED:
            self.released_at = now
        elif known is Mark.LOCK_LOST:
            self.lock_lost = True
        elif known is Mark.LOCK_ERROR:
            self.lock_errors += 1
        elif known is Mark.CACHE_ERROR:
            self.cache_errors += 1
        else:  # a cache source
            self.cache_source, self.cache_checked_at = known.value.removeprefix("cache_"), now

    def log(self, line: str) -> None:
        if self.lines is not None:
            self.lines.append((self._clock(), str(line)))


def _mark(mark: Mark | str) -> Mark:
    try:
        return Mark(mark)
    except ValueError:
        known = ", ".join(m.value for m in Mark)
        raise MarkError(f"ctx.mark({mark!r}): not a mark (marks: {known})") from None


def _mark_value(mark: Mark, values: dict[str, int]) -> int:
    name = MARK_VALUES.get(mark)
    expected = {name} if name else set()
    if set(values) != expected:
        wanted = f"{name}=N" if name else "no value"
        raise MarkError(f"ctx.mark({mark.value!r}) takes {wanted}, got {sorted(values) or 'none'}")
    if name is None:
        return 0
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise MarkError(f"ctx.mark({mark.value!r}, {name}={value!r}): a count from 0")
    return value


# The message whose handler (or one of its tasks) is running: tasks inherit it, so the wire counts a
# command for the message that sent it.
CURRENT: contextvars.ContextVar[HandlerContext | None] = contextvars.ContextVar("sim_message", default=None)


def count_command() -> None:
    """One command executed by the server for the running message (if any)."""
    ctx = CURRENT.get()
    if ctx is None:
        return
    if ctx.closed:
        ctx.late_commands += 1
    else:
        ctx.commands += 1


Wait = Callable[[float], Awaitable[None]]
NEVER = math.nan
