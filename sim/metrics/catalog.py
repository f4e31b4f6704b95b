"""The metrics sim reports, by name: their units, which way is better, and the words reports use.

No numbers here, and no numpy: `sim --help` lists these names and must start fast (the values are
computed by `sim.metrics.summary` and its siblings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    """What a metric's number counts; reports format it by this."""

    SECONDS = "seconds"
    RATIO = "ratio"  # a share, 0 to 1
    COUNT = "count"  # per run; a mean over replications may have a fraction

    @property
    def bounds(self) -> tuple[float, float]:
        """The values a metric of this unit can take: its intervals are cut at them (`stats.mean_ci`)."""
        return (0.0, 1.0) if self is Unit.RATIO else (0.0, math.inf)


@dataclass(frozen=True, slots=True)
class Metric:
    """A per-run metric. Its value is NaN where it does not apply (no number to show, no verdict)."""

    name: str
    better: bool | None  # True: a larger value is better; False: a smaller one; None: neither (no verdict)
    unit: Unit
    label: str  # what reports show: what is counted, over which messages
    decimals: int | None = None  # shown with this many decimals instead of its unit's (a count per intent)
    undefined: str = ""  # when it does not apply to a run (its value is NaN), in words; "" if it always applies


NO_MESSAGE, NO_ANSWER, NO_BURST_WORDS = "no message", "no message was answered", "no burst of messages"
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("messages", None, Unit.COUNT, "messages"),
        Metric("answered", True, Unit.COUNT, "messages answered"),
        Metric("busy", False, Unit.COUNT, "busy apologies"),
        Metric("failed", False, Unit.COUNT, "failure apologies (a CRM or LLM call failed)"),
        Metric("busy_rate", False, Unit.RATIO, "busy apologies, share of messages", undefined=NO_MESSAGE),
        Metric(
            "latency_p50_s", False, Unit.SECONDS, "latency p50, all messages (apologies included)", undefined=NO_MESSAGE
        ),
        Metric(
            "latency_p95_s", False, Unit.SECONDS, "latency p95, all messages (apologies included)", undefined=NO_MESSAGE
        ),
        Metric(
            "latency_p99_s", False, Unit.SECONDS, "latency p99, all messages (apologies included)", undefined=NO_MESSAGE
        ),
        Metric(
            "latency_answered_p50_s", False, Unit.SECONDS, "latency p50, answered messages only", undefined=NO_ANSWER
        ),
        Metric(
            "latency_answered_p95_s", False, Unit.SECONDS, "latency p95, answered messages only", undefined=NO_ANSWER
        ),
        Metric(
            "latency_answered_p99_s", False, Unit.SECONDS, "latency p99, answered messages only", undefined=NO_ANSWER
        ),
        Metric(
            "first_reply_p50_s",
            False,
            Unit.SECONDS,
            "time to a burst's first reply, p50 (apologies included)",
            undefined=NO_BURST_WORDS,
        ),
        Metric(
            "first_reply_p95_s",
            False,
            Unit.SECONDS,
            "time to a burst's first reply, p95 (apologies included)",
            undefined=NO_BURST_WORDS,
        ),
        Metric(
            "customers_apologised",
            False,
            Unit.RATIO,
            "customers who got a busy apology, share of customers",
            undefined="no customer wrote",
        ),
        Metric(
            "cache_hit_ratio",
            True,
            Unit.RATIO,
            "cache hit ratio of the outage checks (none without a cache)",
            undefined="no outage check asked a cache: the cache is off",
        ),
        Metric("crm_calls", False, Unit.COUNT, "CRM calls, failed ones included"),
        Metric("llm_calls", None, Unit.COUNT, "LLM calls, failed ones included"),
        Metric("lock_polls", False, Unit.COUNT, "lock attempts"),
        Metric("redis_commands", False, Unit.COUNT, "Redis commands"),
        Metric("lock_lost", False, Unit.COUNT, "locks lost (the TTL ran out while held)"),
        Metric("redis_errors", False, Unit.COUNT, "Redis errors (lock and cache)"),
        Metric("out_of_order", False, Unit.COUNT, "answers that overtook an earlier message's answer"),
    )
}


# Metrics of the customers who wait for answers (`[workload.conversations]`), computed from the run's
# `ConversationRecord`s (`sim.metrics.conversations`). Kept apart from METRICS: a scenario without
# conversations has none of them, and its reports stay as they were; one with them compares them like
# the others (`Comparison.metrics`).
CONVERSATION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("conversations", None, Unit.COUNT, "conversations (sessions of customers who wait for answers)"),
        Metric(
            "abandon_rate",
            False,
            Unit.RATIO,
            "conversations whose customer gave up, share of conversations",
            undefined="no conversation",
        ),
        Metric(
            "intents_answered_rate",
            True,
            Unit.RATIO,
            "intents answered, share of the intents customers came with (those never sent included)",
            undefined="no conversation",
        ),
        Metric(
            "nudges_per_intent",
            False,
            Unit.COUNT,
            'nudges ("?" after the patience ran out) per intent sent',
            3,
            undefined="no intent was sent",
        ),
        Metric(
            "resends_per_intent",
            False,
            Unit.COUNT,
            "re-sends after a busy apology per intent sent",
            3,
            undefined="no intent was sent",
        ),
        Metric("dropped_messages", False, Unit.COUNT, "messages dropped unserved: their customer had left"),
    )
}
# Metrics of a team's own handler (`[code]`), computed from the records and the world's counts
# (`code_metrics`). Like the conversation metrics, kept apart: reports of the built-in bot stay as they were.
CODE_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("no_reply", False, Unit.COUNT, "messages whose handler returned without replying"),
        Metric("handler_errors", False, Unit.COUNT, "messages whose handler raised (their type is in records.csv)"),
        Metric("late_commands", None, Unit.COUNT, "Redis commands of handlers' tasks after their message ended"),
    )
}
# Lock safety, measured outside Redis (`sim.metrics.lock_safety`): only a scenario that studies it (a failover,
# replicas, fencing or WAIT) has these, so every other report stays as it was.
LOCK_SAFETY_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "overlapping_holders",
            False,
            Unit.COUNT,
            "messages whose lock hold overlapped another holder's on the same conversation",
        ),
        Metric(
            "stale_writes",
            False,
            Unit.COUNT,
            "answers the conversation store accepted after a newer lock holder's (the older one lands last)",
        ),
        Metric("fenced_writes", None, Unit.COUNT, "answers the conversation store refused for an older fencing token"),
    )
}
# Every metric a name may refer to (thresholds, --precision, reports' labels and units).
ALL_METRICS: dict[str, Metric] = METRICS | CONVERSATION_METRICS | CODE_METRICS | LOCK_SAFETY_METRICS
