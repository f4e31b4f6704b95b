"""Invariants every run must keep; checked cheaply after each run, reported when broken.

A broken invariant is a bug in the simulator (or in the system under test),
never a property of the workload: the CLI reports it and exits with code 3.

Times in a record are taken where things happen (`MessageRecord`), never
re-derived from sums, and compared with one tolerance, `EPSILON`. Counts are
conserved: what the messages say they sent or called must add up to what the
world (driver, CRM, LLM) counted. Every check is O(n log n) in the records and
runs on their columns (`RecordColumns`): a month of messages is checked in seconds.
Per-customer orderings sort rows by (customer, time...) with `lexsort` instead of
grouping records in dicts of lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.metrics.columns import NO_BURST, OUTCOMES, SOURCES, RecordColumns
from sim.metrics.lock_safety import stale_writes, stored
from sim.metrics.records import (
    RESOLVED,
    ConversationRecord,
    MessageKind,
    MessageRecord,
    Outcome,
    Source,
    Stored,
    WorldCounts,
)
from sim.metrics.summary import crm_calls, llm_calls, redis_commands

EPSILON = 1e-9
# The lock gives up within its own clock epsilon (1e-9 s) of its deadline; the check allows that too.
DEADLINE_SLACK = 2 * EPSILON


@dataclass(frozen=True, slots=True)
class Facts:
    """What a run's records are checked against; a fact left at None is not checked."""

    expected: int
    workers: int | None  # None: no worker limit (the async model), so no message ever waits for one
    lock_ttl: float
    lock_timeout: float | None = None
    fair: bool = False
    cache_ttl: float | None = None  # None: the cache is off
    rtt: float = 0.0  # every time in a record is seen one round trip (at most this long) after the command ran
    rtt_spread: float = 0.0  # longest minus shortest round trip: how far apart two commands' lateness can be
    hit_cost: float = 0.0  # the longest extra time a cache hit took after its reply (`[cache]hit_cost`)
    restarts: tuple[float, ...] = ()  # when Redis restarted and lost every key
    failovers: tuple[float, ...] = ()  # when the Redis primary died in a failover (writes not yet replicated: lost)
    fencing: bool = False  # the lock hands out fencing tokens, which the conversation store checks
    world: WorldCounts | None = None
    dropped: int = 0  # messages dropped unserved: their conversation's customer had left (no record)
    conversations: tuple[ConversationRecord, ...] = ()  # what the customers who wait for answers sent
    builtin: bool = True  # the built-in bot; False: a team's own handler (`[code]`), see ANY_HANDLER


def check(records: Sequence[MessageRecord], **facts: Any) -> list[str]:
    """Human-readable violations; an empty list means every invariant held. `facts`: see `Facts`
    (whose constructor checks their names; `Any` because each has a type of its own).
    `records` in columns (a run's) are checked as they are; any other sequence is put in columns first."""
    known = Facts(**facts)
    columns = records if isinstance(records, RecordColumns) else RecordColumns.from_records(records)
    rules = CHECKS if known.builtin else tuple((name, rule) for name, rule in CHECKS if name in ANY_HANDLER)
    return [problem for _, rule in rules for problem in rule(columns, known)]


Array = np.ndarray[Any, Any]


def _is(records: RecordColumns, outcome: Outcome) -> Array:
    mask: Array = records.column("outcome") == OUTCOMES.index(outcome)
    return mask


def _merged(records: RecordColumns) -> Array:
    """Rows answered by another message's reply (debounce)."""
    merged = np.zeros(len(records), dtype=bool)
    merged[[row for row, (into, _) in records.debounced().items() if into is not None]] = True
    return merged


def _first_messages(records: RecordColumns, bad: Array) -> list[int]:
    """The ids of the first five messages where `bad` holds (the ones a problem names)."""
    return [int(m) for m in records.column("message")[bad][:5]]


