"""The metrics a production log shows, computed the same way from logs and from simulated runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from sim.logs.read import Call, Message, Service
from sim.metrics.records import Outcome, Source


class Observable(StrEnum):
    BUSY_SHARE = "busy_share"  # busy apologies / messages with a logged outcome
    REPLY_P50 = "reply_p50_s"  # median seconds to the reply, answered messages
    REPLY_P95 = "reply_p95_s"
    CRM_PER_MESSAGE = "crm_calls_per_message"  # logged CRM calls / messages
    CACHE_HIT_RATIO = "cache_hit_ratio"  # hits / messages with a logged cache source

    @property
    def bounds(self) -> tuple[float, float]:
        """The values it can take: a share is 0 to 1, seconds and calls per message 0 or more."""
        return (0.0, 1.0) if self in (Observable.BUSY_SHARE, Observable.CACHE_HIT_RATIO) else (0.0, math.inf)


def observed(messages: Sequence[Message], calls: Sequence[Call]) -> dict[Observable, float]:
    """Every metric the log holds the fields for; a metric it cannot show is absent."""
    found: dict[Observable, float] = {}
    outcomes = [m.outcome for m in messages if m.outcome is not None]
    if outcomes:
        found[Observable.BUSY_SHARE] = outcomes.count(Outcome.BUSY) / len(outcomes)
    replies = [m.reply_s for m in messages if m.outcome == Outcome.ANSWERED and m.reply_s is not None]
    if replies:
        p50, p95 = np.percentile(np.asarray(replies, dtype=float), [50, 95])
        found[Observable.REPLY_P50], found[Observable.REPLY_P95] = float(p50), float(p95)
    crm = sum(1 for c in calls if c.service == Service.CRM)
    if crm and messages:
        found[Observable.CRM_PER_MESSAGE] = crm / len(messages)
    sources = [m.cache for m in messages if m.cache is not None]
    if sources:
        found[Observable.CACHE_HIT_RATIO] = sources.count(Source.HIT) / len(sources)
    return found
