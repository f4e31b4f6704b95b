"""The flat per-message record every metric and report is computed from.

Its closed sets are the system under test's own (`Outcome`, `Source`), named here too so
that reports read them from the results model. A time that never happened is `None`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum

from sim.sut.outcomes import Outcome, Source, Stored

__all__ = [
    "FIELDS",
    "RESOLVED",
    "ConversationRecord",
    "MessageKind",
    "MessageRecord",
    "Outcome",
    "RunResult",
    "Source",
    "Stored",
    "WorldCounts",
]

# A record's outcome once debounce batches are resolved: a merged message takes its batch's.
RESOLVED = (Outcome.ANSWERED, Outcome.BUSY, Outcome.FAILED, Outcome.NO_REPLY)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    message: int
    customer: str
    index: int  # position in the customer's burst, 0 first
    arrival: float  # seconds from the start of the run
    queue_wait: float  # arrival → a worker picks it up
    lock_wait: float  # first lock attempt → acquired or gave up
    lock_attempts: int
    outcome: Outcome  # one of RESOLVED
    source: Source | None  # where the outage check's answer came from; None: the check never finished
    crm_s: float
    llm_s: float
    reply_at: float  # when the customer got the answer or the apology
    lock_lost: bool  # the lock's TTL ran out while this message held it
    done_at: float  # when its worker was free again
    redis_commands: int
    cache_errors: int
    lock_errors: int
    llm_called: bool = False  # this message's handling made an LLM call
    merged_into: int | None = None  # debounce: the message whose reply answered this one too
    batch: tuple[int, ...] = ()  # debounce: the messages this one's reply also answered
    # Times recorded where they happen (never re-derived from sums), for the invariants; None: never.
    acquired_at: float | None = None  # when this message's worker took the lock
    started_at: float  # when a worker picked it up (arrival + queue_wait, but exact)
    lock_asked_at: float | None = None  # when its worker first asked for the lock (the fair lock: joined the queue)
    lock_refreshed_at: float | None = None  # the last time its lock's TTL was set (acquired, or extended)
    released_at: float | None = None  # when its worker let go of the lock (sent the release)
    tax_id: str = ""
    cache_checked_at: float | None = None  # when the outage check returned (a hit's read, a miss's fill)
    crm_calls: int = 0  # CRM calls this message made, failed and timed-out ones included
    llm_calls: int = 0  # LLM calls this message made, failed and timed-out ones included
    # Who sent it, for the per-burst metrics and the segments (`sim.metrics.segments`).
    burst: int | None = None  # its burst's number in the run; None: not known (a record built by hand)
    in_outage: bool = False  # its customer writes from a region with an active massive outage
    scripted: bool = False  # one of the scenario's scripted customers, not a generated one
    error: str = ""  # a team's handler (`[code]`) raised: the exception's type ("" when it did not)
    # What the conversation store did with this message's answer, written at `reply_at` as it was sent (runs that
    # measure lock safety); None: nothing was written (no answer, or no store).
    stored: Stored | None = None

    @property
    def latency(self) -> float:
        return self.reply_at - self.arrival


FIELDS = tuple(f.name for f in fields(MessageRecord))


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldCounts:
    """What the simulated world itself counted during a run, where each thing happened.

    The per-message records must add up to these (`sim.metrics.invariants`).
    """

    redis_commands: int = 0  # commands the driver sent to the fake server, spawned steps' included
    crm_calls: int = 0  # calls the CRM received
    llm_calls: int = 0  # calls the LLM received
    succeeded_while_down: int = 0  # commands that got a reply while the server refused connections
    leftover_keys: tuple[str, ...] = ()  # lock, queue, grant and debounce keys still live after the drain
    late_commands: int = 0  # a team's handler: commands its tasks sent after it had returned (in no record)
    orphan_commands: int = 0  # a team's handler: commands sent outside any message (in no record)
    store_writes: int = 0  # answers the conversation store received (none without a store)
    store_refused: int = 0  # of those, the ones it refused (fencing)


class MessageKind(StrEnum):
    """Why a conversation's customer sent a message."""

    INTENT = "intent"  # the next thing it wants answered
    NUDGE = "nudge"  # "?": no reply within its patience
    RESEND = "resend"  # the intent again, after a busy apology


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRecord:
    """One closed-loop customer's session (`[workload.conversations]`): what it sent and how it ended.

    Its messages' records carry `burst` = this conversation's `burst` and `index` = the place in `sent`.
    A message `dropped` has no record: its customer had left before a worker picked it up, and the bot,
    finding the conversation closed, dropped it at no cost (the invariants count it).
    """

    burst: int  # its messages' burst number (after every open-loop burst of the run)
    customer: str
    started: float  # when its first message was sent
    intents: int  # the intents it came with
    answered: int  # intents that got a reply other than the busy apology
    sent: tuple[MessageKind, ...]  # every message it sent, in order: its records' `index`
    messages: tuple[int, ...]  # their message ids, in the same order
    gave_up_at: float | None = None  # when it left at an impatience expiry; None: it stayed to the end
    dropped: tuple[int, ...] = ()  # ids of its messages dropped unserved because it had left


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """Everything one simulation run of one variant produced."""

    variant: str
    replication: int
    records: Sequence[MessageRecord]  # a run's: `sim.metrics.columns.RecordColumns`, by message id
    commands_per_second: Mapping[int, int]  # second → Redis commands issued in it (a run's: `CountsBySecond`)
    trace: tuple[str, ...] = ()  # the production log lines (`sim run --trace`)
    events: int = 0  # SimPy events the run scheduled (a cost figure for `sim bench`)
    violations: tuple[str, ...] = ()  # broken invariants (sim.metrics.invariants); empty when all held
    world: WorldCounts | None = None  # None when nobody counted (a live run)
    conversations: tuple[ConversationRecord, ...] = ()  # closed-loop customers, by burst; none without them