def _one_outcome_each(records: RecordColumns, facts: Facts) -> list[str]:
    problems = []
    expected = facts.expected - facts.dropped  # a dropped message gets no outcome: its customer had left
    ids = records.column("message")
    distinct = _distinct(ids)
    if len(ids) != expected or distinct != expected:
        dropped = f", {facts.dropped} dropped" if facts.dropped else ""
        problems.append(
            f"{facts.expected} messages arrived{dropped} but {distinct} distinct ones got an outcome ({len(ids)})"
        )
    resolved = np.isin(records.column("outcome"), [OUTCOMES.index(o) for o in RESOLVED])
    if not resolved.all():
        problems.append(f"messages without a valid outcome: {_first_messages(records, ~resolved)}")
    return problems


def _distinct(ids: Array) -> int:
    """How many distinct values `ids` holds; a run's are sorted, counted without a sorted copy."""
    if len(ids) and bool(np.all(ids[1:] >= ids[:-1])):
        return 1 + int(np.count_nonzero(ids[1:] != ids[:-1]))
    return len(np.unique(ids))


def _no_negative_waits(records: RecordColumns, facts: Facts) -> list[str]:
    c = records.column
    negative = np.zeros(len(records), dtype=bool)
    for wait in ("queue_wait", "lock_wait", "crm_s", "llm_s"):
        negative |= c(wait) < -EPSILON
    bad = negative | (c("reply_at") < c("arrival") - EPSILON)
    return (
        [f"negative waits or replies before arrival in messages {_first_messages(records, bad)}"] if bad.any() else []
    )


def _no_reply_before_the_work(records: RecordColumns, facts: Facts) -> list[str]:
    """An answer comes after the lock was taken and the CRM and LLM time was spent."""
    c = records.column
    acquired = c("acquired_at")
    bad = (
        _is(records, Outcome.ANSWERED)
        & ~_merged(records)
        & ~np.isnan(acquired)
        & (c("reply_at") < acquired + c("crm_s") + c("llm_s") - EPSILON)
    )
    return (
        [f"answers before their lock + CRM + LLM time in messages {_first_messages(records, bad)}"] if bad.any() else []
    )


def _worker_freed_after_reply(records: RecordColumns, facts: Facts) -> list[str]:
    # A merged message's worker moves on at once; its reply is its batch leader's.
    bad = ~_merged(records) & (records.column("done_at") < records.column("reply_at") - EPSILON)
    return [f"workers freed before their reply in messages {_first_messages(records, bad)}"] if bad.any() else []


def _workers_conserved(records: RecordColumns, facts: Facts) -> list[str]:
    """Never more messages in service than workers: starts and ends swept in time order.

    A worker freed at t and taken again at t is one worker: ends count up to `EPSILON` after a start.
    Without a worker limit (the async model) the same rule says: no message waited for a worker.
    """
    if not records:
        return []
    if facts.workers is None:
        queued = records.column("queue_wait") > EPSILON
        return (
            [f"waits for a worker with no worker limit in messages {_first_messages(records, queued)}"]
            if (queued.any())
            else []
        )
    starts, ends = np.sort(records.column("started_at")), np.sort(records.column("done_at"))
    busy = np.arange(1, len(starts) + 1) - np.searchsorted(ends, starts + EPSILON, side="right")
    peak = int(busy.max())
    return [f"{peak} messages in service at once with {facts.workers} workers"] if peak > facts.workers else []


def _busy_only_after_the_timeout(records: RecordColumns, facts: Facts) -> list[str]:
    """A busy apology means the lock timeout ran out — unless Redis errored while waiting."""
    if facts.lock_timeout is None:
        return []
    limit = facts.lock_timeout - DEADLINE_SLACK
    c = records.column
    bad = _is(records, Outcome.BUSY) & ~_merged(records) & (c("lock_errors") == 0) & (c("lock_wait") < limit)
    if not bad.any():
        return []
    return [
        f"busy apologies before the {facts.lock_timeout:g} s lock timeout in messages {_first_messages(records, bad)}"
    ]


