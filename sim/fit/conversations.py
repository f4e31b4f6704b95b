"""Customers who wait for answers (`[workload.conversations]`), fitted from sessions whose messages
carry reply times.

Each session is replayed as the simulator's customer lives it (`sim.world.conversations`): a
message sent when nothing is outstanding is an *intent* (its gap from the previous intent's answer
is a `think` time); a reply other than the busy apology answers the outstanding intent; a message
sent while the intent is unanswered is a *re-send* when a busy apology came since the last message
(its gap from the apology is a `resend_delay`), else a *nudge* (its gap from the last message, or the
last apology, is an expired patience). A wait that a reply ends is a patience that lasted longer:
right-censored. A reply to an already answered intent is ignored, as the customer ignores it.

A customer who gives up leaves no mark in a log: its last wait looks like any other that a reply
ended; nor does one that ran out of patience with no nudge left and waited on. So the patience
distribution, `give_up` and the intents per session are estimated together by maximum likelihood,
by EM, once per candidate family, started from its fit to the waits as right-censored data
(`latency.fit_censored`: scipy.stats.CensoredData); the family with the lowest AIC of the whole
model wins (within 2, the fewest parameters). Each EM repeats, in turn:
- E-step. A session whose last wait was r after n intents is complete (n intents; patience over r,
  or under r with no nudge left and the draw said stay) or a give-up (n or more intents, patience
  under r, the draw said leave): w is its probability of a give-up, u of a patience under r. An
  earlier wait a reply ended at the nudge limit has u = F(r)(1−g) / (1 − g·F(r)); elsewhere u = 0.
- M-step. give_up = Σw / (nudges + expiries where the customer stayed at the limit + Σw); the
  intents' distribution by the discrete Kaplan–Meier (product-limit) estimator, each session censored
  at n with weight w; the patience's parameters by maximising Σ log f(nudge gap) + Σ [u·log F(r) +
  (1−u)·log S(r)] over the waits (scipy.optimize; scipy.stats has no weighted censored fit).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import optimize

from sim.core import distributions as d
from sim.fit.latency import GAP_FAMILIES, MIN_SECONDS, Candidate, Family, Fit, choose, fit
from sim.fit.mle import dot
from sim.fit.survival import (
    Binned,
    Censored,
    binned,
    cdf,
    censored_candidate,
    fit_censored_data,
    log_cdf,
    log_pdf,
    log_sf,
)
from sim.logs.read import Message
from sim.logs.sessions import Sessions
from sim.metrics.records import Outcome
from sim.scenario.limits import MAX_COUNT
from sim.scenario.model import MAX_RETRIES

EM_ROUNDS = 300
EM_TOLERANCE = 1e-6  # change in give_up, an intent-count probability or a log-parameter


class _Replayed(NamedTuple):
    """One session as its customer lived it (a named tuple: a log has hundreds of thousands of sessions)."""

    intents: int
    last_wait: float  # from its last message (or apology) to the answer of its last intent; inf: never answered
    last_nudges: int  # nudges of its last intent
    thinks: tuple[float, ...]
    expired: tuple[float, ...]  # waits a nudge ended: patience expired
    outlasted: tuple[tuple[float, int], ...]  # earlier waits a reply ended (right-censored), with its nudges so far
    resend_delays: tuple[float, ...]
    busy: int  # busy apologies heard while an intent was outstanding
    nudges: tuple[int, ...]  # per intent
    resends: tuple[int, ...]  # per intent


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationFit:
    sessions: int
    intents_sent: int
    messages: d.ChoiceCount  # intents per session, give-ups' sessions censored
    sent_mean: float  # intents per session as sent (before the censoring correction)
    think: Fit
    impatience: Fit  # right-censored fit
    give_up: float
    give_ups: float  # expected give-ups (Σw)
    nudges: int
    max_nudges: int
    busy: int
    resent: int  # busy apologies followed by a re-send
    resend_delay: Fit
    max_resends: int
    sessions_per_hour: float

    @property
    def resend(self) -> float:
        return self.resent / self.busy if self.busy else 0.0


def has_replies(messages: Sequence[Message]) -> bool:
    """Enough to fit conversations: some logged reply."""
    return any(m.reply_s is not None for m in messages)


def fit_conversations(sessions: Sessions, sessions_per_hour: float) -> ConversationFit:
    lived = [_replay(messages) for messages in sessions.groups()]
    data = Censored.of(
        np.array([w for s in lived for w in s.expired]),
        np.array(
            [w for s in lived for w, _ in s.outlasted] + [s.last_wait for s in lived if math.isfinite(s.last_wait)]
        ),
    )
    impatience = fit_censored_data("impatience (no reply within it)", data)
    nudges = sum(len(s.expired) for s in lived)
    max_nudges = _cap([n for s in lived for n in s.nudges])
    # No nudge: no patience ever seen to run out, so none to tell a give-up from a completed session by.
    impatience, estimate = (
        _fit_patience(_waits(lived, max_nudges), impatience, nudges, data) if nudges else (impatience, None)
    )
    return ConversationFit(
        sessions=len(lived),
        intents_sent=sum(s.intents for s in lived),
        messages=estimate.messages if estimate else _as_sent(lived),
        sent_mean=float(np.mean([s.intents for s in lived])) if lived else 0.0,
        think=fit("think (reply to next intent)", np.array([t for s in lived for t in s.thinks]), GAP_FAMILIES),
        impatience=impatience,
        give_up=estimate.give_up if estimate else 0.0,
        give_ups=estimate.give_ups if estimate else 0.0,
        nudges=nudges,
        max_nudges=max_nudges,
        busy=sum(s.busy for s in lived),
        resent=sum(len(s.resend_delays) for s in lived),
        resend_delay=fit(
            "resend delay (busy apology to re-send)",
            np.array([t for s in lived for t in s.resend_delays]),
            GAP_FAMILIES,
        ),
        max_resends=_cap([n for s in lived for n in s.resends]),
        sessions_per_hour=sessions_per_hour,
    )


def _as_sent(lived: list[_Replayed]) -> d.ChoiceCount:
    """Intents per session as sent: no patience fitted, so no give-up to correct for."""
    counts = np.bincount(np.minimum([s.intents for s in lived], MAX_COUNT))
    kept = np.flatnonzero(counts)
    return d.ChoiceCount(tuple(int(v) for v in kept), tuple(float(counts[v]) for v in kept))


def _cap(counts: list[int]) -> int:
    """A cap's estimate from the counts per intent it bounds: their maximum (the maximum-likelihood estimate
    of an upper bound; no count can pass it), within the model's 0–MAX_RETRIES. The 99th percentile it
    replaces wrote a cap of 3 as 2 whenever fewer than 1 % of the intents reached it."""
    return min(max(counts, default=0), MAX_RETRIES)


_REPLY, _SEND, _OWN_REPLY = 0, 1, 2  # the order of a reply, a message and its own 0 s reply at one instant


def _replay(messages: Sequence[Message]) -> _Replayed:
    """The session's sends and replies in time order (a reply first at a tie: the customer hears it
    before it acts; unless it answers that very message), walked as the simulator's customer walks them."""
    events: list[tuple[float, int, int, Outcome | None]] = []  # (time, order at a tie, message, outcome)
    for k, m in enumerate(messages):
        events.append((m.at, _SEND, k, None))
        if m.reply_s is not None:  # a reply at its own message's instant (0 s) comes after the message
            events.append((m.at + m.reply_s, _REPLY if m.reply_s > 0 else _OWN_REPLY, k, m.outcome))
    events.sort()  # (time, order, message) never ties: the outcome is never compared
    thinks, expired, outlasted, delays = [], [], [], []
    nudges, resends = [], []
    group: set[int] = set()  # the outstanding intent's messages; empty: nothing outstanding
    answered_at: float | None = None
    since = 0.0  # the customer's timer started here: its last message, or the last busy apology
    busy_at: float | None = None  # a busy apology heard since its last message
    busy = 0
    last: tuple[float, int] | None = None  # the wait the answer of the latest intent ended
    for at, order, k, outcome in events:
        if order == _SEND:
            if not group:
                if answered_at is not None:
                    thinks.append(at - answered_at)
                if last is not None:
                    outlasted.append(last)
                nudges.append(0)
                resends.append(0)
            elif busy_at is not None:
                delays.append(at - busy_at)
                resends[-1] += 1
            else:
                expired.append(at - since)
                nudges[-1] += 1
            group.add(k)
            since, busy_at = at, None
        elif k in group:
            wait = (at - since, nudges[-1])
            if outcome is Outcome.BUSY:
                outlasted.append(wait)
                busy += 1
                since = busy_at = at
            else:
                group, answered_at, last = set(), at, wait
    final = (math.inf, nudges[-1]) if group or last is None else last
    return _Replayed(
        intents=len(nudges),
        last_wait=final[0],
        last_nudges=final[1],
        thinks=tuple(thinks),
        expired=tuple(expired),
        outlasted=tuple(outlasted),
        resend_delays=tuple(delays),
        busy=busy,
        nudges=tuple(nudges),
        resends=tuple(resends),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Waits:
    """The waits the EM weighs, binned (`survival.binned`) and then grouped: sessions alike in the E-step
    (the same bin of last wait, intents and nudge-limit flag) are one kind with a count, and so are earlier
    waits (bin and flag). The EM's work is then the same for a thousand sessions as for a million.

    Nudge gaps (patience expired) count per bin; an earlier wait a reply ended is at the nudge limit or
    not; a session's last wait is answered (finite) or not (inf)."""

    expired_bins: Binned
    expired_counts: np.ndarray  # per bin
    earlier_bins: Binned
    earlier_bin: np.ndarray  # per kind of earlier wait: its bin,
    earlier_at_limit: np.ndarray  # … whether its intent was at the nudge limit (bool),
    earlier_count: np.ndarray  # … how many
    last_bins: Binned  # of the answered last waits
    last_bin: np.ndarray  # per kind of session: the bin of its last wait (-1: never answered),
    last_at_limit: np.ndarray  # … its last intent at the nudge limit (bool),
    intents: np.ndarray  # … its intents sent (1 to MAX_COUNT),
    count: np.ndarray  # … how many sessions

    @property
    def answered(self) -> np.ndarray:
        return np.asarray(self.last_bin >= 0)


def _waits(lived: list[_Replayed], max_nudges: int) -> _Waits:
    earlier = [w for s in lived for w in s.outlasted]
    expired = np.maximum(np.array([w for s in lived for w in s.expired], dtype=float), MIN_SECONDS)
    earlier_waits = np.maximum(np.array([w for w, _ in earlier], dtype=float), MIN_SECONDS)
    last = np.maximum(np.array([s.last_wait for s in lived], dtype=float), MIN_SECONDS)
    answered = np.isfinite(last)
    expired_bins, earlier_bins, last_bins = binned(expired), binned(earlier_waits), binned(last[answered])
    last_bin = np.full(len(last), -1, dtype=np.int64)
    last_bin[answered] = last_bins.index
    sessions = np.stack(
        [
            last_bin,
            np.array([s.last_nudges >= max_nudges for s in lived], dtype=np.int64),
            np.minimum(np.array([s.intents for s in lived], dtype=np.int64), MAX_COUNT),
        ]
    ).reshape(3, -1)
    kinds, count = np.unique(sessions, axis=1, return_counts=True)
    waits = np.stack([earlier_bins.index, np.array([k >= max_nudges for _, k in earlier], dtype=np.int64)])
    earlier_kinds, earlier_count = np.unique(waits.reshape(2, -1), axis=1, return_counts=True)
    return _Waits(
        expired_bins=expired_bins,
        expired_counts=expired_bins.sums(),
        earlier_bins=earlier_bins,
        earlier_bin=earlier_kinds[0],
        earlier_at_limit=earlier_kinds[1].astype(bool),
        earlier_count=earlier_count.astype(float),
        last_bins=last_bins,
        last_bin=kinds[0],
        last_at_limit=kinds[1].astype(bool),
        intents=kinds[2],
        count=count.astype(float),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Estimate:
    patience: Candidate  # its log-likelihood and AIC are the whole model's (patience, give_up, intents)
    give_up: float
    give_ups: float  # Σw
    messages: d.ChoiceCount


def _fit_patience(w8: _Waits, first: Fit, nudges: int, data: Censored) -> tuple[Fit, _Estimate | None]:
    """Each family the first pass could fit, refitted by EM with give_up and the intents; the choice by
    the whole model's AIC (give_up and the intents are common to all, so only the family's parameters count)."""
    estimates = [e for c in first.candidates if (e := _em(w8, c, nudges, data)) is not None]
    estimates.sort(key=lambda e: e.patience.aic)
    chosen = choose([e.patience for e in estimates])
    if chosen is None:
        return first, None
    refitted = dataclasses.replace(first, candidates=tuple(e.patience for e in estimates), chosen=chosen)
    return refitted, next(e for e in estimates if e.patience is chosen)


def _em(w8: _Waits, start: Candidate, nudges: int, data: Censored) -> _Estimate | None:
    """The EM of the module's docstring for one family, from the first pass's parameters."""
    if len(w8.intents) == 0:
        return None
    family = start.family
    theta = np.log(_shape_scale(start))
    counts = np.bincount(w8.intents - 1, weights=w8.count)
    values = np.arange(1, len(counts) + 1)
    sessions = float(w8.count.sum())
    beyond = sessions - np.cumsum(counts)  # sessions with more than v intents
    pmf = counts / sessions
    give_up = 0.5
    for _ in range(EM_ROUNDS):
        shape, scale = (float(v) for v in np.exp(theta))
        e = _expect(w8, family, shape, scale, give_up, pmf)
        given = float(dot(e.given, w8.count))
        stays = nudges + dot(e.u_earlier, w8.earlier_count) + dot(e.stayed, w8.count)
        new_give_up = given / (stays + given) if stays + given > 0 else 0.0
        ended = np.bincount(w8.intents - 1, weights=(1 - e.given) * w8.count, minlength=len(values))
        at_risk = beyond + ended  # a give-up at v has v or more intents: it is at risk only below v
        hazard = np.divide(ended, at_risk, out=np.zeros(len(values)), where=at_risk > 0)
        new_pmf = hazard * np.concatenate([[1.0], np.cumprod(1 - hazard)[:-1]])
        new_pmf[-1] += max(0.0, 1 - new_pmf.sum())  # the mass the last value's censoring leaves above it
        new_theta = _patience_step(family, theta, w8, e.u_earlier, e.u_last)
        done = (
            abs(new_give_up - give_up) < EM_TOLERANCE
            and np.max(np.abs(new_pmf - pmf)) < EM_TOLERANCE
            and np.max(np.abs(new_theta - theta)) < EM_TOLERANCE
        )
        give_up, pmf, theta = float(new_give_up), new_pmf, new_theta
        if done:
            break
    shape, scale = (float(v) for v in np.exp(theta))
    refit = censored_candidate(family, shape, scale, data)
    if refit is None:
        return None
    e = _expect(w8, family, shape, scale, give_up, pmf)
    log_likelihood = e.log_likelihood + nudges * math.log(max(1 - give_up, 1e-300))
    if not math.isfinite(log_likelihood):
        return None
    patience = dataclasses.replace(
        refit,
        log_likelihood=log_likelihood,
        aic=2 * len(refit.parameters) - 2 * log_likelihood,
        ks_statistic=math.nan,  # no test for this mixture of censorings
    )
    kept = pmf > 0
    messages = d.ChoiceCount(tuple(int(v) for v in values[kept]), tuple(float(p) for p in pmf[kept]))
    return _Estimate(
        patience=patience,
        give_up=min(max(give_up, 0.0), 1.0),
        give_ups=dot(e.given, w8.count),
        messages=messages,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Expected:
    given: np.ndarray  # per kind of session: P(it gave up)
    stayed: np.ndarray  # … P(its last wait outlived its patience at the nudge limit, and it stayed)
    u_last: np.ndarray  # … P(its patience ran out during its last wait)
    u_earlier: np.ndarray  # per kind of earlier wait: P(the patience ran out during it)
    log_likelihood: float  # of the waits and intents, without the nudges' (1 − give_up) factors


def _expect(w8: _Waits, family: Family, shape: float, scale: float, give_up: float, pmf: np.ndarray) -> _Expected:
    """The E-step, per kind of session and of earlier wait (each kind's CDF read from its bin's)."""
    answered = w8.answered
    f_last = np.ones(len(w8.last_bin))  # a last wait never answered outlived any patience
    f_last[answered] = cdf(family, shape, scale, w8.last_bins.values)[w8.last_bin[answered]]
    f_earlier = cdf(family, shape, scale, w8.earlier_bins.values)[w8.earlier_bin]
    survival = np.cumsum(pmf[::-1])[::-1]  # P(intents ≥ v)
    complete = pmf[w8.intents - 1]
    outlasted = (1 - f_last) * complete
    stayed = f_last * (1 - give_up) * complete * w8.last_at_limit
    left = f_last * give_up * survival[w8.intents - 1]
    total = np.maximum(outlasted + stayed + left, 1e-300)
    at_limit = np.maximum(1 - give_up * f_earlier, 1e-300)  # outlived, or ran out and stayed silently
    log_sf_earlier = log_sf(family, shape, scale, w8.earlier_bins.values)[w8.earlier_bin]
    earlier = np.where(w8.earlier_at_limit, np.log(at_limit), log_sf_earlier)
    expired = dot(w8.expired_counts, log_pdf(family, shape, scale, w8.expired_bins.values))
    return _Expected(
        given=left / total,
        stayed=stayed / total,
        u_last=(stayed + left) / total,
        u_earlier=np.where(w8.earlier_at_limit, f_earlier * (1 - give_up) / at_limit, 0.0),
        log_likelihood=expired + dot(earlier, w8.earlier_count) + dot(np.log(total), w8.count),
    )


def _shape_scale(c: Candidate) -> tuple[float, float]:
    p = dict(c.parameters)
    if c.family is Family.EXPONENTIAL:
        return 1.0, p["mean"]
    if c.family is Family.LOGNORMAL:
        return math.log(p["p95"] / p["median"]) / d.Z95, p["median"]
    return p["shape"], p["scale"]


def _patience_step(
    family: Family, theta: np.ndarray, w8: _Waits, u_earlier: np.ndarray, u_last: np.ndarray
) -> np.ndarray:
    """The patience's log-parameters maximising the expected complete-data log-likelihood (warm-started),
    each kind of wait summed per bin: Σ log f(nudge gap) + Σ [u·log F(w) + (1 − u)·log S(w)]."""
    answered = w8.answered
    bins = (len(w8.earlier_bins.values), len(w8.last_bins.values))
    ran_out = (
        np.bincount(w8.earlier_bin, weights=u_earlier * w8.earlier_count, minlength=bins[0]),
        np.bincount(w8.last_bin[answered], weights=(u_last * w8.count)[answered], minlength=bins[1]),
    )
    every = (
        np.bincount(w8.earlier_bin, weights=w8.earlier_count, minlength=bins[0]),
        np.bincount(w8.last_bin[answered], weights=w8.count[answered], minlength=bins[1]),
    )
    outlived = (every[0] - ran_out[0], every[1] - ran_out[1])
    waits = (w8.earlier_bins.values, w8.last_bins.values)

    def negative(log_params: np.ndarray) -> float:
        shape, scale = np.exp(np.clip(log_params, -20, 20))
        value = dot(w8.expired_counts, log_pdf(family, shape, scale, w8.expired_bins.values))
        for w, under, over in zip(waits, ran_out, outlived, strict=True):
            value += dot(under, log_cdf(family, shape, scale, w)) + dot(over, log_sf(family, shape, scale, w))
        return -value if math.isfinite(value) else 1e300

    if family is Family.EXPONENTIAL:  # the shape is not a parameter: optimise the scale alone
        result = optimize.minimize_scalar(
            lambda s: negative(np.array([0.0, s])), bracket=(theta[1] - 0.1, theta[1] + 0.1)
        )
        return np.array([0.0, float(result.x)])
    return np.asarray(optimize.minimize(negative, theta, method="Nelder-Mead").x)
