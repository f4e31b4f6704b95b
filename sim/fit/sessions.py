"""Customers' sessions from message events: arrivals by hour, sizes, gaps, replies, returns.

A *session* is a customer's run of messages with no silence longer than the
session gap (default 10 minutes) between two of them; it is what the scenario
calls a burst. The simulator draws a burst's customer uniformly from a
population, so the population is the number of customers that makes the
observed share of repeat customers most likely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import numpy as np
from scipy.optimize import brentq

from sim.fit.mle import dot
from sim.logs.sessions import DEFAULT_SESSION_GAP as DEFAULT_SESSION_GAP  # re-exported: fit's defaults
from sim.logs.sessions import Sessions
from sim.logs.sessions import split_sessions as split_sessions
from sim.scenario.limits import MAX_POPULATION

DEFAULT_CACHE_TTL = 300.0  # the team's cache TTL: a return within it can be a cache hit
HOUR = 3600.0
WEEKLY_AFTER_DAYS = 14  # a log this long fits weekday and weekend curves apart


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrivals:
    """Session starts per hour: a 24-hour curve when the log covers every hour of the day."""

    rate: float  # sessions per hour over the whole log
    hours: float  # the log's span in whole hours (the first message's hour to the last message's)
    hourly: tuple[float, ...] = ()  # 24 rates by hour of day (weekdays, when weekend is set)
    weekend: tuple[float, ...] = ()  # 24 rates for Saturdays and Sundays (logs of 2 weeks or more)
    exposure: tuple[float, ...] = ()  # hours observed of each hour of day
    days: str = ""  # which days `hourly` is of, when not all or weekdays: "weekends" (no weekday traffic)


def arrivals(starts: np.ndarray, zone: tzinfo, weights: np.ndarray | None = None) -> Arrivals:
    """Starts (of sessions, or of bursts, each with its weight: an expected burst counts its probability)
    per hour of day in `zone`; the log is taken to cover whole hours, from the first start's hour to the
    hour of the last."""
    starts = np.asarray(starts, dtype=float)
    weights = np.ones(len(starts)) if weights is None else np.asarray(weights, dtype=float)
    first = datetime.fromtimestamp(float(starts.min()), zone).replace(minute=0, second=0, microsecond=0)
    begin = first.timestamp()
    slots = int((starts.max() - begin) // HOUR) + 1
    counts = np.bincount(((starts - begin) // HOUR).astype(np.int64), weights=weights, minlength=slots)
    labels = [_local(begin + k * HOUR, zone) for k in range(slots)]
    rate = float(counts.sum() / slots)
    hour_of = np.array([h for h, _ in labels])
    weekend_of = np.array([w for _, w in labels])
    exposure = tuple(float(np.sum(hour_of == h)) for h in range(24))
    if min(exposure) == 0:
        return Arrivals(rate=rate, hours=float(slots), exposure=exposure)
    if slots < WEEKLY_AFTER_DAYS * 24:
        return Arrivals(rate=rate, hours=float(slots), hourly=_curve(counts, hour_of), exposure=exposure)
    weekdays = _curve(counts[~weekend_of], hour_of[~weekend_of])
    weekends = _curve(counts[weekend_of], hour_of[weekend_of])
    if not any(weekdays):  # traffic only on weekends: a curve of zeros would run nothing (and not load)
        return Arrivals(rate=rate, hours=float(slots), hourly=weekends, exposure=exposure, days="weekends")
    return Arrivals(rate=rate, hours=float(slots), hourly=weekdays, weekend=weekends, exposure=exposure)


def _local(t: float, zone: tzinfo) -> tuple[int, bool]:
    moment = datetime.fromtimestamp(t, zone) + timedelta(seconds=1)  # inside the hour, not on its edge
    return moment.hour, moment.weekday() >= 5


def _curve(counts: np.ndarray, hour_of: np.ndarray) -> tuple[float, ...]:
    return tuple(float(counts[hour_of == h].mean()) for h in range(24))


@dataclass(frozen=True, slots=True, kw_only=True)
class Behaviour:
    """How customers write: what the workload's burst_size, burst_gap and population are fitted from."""

    sizes: np.ndarray  # messages per session
    gaps: np.ndarray  # seconds between consecutive messages of a session, session by session
    before_reply: int  # later messages of a session sent before the previous message's reply
    after_reply: int  # … sent after it
    reply_unknown: int  # … whose previous message has no logged reply
    sessions: int
    customers: int  # distinct customers
    returning: int  # sessions starting less than the cache TTL after the same tax id's last message
    reused: int  # messages following a message of the same tax id by less than the cache TTL
    messages: int