def _one_holder_at_a_time(records: RecordColumns, facts: Facts) -> list[str]:
    """One holder per conversation: a lock taken while another holder's is still live is a bug.

    A hold ends when its holder sends the release, or one TTL after the lock was
    last set (acquired, or extended by the watchdog) if that is earlier: then the
    key really expired. An overlap is also excused by a Redis restart during it.
    Both holds' starts are seen one round trip after their SETs; when round trips
    differ, the next holder may see its start earlier than the first's expiry as
    seen, by up to the spread of the round trips: that much is not an overlap.

    Customers' locks are independent, so a month's holds are swept in passes of
    customers (by code), each with temporaries the size of one pass; the overlaps
    found are reported in the order one sweep of every hold would find them.
    """
    c = records.column
    held = ~np.isnan(c("acquired_at"))
    passes = max(1, -(-int(np.count_nonzero(held)) // HOLDS_PER_PASS))
    customer = c("customer")
    found: list[tuple[int, int, int, int, int]] = []
    for p in range(passes):
        found += _overlaps(records, facts, held & (customer % passes == p) if passes > 1 else held)
    names = records.customers()
    return [f"two holders of {names[code]}'s lock: messages {a} and {b}" for _, _, code, a, b in sorted(found)[:5]]


HOLDS_PER_PASS = 1 << 19  # holds swept at once by `_one_holder_at_a_time` (≈ 60 bytes of temporaries each)


def _overlaps(records: RecordColumns, facts: Facts, held: Array) -> list[tuple[int, int, int, int, int]]:
    """The first five overlapping holds among rows `held` (all of their customers' holds), each as
    (its customer's first held row, its place in the sweep, customer code, earlier message, later message)."""
    c = records.column
    start = c("acquired_at")[held]
    stop = _hold_ends(records, held, start, facts.lock_ttl)
    customer, message = c("customer")[held], c("message")[held]
    order, first = _sweep(customer, start, stop, message)
    # In sweep order; a month's arrays are tens of MB each, so only what `bad` needs is reordered.
    earlier = order[np.maximum(first, 0)]
    end = np.where(first >= 0, stop[earlier], -np.inf)
    del stop
    start = start[order]
    # The first holder's SET ran one round trip before it saw it: a restart then wiped it too.
    bad = (start < end - facts.rtt_spread - EPSILON) & ~_restarted(
        facts, start[np.maximum(first, 0)] - facts.rtt - EPSILON, start
    )
    rows = np.flatnonzero(held)
    found = []
    for i in np.flatnonzero(bad)[:5]:
        code = int(customer[order[i]])
        first_row = int(rows[np.flatnonzero(customer == code)[0]])  # sweeps order customers by first appearance
        found.append((first_row, int(i), code, int(message[earlier[i]]), int(message[order[i]])))
    return found


def _hold_ends(records: RecordColumns, held: Array, start: Array, lock_ttl: float) -> Array:
    """When each hold (rows `held`, taken at `start`) ended: its release, or one TTL after the lock
    was last set if that came first."""
    released, refreshed = records.column("released_at")[held], records.column("lock_refreshed_at")[held]
    let_go = np.where(np.isnan(released), records.column("reply_at")[held], released)
    del released
    ends: Array = np.minimum(let_go, np.where(np.isnan(refreshed), start, refreshed) + lock_ttl)
    return ends


def _sweep(group: Array, time: Array, value: Array, message: Array) -> tuple[Array, Array]:
    """Rows sorted by group (groups in order of first appearance), then by (time, value, message);
    and, for each in that order, the position of the earlier row of its group whose `value` is the
    largest so far (the first to reach it), or -1 for a group's first row.

    The running maximum restarts with each group because values are replaced by their dense
    ranks and offset by the group's position: every key of a later group exceeds all before it.
    """
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Arrays of a month's rows are tens of MB: each is dropped (`del`) once used, and the running
    # maxima are taken in place, so that few are alive at once.
    _, first_seen, code = np.unique(group, return_index=True, return_inverse=True)
    appearance = np.argsort(np.argsort(first_seen))[code]  # 0 for the group seen first, 1 for the next…
    del code
    order = np.lexsort((message, value, time, appearance))
    appearance = appearance[order]
    group_starts = np.flatnonzero(appearance[1:] != appearance[:-1]) + 1
    _, rank = np.unique(value[order], return_inverse=True)
    key = appearance.astype(np.int64)
    del appearance
    key *= int(rank.max()) + 1
    key += rank
    del rank
    new_max = np.ones(n, dtype=bool)
    new_max[1:] = key[1:] > np.maximum.accumulate(key)[:-1]
    del key
    holder = np.where(new_max, np.arange(n), -1)
    np.maximum.accumulate(holder, out=holder)  # the running maximum's row, up to i
    first = np.empty(n, dtype=np.int64)
    first[0] = -1
    first[1:] = holder[:-1]
    first[group_starts] = -1  # a group's first row has no earlier
    return order, first


def _restarted(facts: Facts, start: Array, stop: Array) -> Array:
    """Where Redis lost keys between `start` and `stop` (both included): it restarted, or its primary died in a
    failover (the promoted replica may lack any write made just before, and have one whose deletion it lacks)."""
    restarts = np.asarray(sorted((*facts.restarts, *facts.failovers)), dtype=float)
    if not len(restarts):
        return np.zeros(len(start), dtype=bool)
    i = np.searchsorted(restarts, start, side="left")
    return (i < len(restarts)) & (restarts[np.minimum(i, len(restarts) - 1)] <= stop)


def _one_batch_each(records: RecordColumns, facts: Facts) -> list[str]:
    """A message is taken into one batch. After a failover the promoted replica may lack a batch's deletion
    and hand the same messages to a second leader: that is Redis losing a write, excused when a failover came
    between the two leaders' takes (each right after its leader's lock)."""
    taken: dict[int, list[float]] = {}
    acquired = records.column("acquired_at")
    for row, (_, batch) in records.debounced().items():
        for m in batch:
            taken.setdefault(m, []).append(float(acquired[row]))
    twice = sorted(m for m, at in taken.items() if len(at) > 1 and not _failover_between(facts, min(at), max(at)))
    return [f"messages answered in more than one debounce batch: {twice[:5]}"] if twice else []


def _failover_between(facts: Facts, start: float, stop: float) -> bool:
    return any(start - facts.rtt - EPSILON <= t <= stop for t in facts.failovers)


def _fair_lock_in_queue_order(records: RecordColumns, facts: Facts) -> list[str]:
    """The fair lock: of one conversation's holders (none lost), the earlier to queue acquires first."""
    if not facts.fair:
        return []
    c = records.column
    asked, acquired = c("lock_asked_at"), c("acquired_at")
    queued = ~np.isnan(acquired) & ~np.isnan(asked) & ~c("lock_lost")
    asked, acquired, customer, message = asked[queued], acquired[queued], c("customer")[queued], c("message")[queued]
    order, first = _sweep(customer, asked, acquired, message)
    asked, acquired, customer, message = asked[order], acquired[order], customer[order], message[order]
    earlier = np.maximum(first, 0)
    latest = np.where(first >= 0, acquired[earlier], -np.inf)
    bad = (acquired < latest - EPSILON) & ~_restarted(facts, asked, latest)
    names = records.customers()
    return [
        f"{names[customer[i]]}'s fair lock granted message {message[i]} before {message[earlier[i]]}, queued earlier"
        for i in np.flatnonzero(bad)[:5]
    ]


def _cache_hits_within_ttl(records: RecordColumns, facts: Facts) -> list[str]:
    """A hit read an entry a miss stored at most one TTL earlier.

    Both times are seen one round trip after the command ran; a single-flight
    leader sees its fill one more round trip late (it releases the fill lock first);
    a hit is seen its hit cost later still. With round trips of differing lengths
    (`rtt` the longest, `rtt_spread` longest − shortest) a fill may be seen up to
    rtt + spread after a hit that read it, and a hit may read an entry stored up to
    TTL + spread + hit cost before it saw it.
    """
    if facts.cache_ttl is None:
        return []
    c = records.column
    source, checked, tax = c("source"), c("cache_checked_at"), c("tax_id")
    filled = (source == SOURCES.index(Source.MISS)) & (c("cache_errors") == 0) & ~np.isnan(checked)
    hits = (source == SOURCES.index(Source.HIT)) & ~np.isnan(checked)  # a hit's check always finished
    stale = _stale(tax[filled], checked[filled], tax[hits], checked[hits], facts)
    bad = np.zeros(len(records), dtype=bool)
    bad[np.flatnonzero(hits)[stale]] = True
    return (
        [f"cache hits older than the {facts.cache_ttl:g} s TTL in messages {_first_messages(records, bad)}"]
        if bad.any()
        else []
    )


def _stale(fill_tax: Array, fill_at: Array, hit_tax: Array, hit_at: Array, facts: Facts) -> Array:
    """For each hit: no fill of its tax id seen by then, or the latest one older than the TTL.

    "The latest fill of the same tax id at or before t" is one `searchsorted` on (tax id, time)
    keys, times again as dense ranks (over the fills and the hits' bounds together: exact).
    """
    assert facts.cache_ttl is not None
    newest = hit_at + facts.rtt + facts.rtt_spread + EPSILON
    if not len(fill_at):
        return np.ones(len(hit_at), dtype=bool)
    _, rank = np.unique(np.concatenate([fill_at, newest]), return_inverse=True)
    ranks = int(rank.max()) + 1
    fill_key = fill_tax.astype(np.int64) * ranks + rank[: len(fill_at)]
    hit_key = hit_tax.astype(np.int64) * ranks + rank[len(fill_at) :]
    order = np.argsort(fill_key, kind="stable")
    fill_key, fill_tax, fill_at = fill_key[order], fill_tax[order], fill_at[order]
    i = np.searchsorted(fill_key, hit_key, side="right")  # past the latest fill of the tax id by `newest`
    none_yet = i == np.searchsorted(fill_tax, hit_tax, side="left")
    oldest = hit_at - facts.cache_ttl - facts.rtt_spread - facts.hit_cost - EPSILON
    too_old: Array = fill_at[np.maximum(i - 1, 0)] < oldest
    stale: Array = none_yet | too_old
    return stale


def _redis_commands_conserved(records: RecordColumns, facts: Facts) -> list[str]:
    """Every command the server executed is one message's, or counted apart: sent by a message's tasks
    after its handler had returned, or outside any message (a handler module's own set-up)."""
    if facts.world is None:
        return []
    world = facts.world
    per_message, sent = redis_commands(records), world.redis_commands
    accounted = per_message + world.late_commands + world.orphan_commands
    if accounted == sent:
        return []
    apart = world.late_commands + world.orphan_commands
    besides = f" (and {apart} after their handlers or outside any message)" if apart else ""
    return [f"the messages account for {per_message} Redis commands{besides} of {sent} sent"]


def _service_calls_conserved(records: RecordColumns, facts: Facts) -> list[str]:
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


def _nothing_answered_while_down(records: RecordColumns, facts: Facts) -> list[str]:
    if facts.world is None or facts.world.succeeded_while_down == 0:
        return []
    return [f"{facts.world.succeeded_while_down} Redis commands succeeded while Redis was down"]


def _no_keys_left_behind(records: RecordColumns, facts: Facts) -> list[str]:
    if facts.world is None or not facts.world.leftover_keys:
        return []
    keys = facts.world.leftover_keys
    return [f"{len(keys)} lock, queue, grant or batch keys left after the drain: {list(keys[:5])}"]


def _store_writes_conserved(records: RecordColumns, facts: Facts) -> list[str]:
    """The answers the records say reached the conversation store, and those it refused, are what it counted."""
    if facts.world is None:
        return []
    refused = int(np.count_nonzero(stored(records, Stored.REFUSED)))
    written = refused + int(np.count_nonzero(stored(records, Stored.ACCEPTED)))
    world = facts.world
    if (written, refused) == (world.store_writes, world.store_refused):
        return []
    return [
        f"the records show {written} writes to the conversation store ({refused} refused) but the store counted "
        f"{world.store_writes} ({world.store_refused} refused)"
    ]


def _no_stale_write_under_fencing(records: RecordColumns, facts: Facts) -> list[str]:
    """Fencing's promise: the store never accepts an answer from an older lock holder after a newer one's."""
    if not facts.fencing:
        return []
    stale = stale_writes(records)
    return [f"{stale} stale writes reached the conversation store although the lock fences them"] if stale else []


def _conversations_add_up(records: RecordColumns, facts: Facts) -> list[str]:
    """What each conversation says it sent — intents, nudges and re-sends — is its messages' records plus
    the ones dropped unserved, each record under its conversation's burst at its place in `sent`; it sent
    no more intents than it came with, and got no more answered than it sent; the dropped ones add up to
    the world's count. The conversation metrics (`sim.metrics.conversations`) count from `sent`, the
    message metrics from the records: this is what keeps the two views of the run one."""
    if not facts.conversations:
        return []
    problems = [
        f"conversation {talk.burst} ({talk.customer}): {what}"
        for talk in facts.conversations
        for what in _conversation_problems(talk)
    ][:5]
    dropped = sum(len(talk.dropped) for talk in facts.conversations)
    if dropped != facts.dropped:
        problems.append(f"the conversations list {dropped} dropped messages but {facts.dropped} were dropped")
    expected = _sent_and_served(facts.conversations)  # (message, burst, index) of each served message
    c = records.column
    ours = np.isin(c("burst"), [talk.burst for talk in facts.conversations]) & (c("burst") != NO_BURST)
    found = np.stack([c("message")[ours], c("burst")[ours], c("index")[ours]], axis=1).astype(np.int64)
    found = found[np.argsort(found[:, 0], kind="stable")]
    if found.shape != expected.shape or not np.array_equal(found, expected):
        problems.append(
            f"the conversations sent {len(expected)} messages that were served, their bursts hold {len(found)} "
            "records, and these do not match message for message (id, burst, place in the conversation)"
        )
    return problems


def _conversation_problems(talk: ConversationRecord) -> list[str]:
    intents = talk.sent.count(MessageKind.INTENT)
    problems = []
    if len(talk.sent) != len(talk.messages):
        problems.append(f"{len(talk.sent)} messages sent but {len(talk.messages)} message ids")
    if not set(talk.dropped) <= set(talk.messages):
        problems.append("dropped messages it never sent")
    if intents > talk.intents:
        problems.append(f"{intents} intents sent of the {talk.intents} it came with")
    if talk.answered > intents:
        problems.append(f"{talk.answered} intents answered of {intents} sent")
    return problems


def _sent_and_served(conversations: Sequence[ConversationRecord]) -> Array:
    """(message id, burst, index) of every conversation message that was not dropped, by message id."""
    rows = []
    for talk in conversations:
        dropped = set(talk.dropped)
        rows += [(message, talk.burst, index) for index, message in enumerate(talk.messages) if message not in dropped]
    found = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    ordered: Array = found[np.argsort(found[:, 0], kind="stable")]
    return ordered


Rule = Callable[[RecordColumns, Facts], list[str]]
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
    ("each conversation's messages sent are its records plus its dropped ones", _conversations_add_up),
    ("the conversation store's writes and refusals add up to the records'", _store_writes_conserved),
    ("no stale write reaches the conversation store when the lock fences", _no_stale_write_under_fencing),
)
# What holds for any handler, the team's own included: conservation and the engine's own rules. The rest
# hold by the built-in bot's design (its lock, its cache, its debounce): for a team's handler, breaking
# them is a finding about its code, not a bug of the simulator.
ANY_HANDLER = frozenset({
    "one outcome per message",
    "no negative waits",
    "worker freed after the reply",
    "never more messages in service than workers",
    "Redis commands per message add up to the commands sent",
    "CRM and LLM calls in the metrics equal the calls served",
    "no command succeeds while Redis is down",
    "each conversation's messages sent are its records plus its dropped ones",
})  # fmt: skip
assert ANY_HANDLER <= {name for name, _ in CHECKS}, "ANY_HANDLER names checks that exist"
NAMES = tuple(name for name, _ in CHECKS)
# Checks that say something only about a workload with customers who wait for answers (reports name them then).
CONVERSATION_CHECKS = frozenset({"each conversation's messages sent are its records plus its dropped ones"})
# Checks that say something only when lock safety is measured (a failover, replicas, fencing or WAIT).
LOCK_SAFETY_CHECKS = frozenset(
    {
        "the conversation store's writes and refusals add up to the records'",
        "no stale write reaches the conversation store when the lock fences",
    }
)
