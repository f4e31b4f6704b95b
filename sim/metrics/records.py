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

    @property
    def latency(self) -> float:
        return self.reply_at - self.arrival


FIELDS = tuple(f.name for f in fields(MessageRecord))


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
