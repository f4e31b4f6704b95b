"""Everything `sim fit` fits from a set of logs, in one record: the world a scenario describes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.core import distributions as d
from sim.fit.conversations import ConversationFit, fit_conversations, has_replies
from sim.fit.gaps import GapFit, fit_gaps
from sim.fit.latency import GAP_FAMILIES, Fit, fit
from sim.fit.sessions import Arrivals, Behaviour, Bursts, arrivals, behaviour, bursts, population, split_sessions
from sim.logs.read import Logs, Service
from sim.scenario.limits import MAX_COUNT


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedWorld:
    logs: Logs
    session_gap: float
    cache_ttl: float
    arrivals: Arrivals  # of bursts (of sessions, with conversations)
    behaviour: Behaviour
    bursts: Bursts  # sessions split where a gap joins two bursts of one customer
    population: int
    burst_size: d.ChoiceCount
    capped_sessions: int  # bursts longer than the scenario's MAX_COUNT messages, counted as MAX_COUNT
    gaps: GapFit
    crm: Fit | None  # None: no CRM calls logged
    llm: Fit | None
    redis_rtt: float | None  # the median logged Redis call; None: none logged
    conversations: ConversationFit | None = None  # None: no reply times logged

    @property
    def gap(self) -> Fit:
        """The gaps within bursts (burst_gap)."""
        return self.gaps.fit


def fit_world(
    logs: Logs,
    session_gap: float,
    cache_ttl: float,
    *,
    conversations: bool = False,
    on_stage: Callable[[str], None] = lambda text: None,
) -> FittedWorld:
    """`conversations`: also fit customers who wait for answers (the logs must carry reply times).
    `on_stage` is told what is being fitted (progress)."""
    on_stage(f"sessions of {len(logs.messages):,} messages")
    sessions = split_sessions(logs.messages, session_gap)
    how = behaviour(sessions, cache_ttl)
    on_stage(f"gaps inside {len(sessions):,} sessions")
    gaps = fit_gaps("gap between a burst's messages", how.gaps, session_gap, GAP_FAMILIES)
    split = bursts(sessions, gaps.joins)
    sizes, weights = _capped(split)
    redis = _durations(logs, Service.REDIS)
    talk = conversations and has_replies(logs.messages)
    # Conversations open per session (a customer who waits comes back as a new conversation); bursts per burst.
    rate = arrivals(sessions.starts, logs.zone) if talk else _burst_arrivals(split, logs)
    on_stage("CRM and LLM latencies")
    crm, llm = _service_fit(logs, Service.CRM, "CRM latency"), _service_fit(logs, Service.LLM, "LLM latency")
    if talk:
        on_stage(f"conversations: {len(sessions):,} sessions replayed, patience and give-ups by EM")
    return FittedWorld(
        logs=logs,
        session_gap=session_gap,
        cache_ttl=cache_ttl,
        arrivals=rate,
        behaviour=how,
        bursts=split,
        population=population(split.count, how.customers),
        burst_size=d.ChoiceCount(sizes, weights),
        capped_sessions=int(round(float(split.sizes[MAX_COUNT:].sum()))),
        gaps=gaps,
        crm=crm,
        llm=llm,
        redis_rtt=float(np.median(redis)) if len(redis) else None,
        conversations=fit_conversations(sessions, rate.rate) if talk else None,
    )


def _burst_arrivals(split: Bursts, logs: Logs) -> Arrivals:
    return arrivals(split.starts, logs.zone, split.weights)


def _capped(split: Bursts) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The expected bursts by size, those over MAX_COUNT messages counted at MAX_COUNT."""
    counts = split.sizes[:MAX_COUNT].copy()
    counts[-1 if len(counts) == MAX_COUNT else len(counts) - 1] += float(split.sizes[MAX_COUNT:].sum())
    kept = np.flatnonzero(counts > 1e-9)
    return tuple(int(v) + 1 for v in kept), tuple(float(counts[v]) for v in kept)


def _durations(logs: Logs, service: Service) -> np.ndarray:
    """Durations of the service's successful calls: a failed call's time is its timeout's, not the service's."""
    return np.array([c.duration_s for c in logs.calls if c.service == service and not c.error], dtype=float)


def _service_fit(logs: Logs, service: Service, quantity: str) -> Fit | None:
    durations = _durations(logs, service)
    return fit(quantity, durations) if len(durations) else None
