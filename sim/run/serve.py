"""One message served, the same way on either engine: from its worker's turn to its record.

`serve_message` is itself a step of effects (`sim.sut.effects`): the SimPy
world's driver runs it on simulated time, `sim live`'s blocking driver on the
wall clock. Each engine only decides when a worker is free and how effects are
carried out; what a message is, what it meets and what is recorded is here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.metrics.columns import OUTCOMES, RecordColumns
from sim.metrics.records import MessageRecord, Outcome
from sim.run.faults import NO_FAULTS, FaultSchedule
from sim.run.services import PlannedCrm, PlannedLlm, Served
from sim.run.workload import PlannedMessage
from sim.scenario.model import Services
from sim.sut.effects import NOW, Step
from sim.sut.handler import ConversationStore, Handled, Message, MessageHandler

TOKEN_PREFIX = "msg-"
RUN_MARK = "@"  # a live token ends with `@<run id>`: unique to its run on a shared server


def token(message: int, run_id: str = "") -> str:
    """The lock token (and debounce entry) of message `message`; `run_id` makes it unique to a live run."""
    return f"{TOKEN_PREFIX}{message}{RUN_MARK}{run_id}" if run_id else f"{TOKEN_PREFIX}{message}"


def message_of(token: str) -> int:
    """The message id a `token` was made from, whichever run made it."""
    return int(token.removeprefix(TOKEN_PREFIX).partition(RUN_MARK)[0])


def thread_id(planned: PlannedMessage) -> str:
    return f"thread_{planned.customer}"


def trace_label(planned: PlannedMessage) -> str:
    """What the production log lines of this message start with (`sim run --trace`)."""
    return f"msg#{planned.id} {thread_id(planned)}:"


@dataclass(frozen=True, slots=True)
class TimeScale:
    """The engine's clock in the scenario's seconds: `factor` engine seconds per scenario second, from `start`.

    The SimPy world runs on scenario seconds (`SIMULATED`); `sim live` on the wall clock.
    """

    start: float
    factor: float

    def at(self, t: float) -> float:
        return (t - self.start) / self.factor

    def span(self, seconds: float) -> float:
        return seconds / self.factor

    def instant(self, t: float | None) -> float | None:
        """An instant of the handler in scenario seconds; None (it never happened) stays None."""
        return None if t is None else self.at(t)

    def handled(self, h: Handled) -> Handled:
        """`h` with its spans and instants in scenario seconds."""
        if self == SIMULATED:
            return h
        answer = dataclasses.replace(
            h.answer,
            crm_s=self.span(h.answer.crm_s),
            llm_s=self.span(h.answer.llm_s),
            checked_at=self.instant(h.answer.checked_at),
        )
        return dataclasses.replace(
            h,
            answer=answer,
            acquisition=dataclasses.replace(h.acquisition, waited=self.span(h.acquisition.waited)),
            replied_at=self.at(h.replied_at),
            acquired_at=self.instant(h.acquired_at),
            lock_asked_at=self.instant(h.lock_asked_at),
            lock_refreshed_at=self.instant(h.lock_refreshed_at),
            released_at=self.instant(h.released_at),
        )


SIMULATED = TimeScale(0.0, 1.0)


class CommandCount(Protocol):
    """Where a driver counts the Redis commands sent for one message (a SimPy `Tally`, a `BlockingDriver`)."""

    commands: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Serving:
    """What every message of one run is served with."""

    handler: MessageHandler
    services: Services  # its timeouts on the engine's clock
    faults: FaultSchedule = NO_FAULTS
    served: Served | None = None  # the calls the CRM and the LLM received; None: not counted across messages
    clock: TimeScale = SIMULATED
    run_id: str = ""  # ends every token (`sim live`)
    # Told of every reply as soon as the handler has made it (message id, what it handled; `replied_at` on the
    # engine's clock, not yet passed by it): how an engine lets a customer who waits for answers hear its reply.
    replied: Callable[[int, Handled], None] | None = None
    store: ConversationStore | None = None  # where answers are written (runs that measure lock safety); None: nowhere


def serve_message(
    serving: Serving, planned: PlannedMessage, arrival: float, counted: CommandCount
) -> Step[MessageRecord]:
    """Handle `planned` (arrived at `arrival`, engine clock) once a worker took it; returns its record.

    `counted` is where the driver running this step counts its Redis commands.
    """
    started = yield NOW
    clock, services = serving.clock, serving.services
    message = Message(
        thread_id(planned), planned.tax_id, f"message {planned.index + 1}", token(planned.id, serving.run_id)
    )
    crm = PlannedCrm(
        planned.crm_latency * clock.factor,
        planned.points,
        in_outage=planned.in_outage,
        timeout=services.crm_timeout,
        faults=serving.faults,
        draw=planned.fault_draw,
        served=serving.served,
    )
    llm = PlannedLlm(planned.llm_latency * clock.factor, services.llm_timeout, serving.faults, serving.served)
    handled = yield from serving.handler.handle(message, crm, llm, serving.store)
    if serving.replied is not None:
        serving.replied(planned.id, handled)
    done = yield NOW
    arrived_at, started_at, done_at = clock.at(arrival), clock.at(started), clock.at(done)
    calls = (crm.calls, llm.calls)
    return to_record(planned, arrived_at, started_at, clock.handled(handled), counted.commands, done_at, calls=calls)


def to_record(
    p: PlannedMessage,
    arrival: float,
    started: float,
    h: Handled,
    commands: int,
    done_at: float,
    *,
    calls: tuple[int, int],
) -> MessageRecord:
    """The flat record of one handled message (a merged one is completed by `resolve_batches`);
    `calls` are the CRM and LLM calls its services counted, failed ones included."""
    crm_calls, llm_calls = calls
    answer, got = h.answer, h.acquisition
    return MessageRecord(
        message=p.id,
        customer=p.customer,
        index=p.index,
        arrival=arrival,
        queue_wait=started - arrival,
        lock_wait=got.waited,
        lock_attempts=got.attempts,
        outcome=answer.outcome,
        source=answer.source,
        crm_s=answer.crm_s,
        llm_s=answer.llm_s,
        reply_at=h.replied_at,
        lock_lost=h.lock_lost,
        done_at=done_at,
        redis_commands=commands,
        cache_errors=answer.cache_errors,
        lock_errors=got.errors,
        llm_called=answer.llm_called,
        batch=tuple(message_of(t) for t in h.batch),
        acquired_at=h.acquired_at,
        started_at=started,
        lock_asked_at=h.lock_asked_at,
        lock_refreshed_at=h.lock_refreshed_at,
        released_at=h.released_at,
        tax_id=p.tax_id,
        cache_checked_at=answer.checked_at,
        crm_calls=crm_calls,
        llm_calls=llm_calls,
        burst=p.burst,
        in_outage=p.in_outage,
        scripted=p.scripted,
        stored=h.stored,
    )


def resolve_batches(records: list[MessageRecord]) -> list[MessageRecord]:
    """A debounced message gets the outcome and reply time of the message that answered its batch.

    One whose batch vanished (Redis restarted or failed between its push and the
    leader's take) was never answered: it is `failed`, at the time its worker moved on.
    """
    leader_of = {member: r for r in records for member in r.batch}
    resolved = []
    for r in records:
        if r.outcome == Outcome.MERGED:
            leader = leader_of.get(r.message)
            if leader is None:
                r = dataclasses.replace(r, outcome=Outcome.FAILED, reply_at=r.done_at)
            else:
                r = dataclasses.replace(r, outcome=leader.outcome, reply_at=leader.reply_at, merged_into=leader.message)
        resolved.append(r)
    return resolved


def resolve_batches_in_place(records: RecordColumns) -> None:
    """`resolve_batches` on a run's columns sorted by message: only the debounced rows (merged
    messages and batch leaders, few) are read and rewritten, by the same function."""
    merged = np.flatnonzero(records.column("outcome") == OUTCOMES.index(Outcome.MERGED))
    rows = sorted({*merged.tolist(), *records.debounced()})
    for row, resolved in zip(rows, resolve_batches([records[row] for row in rows]), strict=True):
        if resolved != records[row]:
            records.replace(row, resolved)
