"""The invariants as they were before they ran on columns: one record at a time, dicts of lists.

Kept verbatim (the module docstring aside) as the oracle that `sim.metrics.invariants` must
agree with (tests/metrics/test_invariants_columnar.py): same problems, same order, same words.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.metrics.records import RESOLVED, MessageRecord, Outcome, Source, WorldCounts
from sim.metrics.summary import crm_calls, llm_calls, redis_commands

EPSILON = 1e-9
# The lock gives up within its own clock epsilon (1e-9 s) of its deadline; the check allows that too.
DEADLINE_SLACK = 2 * EPSILON


@dataclass(frozen=True, slots=True)
class Facts:
    """What a run's records are checked against; a fact left at None is not checked."""

    expected: int
    workers: int
    lock_ttl: float
    lock_timeout: float | None = None
    fair: bool = False
    cache_ttl: float | None = None  # None: the cache is off
    rtt: float = 0.0  # every time in a record is seen one round trip after the command ran
    restarts: tuple[float, ...] = ()  # when Redis restarted and lost every key
    world: WorldCounts | None = None


def check(records: Sequence[MessageRecord], **facts: Any) -> list[str]:
    """Human-readable violations; an empty list means every invariant held. `facts`: see `Facts`
    (whose constructor checks their names; `Any` because each has a type of its own)."""
    known = Facts(**facts)
    return [problem for _, rule in CHECKS for problem in rule(records, known)]


