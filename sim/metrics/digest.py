"""What a replication sends back to the parent: a digest of its run, not its records.

A day's records are about 20 MB; a hundred replications of them would not fit in the parent.
The worker that ran a replication computes, from the run's columns, everything the comparison
and the reports read:
- the run's metrics (`summarize`, exact: its percentiles are the run's own), with those of its
  customers who wait for answers when it has them (`conversation_metrics`), and the extra
  quantities `sim tune` may weigh (`EXTRA_METRICS`);
- its windows for the time series (`timeseries.run_windows`) and its metrics per segment
  (`segments.run_segments`), which the parent combines exactly as if it held the records;
- its violations, world counts and SimPy events;
- the plots' data, whose size does not grow with the messages: histograms on fixed bins, the
  busiest burst's rows, and quantile sketches (DDSketch) for the distributions pooled across
  replications.

DDSketch (DataDog's, Masson et al., VLDB 2019) answers any quantile within a relative error α
of the true value — q̂ ∈ [(1 − α)·x, (1 + α)·x] — and two sketches merge into the sketch of the
pooled values, so replications computed on different machines pool exactly as the sketch of all
their values would. Its size grows with the values' dynamic range (log of max/min over α),
never with their number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from ddsketch import DDSketch

from sim.metrics.arrays import Columns, columns
from sim.metrics.columns import SOURCES, RecordColumns
from sim.metrics.context import RunContext, Shaded
from sim.metrics.conversations import conversation_metrics
from sim.metrics.lock_safety import lock_safety_metrics
from sim.metrics.records import MessageRecord, Outcome, RunResult, Source, WorldCounts
from sim.metrics.segments import RunSegments, run_segments
from sim.metrics.summary import EXTRA_METRICS, as_columns, code_metrics, summarize
from sim.metrics.timeseries import RunWindows, run_windows

RELATIVE_ACCURACY = 0.01  # the pooled latency CDF: every quantile within 1 % of the true value
TIMEOUT_ACCURACY = 0.001  # the busy apologies' lock waits, whose median names the lock timeout to 3 digits
LOCK_WAIT_BIN = 2.0  # seconds: the exponential backoff's cap, so past its first steps every wait lands one per bin
MAX_BINS = 200  # however long the waits: a bin is then LOCK_WAIT_BIN times a power of two
# Lock attempts per message, on fixed bins a quarter-octave wide (1, 2, 3, 4, 5, 6, 8, 9, 11, …) up to 2**32.
ATTEMPT_EDGES: np.ndarray = np.unique(np.floor(2.0 ** (np.arange(0, 32 * 4 + 1) / 4)).astype(np.int64))
MAX_BURST_ROWS = 40  # rows kept of the busiest burst (a burst may hold up to 1000 messages)
CACHED = (Source.HIT, Source.MISS)  # a run whose outage checks were neither has no cache


@dataclass(frozen=True, slots=True, kw_only=True)
class PlotData:
    """What the report's plots draw of one run; its size does not depend on the number of messages."""

    latency: DDSketch  # every message's latency, RELATIVE_ACCURACY
    busy_lock_wait: DDSketch  # the lock waits of the busy apologies (merged messages aside), TIMEOUT_ACCURACY
    lock_wait_width: float  # the histogram's bin width, LOCK_WAIT_BIN × a power of two (`wait_width`)
    lock_wait_counts: tuple[int, ...]  # messages per bin from 0
    lock_wait_top: float  # the longest lock wait (0 without messages)
    lock_attempts: tuple[int, ...]  # messages per bin of ATTEMPT_EDGES (at least one attempt)
    has_cache: bool  # some outage check was a cache hit or miss
    burst: tuple[MessageRecord, ...]  # the busiest burst's first MAX_BURST_ROWS messages (`busiest_burst`)
    burst_size: int  # how many messages the busiest burst has
    last_done: float  # when the last worker was free (0 without messages)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDigest:
    """One replication of one variant, as the parent keeps it (see the module docstring)."""

    variant: str
    replication: int
    messages: int
    # `summarize`: METRICS, exact for this run; then CONVERSATION_METRICS and LOCK_SAFETY_METRICS if it has them
    metrics: dict[str, float]
    extra_metrics: dict[str, float]  # EXTRA_METRICS
    windows: RunWindows
    segments: RunSegments
    violations: tuple[str, ...]
    world: WorldCounts | None
    events: int
    plots: PlotData
    basis: tuple[float, tuple[Shaded, ...]]  # the context's duration and shaded windows the pieces were cut by
    records: Sequence[MessageRecord] | None = None  # kept only when asked for (a small run's records.csv)
    records_file: str | None = None  # where the worker wrote them instead (a name in the report's records/)


def digest(
    run: RunResult, context: RunContext, *, keep_records: bool = False, records_file: str | None = None
) -> RunDigest:
    """The digest of a finished run, for a comparison made with `context`."""
    store = as_columns(run.records)
    cols = columns(store)
    return RunDigest(
        variant=run.variant,
        replication=run.replication,
        messages=len(store),
        metrics=run_metrics(store, run, context),
        extra_metrics={name: f(store) for name, f in EXTRA_METRICS.items()},
        windows=run_windows(cols, run.commands_per_second, context),
        segments=run_segments(cols, context),
        violations=run.violations,
        world=run.world,
        events=run.events,
        plots=plot_data(store, cols),
        basis=basis(context),
        records=store if keep_records else None,
        records_file=records_file,
    )


