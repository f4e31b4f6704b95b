"""Customers' sessions from message events: each customer's run of messages with no silence longer than
the session gap (default 10 minutes) between two of them.

A session is what a scenario calls a burst when a recorded log is replayed (`[workload] trace`), and
what `sim fit` starts from (`sim.fit.sessions`: arrivals, sizes, returns, the population).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from sim.logs.read import Message

DEFAULT_SESSION_GAP = 600.0  # seconds of silence that end a session


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    customer: str
    tax_id: str
    messages: tuple[Message, ...]

    @property
    def start(self) -> float:
        return self.messages[0].at


class Sessions(Sequence[Session]):
    """A log's sessions, ordered by start (then customer), kept as arrays over its messages; a `Session`
    is made only when asked for (two million messages would make hundreds of thousands of them).

    `order` lists the messages' indices session by session (inside one, by time); session i holds
    order[bounds[i]:bounds[i + 1]]."""

    __slots__ = ("messages", "order", "bounds", "customers", "times")

    def __init__(self, messages: Sequence[Message], order: np.ndarray, bounds: np.ndarray, customers: int) -> None:
        self.messages = messages
        self.order = order
        self.bounds = bounds
        self.customers = customers  # distinct customers
        self.times = np.fromiter((messages[i].at for i in order), dtype=float, count=len(order))

    def __len__(self) -> int:
        return len(self.bounds) - 1

    @overload
    def __getitem__(self, i: int) -> Session: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Session]: ...
    def __getitem__(self, i: int | slice) -> Session | Sequence[Session]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        own = tuple(self.messages[k] for k in self.order[self.bounds[i] : self.bounds[i + 1]])
        return Session(customer=own[0].customer, tax_id=own[0].tax_id, messages=own)

    def groups(self) -> Iterator[tuple[Message, ...]]:
        """Each session's messages, in order, without making Session objects."""
        messages, order, bounds = self.messages, self.order.tolist(), self.bounds.tolist()
        for begin, end in itertools.pairwise(bounds):
            yield tuple(map(messages.__getitem__, order[begin:end]))

    def __iter__(self) -> Iterator[Session]:
        for own in self.groups():
            yield Session(customer=own[0].customer, tax_id=own[0].tax_id, messages=own)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.bounds)

    @property
    def starts(self) -> np.ndarray:
        return np.asarray(self.times[self.bounds[:-1]])


def split_sessions(messages: Sequence[Message], gap: float) -> Sessions:
    """Each customer's messages cut where the silence exceeds `gap`, ordered by start (then customer)."""
    n = len(messages)
    at = np.fromiter((m.at for m in messages), dtype=float, count=n)
    names = [m.customer for m in messages]
    rank = {name: k for k, name in enumerate(sorted(set(names)))}  # codes in the customers' sort order
    code = np.fromiter((rank[name] for name in names), dtype=np.int64, count=n)
    by_customer = np.lexsort((at, code))  # customer by customer, each by time (stable: ties keep the log's order)
    a, c = at[by_customer], code[by_customer]
    new = np.ones(n, dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (np.diff(a) > gap)
    firsts = np.flatnonzero(new)
    sizes = np.diff(np.append(firsts, n))
    by_start = np.lexsort((c[firsts], a[firsts]))
    firsts, sizes = firsts[by_start], sizes[by_start]
    offsets = np.cumsum(sizes) - sizes  # where each session begins in the new order
    positions = np.arange(n) - np.repeat(offsets, sizes) + np.repeat(firsts, sizes)
    return Sessions(messages, by_customer[positions], np.append(offsets, n), len(rank))
