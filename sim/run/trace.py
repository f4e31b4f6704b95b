"""A recorded trace as a run's arrivals: its sessions as bursts, copied or thinned by `scale`.

`scale = 1` replays the file exactly: every message at its recorded second (from the
window's start), its customer and its session's tax id, in every replication and every
variant. Other scales, with `k` whole copies and a fraction `f` (scale = k + f):

- copy 0 is the trace as recorded (for scale < 1, thinned as below, unshifted);
- copies 1 … k−1 are the trace again, each session moved by its own offset drawn
  uniformly from ±`shift` (wrapped around the window, so the edges keep their rate; a
  session keeps its messages' spacing), its customer and tax id renamed `name~j`, so a
  copy is other customers writing at the same time of day, not the same ones twice;
- a last copy, when f > 0, is another shifted copy (unshifted when it is copy 0) that
  keeps each session with probability f — whole sessions, so bursts stay bursts.

The draws come from the run's `arrivals` stream (unused by a trace otherwise): the same
seed and replication give the same copies; replications differ in them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.scenario.model import Trace


@dataclass(frozen=True, slots=True)
class TraceBursts:
    """The sessions of a replayed trace, numbered copy by copy, each copy's sessions by start."""

    customers: np.ndarray  # str, per burst
    tax_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.customers)

    def customer(self, burst: int) -> str:
        return str(self.customers[burst])

    def names(self, burst: int) -> tuple[str, str]:
        return str(self.customers[burst]), str(self.tax_ids[burst])

    def in_outage(self, burst: int) -> bool:
        return False

    def is_scripted(self, burst: int) -> bool:
        return False

    def distinct(self, written: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sorted names of the customers of the bursts `written`, and each burst's place among them."""
        names = np.unique(self.customers[written])
        place = np.minimum(np.searchsorted(names, self.customers), max(len(names) - 1, 0))
        return names, place


@dataclass(frozen=True, slots=True)
class Replayed:
    """What `sim.run.workload.Arrivals` is made of: the bursts and the messages' columns in arrival order."""

    bursts: TraceBursts
    at: np.ndarray
    burst: np.ndarray
    index: np.ndarray


@dataclass(frozen=True, slots=True)
class _Copy:
    starts: np.ndarray  # each kept session's start
    kept: np.ndarray  # the kept sessions' numbers in the trace
    suffix: str


def replay(trace: Trace, rng: np.random.Generator) -> Replayed:
    """The trace's messages, copied and thinned by its scale, in arrival order (ties keep copy order)."""
    first = np.cumsum(trace.sizes) - trace.sizes  # each session's first message
    starts = trace.at[first]
    copies = [_copy(trace, starts, j, rng) for j in range(math.ceil(trace.scale))]
    sizes = np.concatenate([trace.sizes[c.kept] for c in copies])
    offsets = trace.at - np.repeat(starts, trace.sizes)  # each message's place in its session
    at = np.concatenate(
        [np.repeat(c.starts, trace.sizes[c.kept]) + offsets[_members(first, trace.sizes, c.kept)] for c in copies]
    )
    burst = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    index = (np.arange(len(at)) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int32)
    order = np.argsort(at, kind="stable")
    bursts = TraceBursts(
        customers=np.concatenate([_renamed(trace.customers[c.kept], c.suffix) for c in copies]),
        tax_ids=np.concatenate([_renamed(trace.tax_ids[c.kept], c.suffix) for c in copies]),
    )
    return Replayed(bursts, at[order], burst[order], index[order])


def _copy(trace: Trace, starts: np.ndarray, j: int, rng: np.random.Generator) -> _Copy:
    """Copy j: shifted unless it is the first, thinned if it is the fractional last."""
    n = len(starts)
    moved = starts
    if j > 0:
        moved = np.mod(starts + rng.uniform(-trace.shift, trace.shift, n), trace.window)
    fraction = trace.scale - j
    kept = np.arange(n) if fraction >= 1 else np.flatnonzero(rng.random(n) < fraction)
    return _Copy(starts=moved[kept], kept=kept, suffix=f"~{j}" if j else "")


def _members(first: np.ndarray, sizes: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The message positions of the sessions `kept`, session by session."""
    counts = sizes[kept]
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    members: np.ndarray = np.repeat(first[kept], counts) + within
    return members


def _renamed(names: np.ndarray, suffix: str) -> np.ndarray:
    renamed: np.ndarray = np.strings.add(names, suffix) if suffix else names
    return renamed
