"""How much work a valid scenario asks for, estimated before anything runs.

A scenario is refused when its estimate is past a limit (exit 2, one line) rather
than running for days or out of memory. The estimates are upper-bound-minded but
follow the settings' expected values (a jittered backoff's mean wait, a latency's
mean), so an ordinary configuration is never refused for being unlucky on paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sim.core.text import one_line
from sim.scenario.model import (
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    FixedBackoff,
    FullJitterBackoff,
    LockSettings,
    Scenario,
    ScenarioError,
    Stall,
    Variant,
    Workload,
)

MAX_MESSAGES = 5_000_000  # expected messages per run: each is a record held in memory until the report
MAX_POLLS_PER_WAIT = 1_000_000  # lock attempts of one waiter before its timeout
MAX_EXTENSIONS_PER_HOLD = 1_000_000  # watchdog EXTENDs of one lock holder
# Expected messages × (1 + lock polls per wait + watchdog extensions per hold): a day of 5 M
# messages with the default lock (30 s, polled every 100 ms: 301 per wait) still fits.
MAX_WORK = 2_000_000_000
# The FIFO lock blocks on its predecessor's grant list and looks for a dead holder every
# this many seconds (sim.sut.lock.FAIR_CHECK_EVERY; scenario/ imports nothing from sut/).
FAIR_CHECK_EVERY = 5.0
# A jittered wait on average, as a share of the exponential one: full jitter draws uniform(0, w),
# equal jitter w/2 + uniform(0, w/2).
JITTER_MEAN_SHARE = {FullJitterBackoff: 0.5, EqualJitterBackoff: 0.75}
DECORRELATED_GROWTH = 1.5  # the mean of uniform(base, 3 × previous) is about 1.5 × previous


def expected_bursts(workload: Workload, duration: float) -> tuple[float, float]:
    """Bursts a run should see: (from the hourly rates over `duration`, from the surges).

    The rate integrated hour by hour, so a daily curve counts its peak hours, not
    its mean; each surge adds (multiplier − 1) × the rate at its start, as the world draws it.
    """
    if workload.trace is not None:  # its sessions, each copied `scale` times
        return workload.trace.sessions * workload.trace.scale, 0.0
    hours = range(math.ceil(duration / 3600))
    base = sum(workload.rate_at(h * 3600.0) * (min((h + 1) * 3600.0, duration) - h * 3600.0) for h in hours) / 3600
    surges = sum((s.multiplier - 1) * workload.rate_at(s.start) * s.duration / 3600 for s in workload.surges)
    return base, surges


def expected_sessions(workload: Workload, duration: float) -> float:
    """Conversations a run should open: their rate integrated hour by hour, as `expected_bursts`."""
    if workload.conversations is None:
        return 0.0
    hours = range(math.ceil(duration / 3600))
    return (
        sum(workload.session_rate_at(h * 3600.0) * (min((h + 1) * 3600.0, duration) - h * 3600.0) for h in hours) / 3600
    )


def largest_run(scenarios: Sequence[Scenario]) -> float:
    """The expected messages of the largest run among `scenarios` (what one worker process holds at once)."""
    return max((expected_messages(s.workload, s.duration) for s in scenarios), default=0.0)


def expected_messages(workload: Workload, duration: float) -> float:
    """Every burst's mean size (or the trace's messages), plus the scripted messages, plus every
    conversation's intents with all their nudges and re-sends (a bound: a customer who gets its
    answers sends neither)."""
    talk = workload.conversations
    conversations = expected_sessions(workload, duration) * talk.messages_per_session() if talk is not None else 0.0
    if workload.trace is not None:
        return workload.trace.messages * workload.trace.scale + conversations
    base, surges = expected_bursts(workload, duration)
    scripted = sum(len(c.at) for c in workload.scripted)
    return (base + surges) * workload.burst_size.mean() + scripted + conversations


def hold_time(variant: Variant, scenario: Scenario) -> float:
    """How long one holder keeps the lock, on average: its mean CRM and LLM time, the debounce
    and every stall's extra time; without the watchdog at most the TTL (then a waiter takes over)."""
    services = variant.services
    stalls = sum(f.extra for f in scenario.faults if isinstance(f, Stall))
    working = services.crm.mean() + services.llm.mean() + variant.handler.debounce + stalls
    return working if variant.lock.watchdog else min(working, variant.lock.ttl)


