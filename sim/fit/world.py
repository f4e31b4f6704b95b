"""Everything `sim fit` fits from a set of logs, in one record: the world a scenario describes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sim import distributions as d
from sim.fit.conversations import ConversationFit, fit_conversations, has_replies
from sim.fit.latency import GAP_FAMILIES, Fit, fit
from sim.fit.logs import Logs, Service
from sim.fit.sessions import Arrivals, Behaviour, arrivals, behaviour, split_sessions
from sim.scenario.load import MAX_COUNT


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedWorld:
    logs: Logs
    session_gap: float
    cache_ttl: float
    arrivals: Arrivals
    behaviour: Behaviour
    burst_size: d.ChoiceCount
    capped_sessions: int  # sessions longer than the scenario's MAX_COUNT messages, counted as MAX_COUNT
    gap: Fit
    crm: Fit | None  # None: no CRM calls logged
    llm: Fit | None
    redis_rtt: float | None  # the median logged Redis call; None: none logged
    conversations: ConversationFit | None = None  # None: no reply times logged


def fit_world(logs: Logs, session_gap: float, cache_ttl: float, *, conversations: bool = False) -> FittedWorld:
    """`conversations`: also fit customers who wait for answers (the logs must carry reply times)."""
    sessions = split_sessions(logs.messages, session_gap)
    how = behaviour(sessions, cache_ttl)
    sizes = np.minimum(how.sizes, MAX_COUNT)
    counts = sorted(Counter(int(s) for s in sizes).items())
    redis = _durations(logs, Service.REDIS)
    rate = arrivals(sessions, logs.zone)
    return FittedWorld(
        logs=logs,
        session_gap=session_gap,
        cache_ttl=cache_ttl,
        arrivals=rate,
        behaviour=how,
        burst_size=d.ChoiceCount(tuple(v for v, _ in counts), tuple(float(n) for _, n in counts)),
        capped_sessions=int(np.sum(how.sizes > MAX_COUNT)),
        gap=fit("gap between a session's messages", how.gaps, GAP_FAMILIES),
        crm=_service_fit(logs, Service.CRM, "CRM latency"),
        llm=_service_fit(logs, Service.LLM, "LLM latency"),
        redis_rtt=float(np.median(redis)) if len(redis) else None,
        conversations=fit_conversations(sessions, rate.rate) if conversations and has_replies(sessions) else None,
    )


def _durations(logs: Logs, service: Service) -> np.ndarray:
    """Durations of the service's successful calls: a failed call's time is its timeout's, not the service's."""
    return np.array([c.duration_s for c in logs.calls if c.service == service and not c.error], dtype=float)


def _service_fit(logs: Logs, service: Service, quantity: str) -> Fit | None:
    durations = _durations(logs, service)
    return fit(quantity, durations) if len(durations) else None
