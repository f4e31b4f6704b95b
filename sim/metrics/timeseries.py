"""What happened when: per time window, per replication, then mean and 95 % band across them.

The window length comes from the run length (`window_length`): the shortest step of
`STEPS` that cuts the run into at most `MAX_WINDOWS` windows — one minute for an hour,
15 minutes for a day, 5 seconds for Magna's two minutes. Windows start at 0 and cover
the run and its drain (until the last worker is free).

Per window, for each replication:
- `messages`, `busy_rate`, `latency_answered_p95_s`: of the messages that *arrived* in it;
- `queue_length`, `busy_workers`, `lock_waiters`: time-averages over the window of how many
  messages were waiting for a worker (arrival → started_at), in service (started_at →
  done_at), and waiting for their conversation's lock (lock_asked_at → acquired, or given
  up: lock_asked_at + lock_wait);
- `redis_commands_per_s`: the run's own count per second (`RunResult.commands_per_second`);
- `crm_calls`, `llm_calls`: attributed to the window in which their message *started
  service* (a record counts its calls, not when each was made).
A window where a metric does not apply (no message arrived, none answered) holds NaN.

Everything is numpy over arrays of the records' times, so a day of 99k messages per
replication costs a fraction of a second.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.metrics.arrays import Columns, columns
from sim.metrics.catalog import Metric, Unit
from sim.metrics.context import RunContext
from sim.metrics.records import Outcome, RunResult
from sim.metrics.stats import CONFIDENCE, Estimate, t_quantile

# Window lengths in seconds, shortest first: round numbers a reader can add up on a clock.
STEPS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_WINDOWS = 100  # enough to see a surge's shape, few enough to read the bars of a plot

SERIES: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("messages", None, Unit.COUNT, "messages arrived"),
        Metric("busy_rate", False, Unit.RATIO, "busy apologies, share of the messages arrived"),
        Metric("latency_answered_p95_s", False, Unit.SECONDS, "latency p95 of the answered messages arrived"),
        Metric("queue_length", False, Unit.COUNT, "messages waiting for a worker (time-average)"),
        Metric("busy_workers", None, Unit.COUNT, "workers busy (time-average)"),
        Metric("lock_waiters", False, Unit.COUNT, "messages waiting for their conversation's lock (time-average)"),
        Metric("redis_commands_per_s", False, Unit.COUNT, "Redis commands per second"),
        Metric("crm_calls", False, Unit.COUNT, "CRM calls, by the window their message started service"),
        Metric("llm_calls", None, Unit.COUNT, "LLM calls, by the window their message started service"),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeSeries:
    window_s: float  # every window's length
    starts: tuple[float, ...]  # each window's start, seconds from the start of the run
    values: dict[str, dict[str, tuple[Estimate, ...]]]  # variant → metric (SERIES) → one estimate per window
    totals: dict[str, dict[str, tuple[float, ...]]] = field(default_factory=dict)  # variant → TOTALS → per window


def window_length(duration: float) -> float:
    """The shortest step of STEPS that cuts `duration` seconds into at most MAX_WINDOWS windows."""
    return float(next((s for s in STEPS if duration / s <= MAX_WINDOWS), STEPS[-1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class StepWindows:
    """One run's per-window values at one window length, before the comparison knows how many windows
    every run together needs (the longest run decides)."""

    count: int  # the windows this run spans: ceil(max(its end, the duration) / step), at least 1
    values: dict[str, np.ndarray]  # WINDOWED name → `count` values
    # `count` + 1 values, when an arrival or a service start falls exactly on the run's last edge: with
    # `count` windows it is clamped into the last one, with more windows (a longer run beside it) it is not.
    overflow: dict[str, np.ndarray] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunWindows:
    """What `timeseries` needs of one run, computed where the run ran (`sim.metrics.digest`)."""

    end: float  # when its last worker was free (or its last reply or command was sent)
    by_step: dict[float, StepWindows]  # window length → values; every length the comparison may choose


def run_windows(c: Columns, commands_per_second: Mapping[int, int], context: RunContext) -> RunWindows:
    """A run's windows for the comparison's window length: the duration's, or — a run without a duration —
    any length at least its own end's (another replication may end later)."""
    end = _end(c, commands_per_second)
    steps = [window_length(context.duration)] if context.duration else [s for s in STEPS if s >= window_length(end)]
    return RunWindows(
        end=end, by_step={float(s): _step_windows(c, commands_per_second, float(s), end, context) for s in steps}
    )