def polls_per_wait(lock: LockSettings, hold: float) -> float:
    """Lock attempts a waiter makes while one holder works (`hold` s), at most until its timeout,
    on the backoff's mean schedule. The FIFO lock does not poll: it blocks, and checks for a dead
    holder every 5 s."""
    wait = min(lock.timeout, hold)
    if lock.fair:
        return wait / FAIR_CHECK_EVERY + 1
    backoff = lock.backoff
    if isinstance(backoff, FixedBackoff):
        return wait / backoff.delay + 1
    if isinstance(backoff, DecorrelatedJitterBackoff):
        return _waits_within(wait, backoff.base, DECORRELATED_GROWTH, backoff.cap) + 1
    share = JITTER_MEAN_SHARE.get(type(backoff), 1.0)
    return _waits_within(wait, backoff.base * share, backoff.factor, backoff.cap * share) + 1


def _waits_within(timeout: float, base: float, factor: float, cap: float) -> float:
    """How many waits base, base·factor, base·factor², … (capped) fit in `timeout`."""
    if factor <= 1 or base >= cap:
        return timeout / base
    growing = math.ceil(math.log(cap / base, factor))  # waits before the cap is reached
    grown = base * (factor**growing - 1) / (factor - 1)  # their sum
    if grown >= timeout:
        return math.log(timeout * (factor - 1) / base + 1, factor)
    return growing + (timeout - grown) / cap


def extensions_per_hold(variant: Variant, hold: float) -> float:
    """Watchdog EXTENDs while one holder works: every ttl/3."""
    return hold / (variant.lock.ttl / 3) if variant.lock.watchdog else 0.0


def check_work(scenario: Scenario) -> None:
    """Refuse a scenario whose messages, lock polls or watchdog extensions are past the limits."""
    messages = expected_messages(scenario.workload, scenario.duration)
    if messages > MAX_MESSAGES:
        _refuse(
            scenario,
            "[workload]burst_size",
            f"the rates and bursts give ~{messages:,.0f} messages per run; the limit is {MAX_MESSAGES:,} "
            "(a shorter duration, lower rates or smaller bursts)",
        )
    for variant in scenario.variants:
        _check_variant(scenario, variant, messages)


def _check_variant(scenario: Scenario, variant: Variant, messages: float) -> None:
    where = f"variant {variant.name!r}"
    hold = hold_time(variant, scenario)
    polls = polls_per_wait(variant.lock, hold)
    if not variant.lock.fair and polls > MAX_POLLS_PER_WAIT:
        wait = min(variant.lock.timeout, hold)
        _refuse(
            scenario,
            f"{where}: [lock]backoff",
            f"waiting {wait:g} s for the lock (the timeout, or one holder's mean CRM + LLM time, at most its TTL) "
            f"with backoff {variant.lock.backoff.describe()} is ~{polls:,.0f} polls; the limit is "
            f"{MAX_POLLS_PER_WAIT:,} per wait: a longer backoff or a shorter timeout",
        )
    extensions = extensions_per_hold(variant, hold)
    if extensions > MAX_EXTENSIONS_PER_HOLD:
        _refuse(
            scenario,
            f"{where}: [lock]ttl",
            f"the watchdog would extend a {variant.lock.ttl:g} s TTL ~{extensions:,.0f} times per hold "
            f"(mean CRM + LLM + debounce + stall time over ttl/3); the limit is {MAX_EXTENSIONS_PER_HOLD:,}",
        )
    work = messages * (1 + polls + extensions)
    if work > MAX_WORK:
        _refuse(
            scenario,
            f"{where}: [lock]timeout",
            f"~{messages:,.0f} messages × (1 + ~{polls:,.0f} lock polls per wait + ~{extensions:,.0f} watchdog "
            f"extensions per hold) is ~{work:,.0f} steps; the limit is {MAX_WORK:,} per run "
            "(fewer messages, a longer backoff or a shorter timeout)",
        )


def _refuse(scenario: Scenario, where: str, message: str) -> None:
    raise ScenarioError(one_line(f"{scenario.path}: {where}: {message}"))
