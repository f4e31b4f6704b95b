"""The contract between `sim` and a team's own handler: `async def handle(message, ctx)`.

Version 1. A handler is production code: it needs nothing from `sim` at run time. These types
are for its editor and type checker (`if TYPE_CHECKING: from sim.code import Context, Message`).

- `message`: the customer's message (`Message`).
- `ctx.redis`: a `redis.asyncio.Redis`; in a simulation it talks to the simulated Redis on
  simulated time, in `sim live` to the real server.
- `ctx.settings`: the scenario's `[code.settings]` table (a variant's merged over it), a dict.
- `await ctx.call(service)`: a call to one of the scenario's `[services]` ("crm", "llm"): waits
  its latency, then returns its answer or raises `ServiceError` (`ServiceTimeout` past its timeout).
- `await ctx.reply(kind)`: what the customer sees, at this instant: `Reply.ANSWERED`, `BUSY` or
  `FAILED` (or their string values). A handler that returns without replying has its own outcome.
- `ctx.mark(mark, **values)`: optional facts only the code knows (`Mark`): when it asked for and got
  its lock, how many attempts it took, whether the outage check hit the cache. Metrics that need them
  are "not applicable" for a handler that does not mark; nothing is ever guessed.
- `ctx.log(line)`: a production log line, stamped with the run's clock (`sim run --trace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

CONTRACT_VERSION = 1


class Reply(StrEnum):
    """What a handler can tell the customer."""

    ANSWERED = "answered"  # a real answer
    BUSY = "busy"  # "Sorry, I am still processing your previous message"
    FAILED = "failed"  # the failure apology


class Mark(StrEnum):
    """Facts a handler may report with `ctx.mark`; the record field each one sets is in its comment."""

    LOCK_ASKED = "lock_asked"  # first attempt at the lock: lock_asked_at
    LOCK_ACQUIRED = "lock_acquired"  # got it (attempts=N): acquired_at, lock_attempts, lock_wait
    LOCK_BUSY = "lock_busy"  # gave up waiting (attempts=N): lock_attempts, lock_wait
    LOCK_EXTENDED = "lock_extended"  # its TTL pushed out again: lock_refreshed_at
    LOCK_RELEASED = "lock_released"  # the release was sent: released_at
    LOCK_LOST = "lock_lost"  # the release found the lock gone or taken: lock_lost
    LOCK_ERROR = "lock_error"  # a Redis error while locking: lock_errors + 1
    CACHE_HIT = "cache_hit"  # the outage check answered from the cache: source
    CACHE_MISS = "cache_miss"  # asked the CRM and stored the answer: source
    CACHE_FALLBACK = "cache_fallback"  # asked the CRM because the cache failed: source
    CACHE_OFF = "cache_off"  # asked the CRM, caching off: source
    CACHE_ERROR = "cache_error"  # a Redis error in the cache: cache_errors + 1


# The marks that take a value, and its name.
MARK_VALUES: Mapping[Mark, str] = {Mark.LOCK_ACQUIRED: "attempts", Mark.LOCK_BUSY: "attempts"}


class ServiceError(Exception):
    """A service call failed (the scenario's error rates and faults)."""


class ServiceTimeout(ServiceError, TimeoutError):
    """A service call took longer than its timeout; raised at the timeout."""


class Message(Protocol):
    """One customer message, as the handler receives it."""

    @property
    def id(self) -> int: ...  # unique in the run
    @property
    def customer(self) -> str: ...  # who sent it: one conversation ("thread") per customer
    @property
    def tax_id(self) -> str: ...  # the customer's tax id (CPF/CNPJ), the outage check's key
    @property
    def text(self) -> str: ...
    @property
    def arrival(self) -> float: ...  # when it arrived, on the loop's clock (`loop.time()`)


class Context(Protocol):
    """What the handler is given beside the message."""

    @property
    def redis(self) -> Redis: ...
    @property
    def settings(self) -> dict[str, Any]: ...
    async def call(self, service: str) -> Any: ...
    async def reply(self, kind: Reply | str, text: str = "") -> None: ...
    def mark(self, mark: Mark | str, **values: int) -> None: ...
    def log(self, line: str) -> None: ...