def _step_windows(
    c: Columns, commands_per_second: Mapping[int, int], step: float, end: float, context: RunContext
) -> StepWindows:
    count = max(1, math.ceil(max(end, context.duration) / step))
    seconds = np.fromiter(commands_per_second, dtype=np.int64, count=len(commands_per_second))
    times = (c.arrival, c.started, c.cache_checked[~np.isnan(c.cache_checked)])
    clamped = any(np.any(t // step >= count) for t in times) or bool(np.any(seconds // int(step) >= count))
    return StepWindows(
        count=count,
        values=windowed(c, commands_per_second, step, count),
        overflow=windowed(c, commands_per_second, step, count + 1) if clamped else None,
    )


def windowed(c: Columns, commands_per_second: Mapping[int, int], step: float, count: int) -> dict[str, np.ndarray]:
    """`per_window`, and the cache's outage checks and hits per window (for the report's hit-ratio plot)."""
    checked = ~np.isnan(c.cache_checked)
    window = np.minimum((c.cache_checked[checked] // step).astype(np.int64), count - 1)
    return {
        **per_window(c, commands_per_second, step, count),
        "cache_checks": np.bincount(window, minlength=count).astype(float),
        "cache_hits": np.bincount(window, weights=c.cache_hit[checked], minlength=count),
    }


# What a window beyond a run's end holds: nothing arrived (no rate, no percentile), nothing open, nothing counted.
_EMPTY = {"busy_rate": math.nan, "latency_answered_p95_s": math.nan}
TOTALS = ("cache_checks", "cache_hits")  # summed over replications (`TimeSeries.totals`)


def timeseries(
    runs: Mapping[str, Sequence[RunResult]],
    context: RunContext,
    built: Mapping[str, Sequence[Columns]] | None = None,
) -> TimeSeries:
    """Per variant, per SERIES metric, per window: mean [95 % band] across the replications.

    `built`: the runs' columns, if the caller has them already (in the runs' order).
    """
    built = built or {v: [columns(run.records) for run in rs] for v, rs in runs.items()}
    pieces = {
        v: [run_windows(c, run.commands_per_second, context) for c, run in zip(built[v], rs, strict=True)]
        for v, rs in runs.items()
    }
    return combine(pieces, context)


def combine(pieces: Mapping[str, Sequence[RunWindows]], context: RunContext) -> TimeSeries:
    """The time series of runs whose windows were computed apart (`run_windows`), as if computed together."""
    end = max((p.end for ps in pieces.values() for p in ps), default=0.0)
    step = window_length(context.duration or end)
    count = max(1, math.ceil(max(end, context.duration) / step))
    aligned = {v: [_aligned(p, step, count) for p in ps] for v, ps in pieces.items()}
    return TimeSeries(
        window_s=step,
        starts=tuple(float(k * step) for k in range(count)),
        values={variant: _across(reps) if reps else {} for variant, reps in aligned.items()},
        totals={
            variant: {name: tuple(np.sum([rep[name] for rep in reps], axis=0).tolist()) for name in TOTALS}
            for variant, reps in aligned.items()
            if reps
        },
    )


def _aligned(p: RunWindows, step: float, count: int) -> dict[str, np.ndarray]:
    """One run's windows, `count` of them (padded past the run's end)."""
    found = p.by_step.get(step)
    if found is None:
        raise ValueError(f"a run's windows were computed for {sorted(p.by_step)} s windows, not {step:g} s")
    values = found.values if count == found.count else (found.overflow or found.values)
    return {
        name: np.concatenate((v, np.full(count - len(v), _EMPTY.get(name, 0.0)))) if len(v) < count else v
        for name, v in values.items()
    }


def per_window(r: Columns, commands_per_second: Mapping[int, int], step: float, count: int) -> dict[str, np.ndarray]:
    """One replication's SERIES metrics (from its records' columns and its Redis commands per second),
    an array of `count` windows each."""
    window = np.minimum((r.arrival // step).astype(np.int64), count - 1)
    messages = np.bincount(window, minlength=count).astype(float)
    busy = np.bincount(window, weights=r.outcome_is(Outcome.BUSY), minlength=count)
    edges = np.arange(count + 1) * step
    started = np.minimum((r.started // step).astype(np.int64), count - 1)
    asking = ~np.isnan(r.lock_asked)
    answered = r.outcome_is(Outcome.ANSWERED)
    seconds = np.fromiter(commands_per_second, dtype=np.int64, count=len(commands_per_second))
    commands = np.fromiter(commands_per_second.values(), dtype=float, count=len(seconds))
    with np.errstate(invalid="ignore", divide="ignore"):
        busy_rate = busy / messages  # 0/0: no message arrived, NaN
    return {
        "messages": messages,
        "busy_rate": busy_rate,
        "latency_answered_p95_s": _grouped_percentile(window[answered], r.latency[answered], 95, count),
        "queue_length": time_average(r.arrival, r.started, edges),
        "busy_workers": time_average(r.started, r.done, edges),
        "lock_waiters": time_average(r.lock_asked[asking], r.lock_end[asking], edges),
        "redis_commands_per_s": np.bincount(
            np.minimum(seconds // int(step), count - 1), weights=commands, minlength=count
        )
        / step,
        "crm_calls": np.bincount(started, weights=r.crm_calls, minlength=count),
        "llm_calls": np.bincount(started, weights=r.llm_calls, minlength=count),
    }


def time_average(begins: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per window between consecutive `edges`: the time-average number of intervals [begin, end) open.

    Through the integral F(t) = Σ overlap of [begin, end) with [0, t), which is
    Σ_{begin < t} (t − begin) − Σ_{end < t} (t − end): two sorted arrays and their
    prefix sums, O(n log n) for any number of windows.
    """
    area = _open_time(np.sort(begins), edges) - _open_time(np.sort(ends), edges)
    average: np.ndarray = np.diff(area) / np.diff(edges)
    return average


def _open_time(sorted_times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Σ over the times t_i < e of (e − t_i), for each edge e."""
    before = np.searchsorted(sorted_times, edges, side="left")
    prefix = np.concatenate(([0.0], np.cumsum(sorted_times)))
    open_time: np.ndarray = before * edges - prefix[before]
    return open_time


def _grouped_percentile(group: np.ndarray, values: np.ndarray, q: float, count: int) -> np.ndarray:
    """The q-th percentile of `values` per group 0…count−1 (linear interpolation, as np.percentile); NaN if empty."""
    order = np.lexsort((values, group))
    group, values = group[order], values[order]
    sizes = np.bincount(group, minlength=count)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    result = np.full(count, np.nan)
    has = sizes > 0
    position = q / 100 * (sizes[has] - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, sizes[has] - 1)
    below, above = values[first[has] + low], values[first[has] + high]
    result[has] = below + (position - low) * (above - below)
    return result


def _across(reps: list[dict[str, np.ndarray]]) -> dict[str, tuple[Estimate, ...]]:
    return {m: _band(np.vstack([rep[m] for rep in reps]), SERIES[m].unit.bounds) for m in SERIES}


def _band(values: np.ndarray, bounds: tuple[float, float]) -> tuple[Estimate, ...]:
    """Per column (window): mean and 95 % t-interval over the rows (replications) where it applies,
    cut at `bounds` as `stats.mean_ci` does."""
    n = np.sum(~np.isnan(values), axis=0)
    with warnings.catch_warnings():  # an all-NaN window (nothing arrived in any replication) is NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1)
    t = np.array([t_quantile(CONFIDENCE, k - 1) if k >= 2 else 0.0 for k in n])
    half = np.where(n >= 2, t * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1)), 0.0)
    low = np.where(n >= 2, np.maximum(mean - half, bounds[0]), mean)
    high = np.where(n >= 2, np.minimum(mean + half, bounds[1]), mean)
    return tuple(
        Estimate(float(m), float(lo), float(hi), int(k)) for m, lo, hi, k in zip(mean, low, high, n, strict=True)
    )


def _end(c: Columns, commands_per_second: Mapping[int, int]) -> float:
    """When the run's last worker was free (or its last reply or command was sent)."""
    last = max(float(c.done.max()), float((c.arrival + c.latency).max())) if len(c.arrival) else 0.0
    return max(last, max(commands_per_second, default=-1) + 1.0)
