"""A team's own handler (`[code]`), one message: run it, wait the world's waits, write its record (either engine).

The SimPy world (`sim.world.code_engine`) and `sim live` (`sim.live.code`) both run a message's
handler with `run_handler`, wait a service's latency with `wait_exactly`, and turn what its `ctx`
saw into the message's flat record with `team_record`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sim.code.context import HandlerContext, InboundMessage
from sim.code.contract import Reply
from sim.metrics.records import MessageRecord, Outcome, Source
from sim.run.workload import PlannedMessage

Handler = Callable[[Any, Any], Any]
REPLY_OUTCOME = {Reply.ANSWERED: Outcome.ANSWERED, Reply.BUSY: Outcome.BUSY, Reply.FAILED: Outcome.FAILED}


async def run_handler(handler: Handler, message: InboundMessage, ctx: HandlerContext) -> BaseException | None:
    """Run the handler; an exception it raises is the message's (its record says `failed` and the type)."""
    try:
        await handler(message, ctx)
    except Exception as error:  # the team's bug or its unhandled failure: the message's outcome, not the run's end
        return error
    except asyncio.CancelledError as error:
        # Nothing of sim cancels a message's own task (a handler past max_handling stops the run instead), so
        # this is the handler's: it raised CancelledError or cancelled its own task. Its message fails.
        return error
    finally:
        ctx.closed = True  # what its tasks send from now on is counted apart (`late_commands`)
    return None


async def wait_exactly(seconds: float) -> None:
    """A wait of the world (a service's latency): on the simulated loop never jittered."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    when = loop.time() + seconds
    exactly = getattr(loop, "call_exactly_at", None)  # the simulated loop's: never jittered
    (exactly or loop.call_at)(when, _resolve, future)
    await future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def team_record(
    p: PlannedMessage, arrival: float, started: float, done_at: float, ctx: HandlerContext, error: BaseException | None
) -> MessageRecord:
    """The flat record of one message served by a team's handler; what it did not mark stays "never"."""
    reply = ctx.reply_kind
    outcome = REPLY_OUTCOME[reply] if reply is not None else Outcome.FAILED if error else Outcome.NO_REPLY
    calls, seconds = ctx.services.calls, ctx.services.seconds
    return MessageRecord(
        message=p.id,
        customer=p.customer,
        index=p.index,
        arrival=arrival,
        queue_wait=started - arrival,
        lock_wait=ctx.lock_waited,
        lock_attempts=ctx.lock_attempts,
        outcome=outcome,
        source=None if ctx.cache_source is None else Source(ctx.cache_source),
        crm_s=seconds.get("crm", 0.0),
        llm_s=seconds.get("llm", 0.0),
        reply_at=ctx.replied_at if ctx.replied_at is not None else done_at,
        lock_lost=ctx.lock_lost,
        done_at=done_at,
        redis_commands=ctx.commands,
        cache_errors=ctx.cache_errors,
        lock_errors=ctx.lock_errors,
        llm_called=calls.get("llm", 0) > 0,
        acquired_at=ctx.acquired_at,
        started_at=started,
        lock_asked_at=ctx.lock_asked_at,
        lock_refreshed_at=ctx.lock_refreshed_at,
        released_at=ctx.released_at,
        tax_id=p.tax_id,
        cache_checked_at=ctx.cache_checked_at,
        crm_calls=calls.get("crm", 0),
        llm_calls=calls.get("llm", 0),
        burst=p.burst,
        in_outage=p.in_outage,
        scripted=p.scripted,
        error=type(error).__name__ if error is not None else "",
    )
