"""A run's records as numpy columns, for the metrics that are computed over arrays (windows, segments).

Read from the run's record store (`sim.metrics.columns`), where a time that never happened is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.metrics.columns import OUTCOMES
from sim.metrics.records import MessageRecord, Outcome
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

    def outcome_is(self, outcome: Outcome) -> np.ndarray:
        same: np.ndarray = self.outcome == str(outcome)
        return same


def columns(records: Sequence[MessageRecord]) -> Columns:
    cols = as_columns(records)
    arrival, reply = cols.column("arrival"), cols.column("reply_at")
    asked, acquired = cols.column("lock_asked_at"), cols.column("acquired_at")
    return Columns(
        arrival=arrival,
        started=cols.column("started_at"),
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
    )
