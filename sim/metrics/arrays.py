"""A run's records as numpy columns, for the metrics that are computed over arrays (windows, segments).

Read from the run's record store (`sim.metrics.columns`), where a time that never happened is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.metrics.columns import OUTCOMES, SOURCES
from sim.metrics.records import MessageRecord, Outcome, Source
from sim.metrics.summary import as_columns


@dataclass(frozen=True, slots=True, kw_only=True)
class Columns:
    arrival: np.ndarray
    started: np.ndarray  # started_at
    done: np.ndarray  # done_at
    latency: np.ndarray  # reply_at − arrival
    lock_asked: np.ndarray  # NaN: never asked
    lock_end: np.ndarray  # acquired, or gave up (lock_asked_at + lock_wait); NaN: never asked
    outcome: np.ndarray  # the outcomes' strings
    crm_calls: np.ndarray
    llm_calls: np.ndarray
    first: np.ndarray  # the first message of its burst
    in_outage: np.ndarray
    scripted: np.ndarray
    cache_checked: np.ndarray  # when the outage check returned (its service start, if not recorded); NaN: never checked
    cache_hit: np.ndarray  # 1.0 where the outage check was a cache hit

    def outcome_is(self, outcome: Outcome) -> np.ndarray:
        same: np.ndarray = self.outcome == str(outcome)
        return same


def columns(records: Sequence[MessageRecord]) -> Columns:
    cols = as_columns(records)
    arrival, reply = cols.column("arrival"), cols.column("reply_at")
    asked, acquired = cols.column("lock_asked_at"), cols.column("acquired_at")
    started, source = cols.column("started_at"), cols.column("source")
    checked = np.where(np.isnan(cols.column("cache_checked_at")), started, cols.column("cache_checked_at"))
    return Columns(
        arrival=arrival,
        started=started,
        done=cols.column("done_at"),
        latency=reply - arrival,
        lock_asked=asked,
        lock_end=np.where(np.isnan(acquired), asked + cols.column("lock_wait"), acquired),
        outcome=np.array([str(o) for o in OUTCOMES], dtype=str)[cols.column("outcome")],
        crm_calls=cols.column("crm_calls").astype(float),
        llm_calls=cols.column("llm_calls").astype(float),
        first=cols.column("index") == 0,
        in_outage=cols.column("in_outage"),
        scripted=cols.column("scripted"),
        cache_checked=np.where(source == SOURCES.index(None), np.nan, checked),
        cache_hit=(source == SOURCES.index(Source.HIT)).astype(float),
    )