def _one_outcome_each(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    problems = []
    expected = facts.expected
    ids = [r.message for r in records]
    if len(ids) != expected or len(set(ids)) != expected:
        problems.append(f"{expected} messages arrived but {len(set(ids))} distinct ones got an outcome ({len(ids)})")
    bad = [r.message for r in records if r.outcome not in RESOLVED]
    if bad:
        problems.append(f"messages without a valid outcome: {bad[:5]}")
    return problems


def _no_negative_waits(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    bad = [
        r.message
        for r in records
        if min(r.queue_wait, r.lock_wait, r.crm_s, r.llm_s) < -EPSILON or r.reply_at < r.arrival - EPSILON
    ]
    return [f"negative waits or replies before arrival in messages {bad[:5]}"] if bad else []


def _no_reply_before_the_work(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    """An answer comes after the lock was taken and the CRM and LLM time was spent."""
    bad = [
        r.message
        for r in records
        if r.outcome == Outcome.ANSWERED
        and r.merged_into is None
        and r.acquired_at is not None
        and r.reply_at < r.acquired_at + r.crm_s + r.llm_s - EPSILON
    ]
    return [f"answers before their lock + CRM + LLM time in messages {bad[:5]}"] if bad else []


def _worker_freed_after_reply(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    # A merged message's worker moves on at once; its reply is its batch leader's.
    bad = [r.message for r in records if r.merged_into is None and r.done_at < r.reply_at - EPSILON]
    return [f"workers freed before their reply in messages {bad[:5]}"] if bad else []


def _workers_conserved(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    """Never more messages in service than workers: starts and ends swept in time order.

    A worker freed at t and taken again at t is one worker: ends count up to `EPSILON` after a start.
    """
    if not records:
        return []
    starts = np.sort(np.fromiter((r.started_at for r in records), dtype=float, count=len(records)))
    ends = np.sort(np.fromiter((r.done_at for r in records), dtype=float, count=len(records)))
    busy = np.arange(1, len(starts) + 1) - np.searchsorted(ends, starts + EPSILON, side="right")
    peak = int(busy.max())
    return [f"{peak} messages in service at once with {facts.workers} workers"] if peak > facts.workers else []


def _busy_only_after_the_timeout(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    """A busy apology means the lock timeout ran out — unless Redis errored while waiting."""
    if facts.lock_timeout is None:
        return []
    limit = facts.lock_timeout - DEADLINE_SLACK
    bad = [
        r.message
        for r in records
        if r.outcome == Outcome.BUSY and r.merged_into is None and r.lock_errors == 0 and r.lock_wait < limit
    ]
    return [f"busy apologies before the {facts.lock_timeout:g} s lock timeout in messages {bad[:5]}"] if bad else []


def _one_holder_at_a_time(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    """One holder per conversation: a lock taken while another holder's is still live is a bug.

    A hold ends when its holder sends the release, or one TTL after the lock was
    last set (acquired, or extended by the watchdog) if that is earlier: then the
    key really expired. An overlap is also excused by a Redis restart during it.
    """
    held: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for r in records:
        if r.acquired_at is not None:
            let_go = r.released_at if r.released_at is not None else r.reply_at
            refreshed = r.lock_refreshed_at if r.lock_refreshed_at is not None else r.acquired_at
            held[r.customer].append((r.acquired_at, min(let_go, refreshed + facts.lock_ttl), r.message))
    problems = []
    for customer, holds in held.items():
        holds.sort()
        end, first, first_start = -np.inf, -1, 0.0
        for start, stop, message in holds:
            # The first holder's SET ran one round trip before it saw it: a restart then wiped it too.
            if start < end - EPSILON and not _restart_between(facts, first_start - facts.rtt - EPSILON, start):
                problems.append(f"two holders of {customer}'s lock: messages {first} and {message}")
            if stop > end:
                end, first, first_start = stop, message, start
    return problems[:5]


def _restart_between(facts: Facts, start: float, stop: float) -> bool:
    i = bisect.bisect_left(facts.restarts, start)
    return i < len(facts.restarts) and facts.restarts[i] <= stop


def _one_batch_each(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    seen = Counter(m for r in records for m in r.batch)
    twice = sorted(m for m, n in seen.items() if n > 1)
    return [f"messages answered in more than one debounce batch: {twice[:5]}"] if twice else []


def _fair_lock_in_queue_order(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    """The fair lock: of one conversation's holders (none lost), the earlier to queue acquires first."""
    if not facts.fair:
        return []
    queued: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for r in records:
        if r.acquired_at is not None and r.lock_asked_at is not None and not r.lock_lost:
            queued[r.customer].append((r.lock_asked_at, r.acquired_at, r.message))
    problems = []
    for customer, waits in queued.items():
        waits.sort()
        latest, before = -np.inf, -1
        for asked, acquired, message in waits:
            if acquired < latest - EPSILON and not _restart_between(facts, asked, latest):
                problems.append(f"{customer}'s fair lock granted message {message} before {before}, queued earlier")
            if acquired > latest:
                latest, before = acquired, message
    return problems[:5]


def _cache_hits_within_ttl(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    """A hit read an entry a miss stored at most one TTL earlier.

    Both times are seen one round trip after the command ran; a single-flight
    leader sees its fill one more round trip late (it releases the fill lock first).
    """
    if facts.cache_ttl is None:
        return []
    fills: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.source == Source.MISS and r.cache_errors == 0 and r.cache_checked_at is not None:
            fills[r.tax_id].append(r.cache_checked_at)
    for times in fills.values():
        times.sort()
    bad = []
    for r in records:
        if r.source == Source.HIT and r.cache_checked_at is not None:  # a hit's check always finished
            times = fills.get(r.tax_id, [])
            i = bisect.bisect_right(times, r.cache_checked_at + facts.rtt + EPSILON)
            if i == 0 or times[i - 1] < r.cache_checked_at - facts.cache_ttl - EPSILON:
                bad.append(r.message)
    return [f"cache hits older than the {facts.cache_ttl:g} s TTL in messages {bad[:5]}"] if bad else []


def _redis_commands_conserved(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    if facts.world is None:
        return []
    per_message, sent = redis_commands(records), facts.world.redis_commands
    return [f"the messages account for {per_message} Redis commands of {sent} sent"] if per_message != sent else []


def _service_calls_conserved(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    if facts.world is None:
        return []
    problems = []
    for name, counted, served in (
        ("CRM", crm_calls(records), facts.world.crm_calls),
        ("LLM", llm_calls(records), facts.world.llm_calls),
    ):
        if counted != served:
            problems.append(f"the metrics count {counted} {name} calls but the {name} served {served}")
    return problems


def _nothing_answered_while_down(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    if facts.world is None or facts.world.succeeded_while_down == 0:
        return []
    return [f"{facts.world.succeeded_while_down} Redis commands succeeded while Redis was down"]


def _no_keys_left_behind(records: Sequence[MessageRecord], facts: Facts) -> list[str]:
    if facts.world is None or not facts.world.leftover_keys:
        return []
    keys = facts.world.leftover_keys
    return [f"{len(keys)} lock, queue, grant or batch keys left after the drain: {list(keys[:5])}"]


Rule = Callable[[Sequence[MessageRecord], Facts], list[str]]
CHECKS: tuple[tuple[str, Rule], ...] = (
    ("one outcome per message", _one_outcome_each),
    ("no negative waits", _no_negative_waits),
    ("no reply before arrival or before lock + CRM + LLM time", _no_reply_before_the_work),
    ("worker freed after the reply", _worker_freed_after_reply),
    ("never more messages in service than workers", _workers_conserved),
    ("busy apology only after the lock timeout (or a Redis error)", _busy_only_after_the_timeout),
    ("one lock holder until the hold really ended (released, TTL ran out, or Redis restarted)", _one_holder_at_a_time),
    ("each message in at most one debounce batch", _one_batch_each),
    ("the fair lock grants in queue order", _fair_lock_in_queue_order),
    ("no cache hit older than its TTL", _cache_hits_within_ttl),
    ("Redis commands per message add up to the commands sent", _redis_commands_conserved),
    ("CRM and LLM calls in the metrics equal the calls served", _service_calls_conserved),
    ("no command succeeds while Redis is down", _nothing_answered_while_down),
    ("no lock, queue, grant or batch key left after the drain", _no_keys_left_behind),
)
NAMES = tuple(name for name, _ in CHECKS)