def run_metrics(store: RecordColumns, run: RunResult, context: RunContext) -> dict[str, float]:
    """METRICS of the run's records (`store`, in columns), CONVERSATION_METRICS when its workload has
    conversations (or, for a run compared without a context, when it opened some), CODE_METRICS when a
    variant of its scenario runs a team's handler, and LOCK_SAFETY_METRICS when its scenario measures lock
    safety (or, without a context, when its answers reached a store)."""
    found = summarize(store)
    if context.conversations or run.conversations:
        found |= conversation_metrics(run.conversations)
    if context.team_handlers:
        found |= code_metrics(store, run.world.late_commands if run.world else 0)
    if context.lock_safety or (run.world is not None and run.world.store_writes > 0):
        found |= lock_safety_metrics(store)
    return found


def basis(context: RunContext) -> tuple[float, tuple[Shaded, ...]]:
    """What of a comparison's context the per-run pieces depend on."""
    return context.duration, context.shaded


def plot_data(store: RecordColumns, cols: Columns) -> PlotData:
    waits = store.column("lock_wait")
    busy = cols.outcome_is(Outcome.BUSY) & _not_merged(store)
    top = float(waits.max()) if len(waits) else 0.0
    width = wait_width(top)
    attempts = store.column("lock_attempts")
    binned = np.searchsorted(ATTEMPT_EDGES, attempts[attempts >= 1], side="right") - 1
    source = store.column("source")
    burst = busiest_burst(store)
    return PlotData(
        latency=sketch(cols.latency, RELATIVE_ACCURACY),
        busy_lock_wait=sketch(waits[busy], TIMEOUT_ACCURACY),
        lock_wait_width=width,
        lock_wait_counts=tuple(np.bincount((waits // width).astype(np.int64), minlength=1).tolist()),
        lock_wait_top=top,
        lock_attempts=tuple(np.bincount(binned, minlength=len(ATTEMPT_EDGES) - 1).tolist()),
        has_cache=bool(np.isin(source, [SOURCES.index(s) for s in CACHED]).any()),
        burst=tuple(store[int(i)] for i in np.flatnonzero(np.isin(store.column("message"), burst))[:MAX_BURST_ROWS]),
        burst_size=len(burst),
        last_done=float(cols.done.max()) if len(cols.done) else 0.0,
    )


def _not_merged(store: RecordColumns) -> np.ndarray:
    merged = np.zeros(len(store), dtype=bool)
    rows = [row for row, (into, _) in store.debounced().items() if into is not None]
    merged[rows] = True
    return ~merged


def sketch(values: np.ndarray, accuracy: float) -> DDSketch:
    found = DDSketch(accuracy)
    for value in values.tolist():
        found.add(value)
    return found


def merged(sketches: Iterable[DDSketch], accuracy: float) -> DDSketch:
    """One sketch of every value the given sketches hold (DDSketch merges exactly: the same bins)."""
    pooled = DDSketch(accuracy)
    for s in sketches:
        pooled.merge(s)
    return pooled


def quantiles(s: DDSketch, q: Sequence[float]) -> list[float]:
    """The sketch's quantiles (0 ≤ q ≤ 1); NaN each for an empty sketch."""
    found = [s.get_quantile_value(x) for x in q]
    return [math.nan if value is None else float(value) for value in found]


def wait_width(top: float) -> float:
    """The lock-wait histogram's bin: LOCK_WAIT_BIN × the smallest power of two that needs at most
    MAX_BINS bins up to `top`. Powers of two nest, so a run's bins coarsen into any longer run's."""
    k = max(0, math.ceil(math.log2(top / (LOCK_WAIT_BIN * MAX_BINS)))) if top > LOCK_WAIT_BIN * MAX_BINS else 0
    return LOCK_WAIT_BIN * float(2**k)


def coarsened(counts: Sequence[int], width: float, to: float) -> np.ndarray:
    """Counts on bins of `width` summed into bins of `to` (a power-of-two multiple of it)."""
    factor = round(to / width)
    found: np.ndarray = np.bincount(np.arange(len(counts)) // factor, weights=np.asarray(counts, dtype=float))
    return found


def busiest_burst(records: Sequence[MessageRecord]) -> np.ndarray:
    """Message ids of the largest burst (a customer's run of messages from index 0), earliest on ties."""
    store = as_columns(records)
    message, customer, index = (store.column(n) for n in ("message", "customer", "index"))
    if not len(message):
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((message, customer))  # each customer's messages in id order
    message, customer, index = message[order], customer[order], index[order]
    starts = (index == 0) | np.concatenate(([True], customer[1:] != customer[:-1]))
    burst = np.cumsum(starts) - 1
    sizes = np.bincount(burst)
    best = np.lexsort((message[starts], -sizes))[0]  # the longest; among equals, the earliest first message
    chosen: np.ndarray = message[burst == best]
    return chosen
