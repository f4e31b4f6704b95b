"""A run's records as numpy columns, for the metrics that are computed over arrays (windows, segments).

Built in one pass over the records (a day is ~100k of them): the numeric fields go through
one `attrgetter` into one float array, where None (a time that never happened) becomes NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from sim.metrics.records import MessageRecord, Outcome

_NUMBERS = ("arrival", "started_at", "done_at", "reply_at", "lock_asked_at", "acquired_at", "lock_wait")
_COUNTS = ("crm_calls", "llm_calls", "index", "in_outage", "scripted")


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
    n = len(records)
    numbers = np.array(list(map(attrgetter(*_NUMBERS), records)), dtype=float).reshape(n, len(_NUMBERS))
    counts = np.array(list(map(attrgetter(*_COUNTS), records)), dtype=np.int64).reshape(n, len(_COUNTS))
    arrival, started, done, reply, asked, acquired, waited = numbers.T
    return Columns(
        arrival=arrival,
        started=started,
        done=done,
        latency=reply - arrival,
        lock_asked=asked,
        lock_end=np.where(np.isnan(acquired), asked + waited, acquired),
        outcome=np.array([str(r.outcome) for r in records], dtype=str),
        crm_calls=counts[:, 0].astype(float),
        llm_calls=counts[:, 1].astype(float),
        first=counts[:, 2] == 0,
        in_outage=counts[:, 3].astype(bool),
        scripted=counts[:, 4].astype(bool),
    )