def behaviour(sessions: Sessions, cache_ttl: float) -> Behaviour:
    sizes = sessions.sizes
    times = sessions.times
    messages = sessions.messages
    replies = np.fromiter(
        (np.nan if (r := messages[i].reply_s) is None else r for i in sessions.order), dtype=float, count=len(times)
    )
    later = np.ones(len(times), dtype=bool)
    later[sessions.bounds[:-1]] = False  # a session's first message follows nothing of its own
    gaps = np.diff(times)[later[1:]] if len(times) else np.empty(0)
    previous_reply_at = (times + replies)[np.flatnonzero(later) - 1]
    known = ~np.isnan(previous_reply_at)
    before = int(np.sum(times[later][known] < previous_reply_at[known]))
    returning, reused = _returns(sessions, ~later, cache_ttl)
    return Behaviour(
        sizes=sizes,
        gaps=gaps,
        before_reply=before,
        after_reply=int(known.sum()) - before,
        reply_unknown=int((~known).sum()),
        sessions=len(sessions),
        customers=sessions.customers,
        returning=returning,
        reused=reused,
        messages=int(sizes.sum()),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bursts:
    """Sessions split into bursts where a gap joins two bursts of one customer, in expectation (each gap
    with its probability of being a join, `sim.fit.gaps`)."""

    sizes: np.ndarray  # expected bursts of 1, 2, … messages (index 0: size 1)
    count: float  # expected bursts: the sessions plus the expected joins
    starts: np.ndarray  # every message that may start a burst (each session's first, any after a gap)
    weights: np.ndarray  # … and its probability of starting one

    def weights_by_size(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        kept = np.flatnonzero(self.sizes > 1e-9)
        return tuple(int(v) + 1 for v in kept), tuple(float(self.sizes[v]) for v in kept)


def bursts(sessions: Sessions, joins: np.ndarray) -> Bursts:
    """`joins`: per gap (as `behaviour` orders them) the probability that it joins two bursts.

    A burst spans messages i..j of a session when a join (or the session's start) comes before i, none
    between i and j, and a join (or the session's end) after j: its probability is the product, summed
    by length over every i..j (each message's running product stops where it vanishes)."""
    sizes, times = sessions.sizes, sessions.times
    last = np.cumsum(sizes) - 1
    after = np.ones(len(times))  # the probability that a burst ends after each message
    inner = np.ones(len(times), dtype=bool)
    inner[last] = False
    after[inner] = joins
    before = np.concatenate([[1.0], after[:-1]])  # … that one starts at each message
    counts = np.zeros(int(sizes.max(initial=1)))
    alive = np.flatnonzero(before > 0)
    running = before[alive]
    for length in range(1, len(counts) + 1):
        end = alive + length - 1
        counts[length - 1] += float(dot(running, after[end]))
        running = running * (1 - after[end])
        keep = (running > 1e-12) & (end + 1 < len(times))
        alive, running = alive[keep], running[keep]
        if not len(alive):
            break
    starting = before > 0
    return Bursts(sizes=counts, count=float(before.sum()), starts=times[starting], weights=before[starting])


def _returns(sessions: Sessions, first: np.ndarray, ttl: float) -> tuple[int, int]:
    """(sessions, messages) that come less than `ttl` after the same tax id's previous message;
    `first`: whether each message (in session order) starts its session."""
    messages = sessions.messages
    taxes = [messages[i].tax_id for i in sessions.order]
    rank = {tax: k for k, tax in enumerate(sorted(set(taxes)))}
    code = np.fromiter((rank[t] for t in taxes), dtype=np.int64, count=len(taxes))
    by_tax = np.lexsort((first, sessions.times, code))  # each tax id's messages by time (a session's start last)
    t, c = sessions.times[by_tax], code[by_tax]
    close = np.zeros(len(t), dtype=bool)
    close[1:] = (c[1:] == c[:-1]) & (np.diff(t) < ttl)
    return int(np.sum(close & first[by_tax])), int(close.sum())


def population(bursts: float, customers: int) -> int:
    """The N for which `bursts` uniform draws from N customers give `customers` distinct ones on
    average: N·(1 − (1 − 1/N)^n) = D. 0 (every burst a new customer) when no customer came back
    or N would pass the scenario's limit."""
    if customers >= bursts or customers == 0:
        return 0

    def excess(n_customers: float) -> float:
        expected = -n_customers * math.expm1(bursts * math.log1p(-1.0 / n_customers))
        return expected - customers

    if excess(float(MAX_POPULATION)) <= 0:
        return 0
    low = max(float(customers), 1.0 + 1e-9)
    return round(float(brentq(excess, low, float(MAX_POPULATION), xtol=0.5)))
