"""The flat per-message record every metric and report is computed from."""

from __future__ import annotations

from dataclasses import dataclass, fields

OUTCOMES = ("answered", "busy", "failed")
SOURCES = ("hit", "miss", "fallback", "off", "")


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message: int
    customer: str
    index: int  # position in the customer's burst, 0 first
    arrival: float  # seconds from the start of the run
    queue_wait: float  # arrival → a worker picks it up
    lock_wait: float  # first lock attempt → acquired or gave up
    lock_attempts: int
    outcome: str  # answered | busy | failed
    source: str  # outage check: hit | miss | fallback | off | "" (never reached)
    crm_s: float
    llm_s: float
    reply_at: float  # when the customer got the answer or the apology
    lock_lost: bool  # the lock's TTL ran out while this message held it
    done_at: float  # when its worker was free again
    redis_commands: int
    cache_errors: int
    lock_errors: int
    llm_called: bool = False  # this message's handling made an LLM call
    merged_into: int = -1  # debounce: the message whose reply answered this one too; -1 if none
    batch: tuple[int, ...] = ()  # debounce: the messages this one's reply also answered
    acquired_at: float = -1.0  # when this message's worker took the lock; -1 if it never did
    # Times recorded where they happen (never re-derived from sums), for the invariants:
    started_at: float = -1.0  # when a worker picked it up (arrival + queue_wait, but exact)
    lock_asked_at: float = -1.0  # when its worker first asked for the lock (the fair lock: joined the queue)
    lock_refreshed_at: float = -1.0  # the last time its lock's TTL was set (acquired, or extended by the watchdog)
    released_at: float = -1.0  # when its worker let go of the lock (sent the release); -1 if it never held it
    tax_id: str = ""
    cache_checked_at: float = -1.0  # when the outage check returned (a hit's read, a miss's fill); -1 if none
    crm_calls: int = 0  # CRM calls this message made, failed and timed-out ones included
    llm_calls: int = 0  # LLM calls this message made, failed and timed-out ones included

    @property
    def latency(self) -> float:
        return self.reply_at - self.arrival


FIELDS = tuple(f.name for f in fields(MessageRecord))


@dataclass(frozen=True, slots=True)
class WorldCounts:
    """What the simulated world itself counted during a run, where each thing happened.

    The per-message records must add up to these (`sim.metrics.invariants`).
    """

    redis_commands: int = 0  # commands the driver sent to the fake server, spawned steps' included
    crm_calls: int = 0  # calls the CRM received
    llm_calls: int = 0  # calls the LLM received
    succeeded_while_down: int = 0  # commands that got a reply while the server refused connections
    leftover_keys: tuple[str, ...] = ()  # lock, queue, grant and debounce keys still live after the drain


@dataclass(frozen=True, slots=True)
class RunResult:
    """Everything one simulation run of one variant produced."""

    variant: str
    replication: int
    records: tuple[MessageRecord, ...]
    commands_per_second: dict[int, int]  # second → Redis commands issued in it
    trace: tuple[str, ...]
    events: int = 0  # SimPy events the run scheduled (a cost figure for `sim bench`)
    violations: tuple[str, ...] = ()  # broken invariants (sim.metrics.invariants); empty when all held
    world: WorldCounts | None = None  # None when nobody counted (a live run)
