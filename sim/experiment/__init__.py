"""Run a scenario's variants over replications: the glue between scenario, world and metrics."""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sim.code import hash_seed
from sim.metrics.comparison import Comparison, compare
from sim.metrics.conversations import conversation_metrics
from sim.metrics.digest import RunDigest, digest
from sim.metrics.lock_safety import lock_safety_metrics
from sim.metrics.precision import assess, next_count
from sim.metrics.records import RunResult
from sim.metrics.summary import code_metrics, summarize
from sim.metrics.thresholds import Threshold
from sim.scenario.describe import context
from sim.scenario.model import Scenario
from sim.scenario.work import expected_messages
from sim.world.model import simulate

Job = tuple[Scenario, str, int]  # (scenario, variant name, replication)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Records:
    """What a replication does with its records; by default it drops them (the digest is all the parent gets)."""

    keep: bool = False  # send them back in the digest (small runs: records.csv, sim validate)
    folder: str | None = None  # or write them there, one gzip CSV per replication (`records_csv.write_run`)


DROP = Records()  # the records stay in the worker; only the digest comes back
RECORDS_CSV_LIMIT = 250_000  # expected messages × variants × replications up to which records.csv is written


def keeps_records(scenario: Scenario) -> bool:
    """records.csv (the records sent back to the parent) for a small comparison; else each worker
    writes its replication's records to records/VARIANT-REP.csv.gz and the parent never holds them."""
    most = scenario.max_replications if scenario.precision else scenario.replications
    runs = len(scenario.variants) * most
    return expected_messages(scenario.workload, scenario.duration) * runs <= RECORDS_CSV_LIMIT


@dataclass(frozen=True, slots=True)
class VariantRun:
    run: RunResult
    metrics: dict[str, float]


def select(scenario: Scenario, variant: str | None = None, seed: int | None = None) -> Scenario:
    """The scenario narrowed to one variant and/or re-seeded (from the command line)."""
    if variant is not None:
        chosen = scenario.variant(variant)
        scenario = dataclasses.replace(scenario, variants=(chosen,), baseline=chosen.name)
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    return scenario


def run_once(scenario: Scenario, replication: int = 0, *, trace: bool = False) -> dict[str, VariantRun]:
    """Every variant on the same replication's random streams."""
    results = {}
    for variant in scenario.variants:
        run = simulate(scenario, variant, replication, trace=trace)
        metrics = summarize(run.records)
        if scenario.workload.conversations is not None:
            metrics |= conversation_metrics(run.conversations)
        if any(v.code is not None for v in scenario.variants):
            metrics |= code_metrics(run.records, run.world.late_commands if run.world else 0)
        if scenario.measures_lock_safety():
            metrics |= lock_safety_metrics(run.records)
        results[variant.name] = VariantRun(run, metrics)
    return results


def run_replications(
    scenario: Scenario,
    *,
    processes: int = 1,
    scheduler: str | None = None,
    extra_thresholds: Iterable[Threshold] = (),
    on_done: Callable[[], None] = lambda: None,
    replications: Sequence[int] | None = None,
    records: Records = DROP,
) -> Comparison:
    """Every variant × replication; identical results whatever runs them.

    Locally on `processes` cores, or on a Dask distributed cluster when
    `scheduler` is its address. Each job carries its own seeds, so where it
    runs cannot change what it computes. `replications`: which replication indices to run
    (default: 0 to the scenario's count − 1); `sim tune` adds them rung by rung. Every job sends
    back a `RunDigest`, not its records, unless `records` says otherwise.
    """
    indices = range(scenario.replications) if replications is None else replications
    runs = _digests(scenario, indices, processes, scheduler, on_done, records)
    return _compared(scenario, runs, (*scenario.thresholds, *extra_thresholds))


def _digests(
    scenario: Scenario,
    indices: Sequence[int],
    processes: int,
    scheduler: str | None,
    on_done: Callable[[], None],
    records: Records,
) -> dict[str, list[RunDigest]]:
    """Every variant's digests of the replications `indices`, in replication order."""
    jobs: list[Job] = [(scenario, v.name, r) for r in indices for v in scenario.variants]
    runs: dict[str, list[RunDigest]] = {v.name: [] for v in scenario.variants}
    job = functools.partial(_run_job, records=records)
    for run in (
        _map_on_dask(jobs, scheduler, on_done, job) if scheduler else _counted(_map(jobs, processes, job), on_done)
    ):
        runs[run.variant].append(run)
    return runs


def run_until_precise(
    scenario: Scenario,
    *,
    processes: int = 1,
    scheduler: str | None = None,
    extra_thresholds: Iterable[Threshold] = (),
    on_done: Callable[[], None] = lambda: None,
    on_batch: Callable[[int], None] = lambda planned: None,
    records: Records = DROP,
) -> Comparison:
    """Replications in batches until the scenario's precision targets are met, or its maximum is reached.

    The stopping rule is `sim.metrics.precision`'s; batches are replication indices 0…n0−1, then
    fixed-size runs of the next ones, so each replication keeps its own seeds (common random
    numbers) and where or on how many processes a batch runs cannot change where it stops.
    `on_batch(n)`: about to run up to n replications. The result says why it stopped (`stopping`).
    """
    thresholds = (*scenario.thresholds, *extra_thresholds)
    runs: dict[str, list[RunDigest]] = {v.name: [] for v in scenario.variants}
    done = 0
    while True:
        planned = next_count(done, scenario.max_replications)
        on_batch(planned)
        # Only digests per batch: the comparison is made once, over every batch so far.
        for name, more in _digests(scenario, range(done, planned), processes, scheduler, on_done, records).items():
            runs[name].extend(more)
        done = planned
        # The report describes the scenario as it ran: with the count the rule reached, not the file's.
        comparison = _compared(dataclasses.replace(scenario, replications=done), runs, thresholds)
        stopping = assess(
            scenario.precision,
            comparison.per_replication,
            scenario.baseline,
            comparison.thresholds,
            scenario.max_replications,
        )
        if stopping.finished:
            return dataclasses.replace(comparison, stopping=stopping)


def _compared(scenario: Scenario, runs: dict[str, list[RunDigest]], thresholds: Sequence[Threshold]) -> Comparison:
    return compare(
        scenario.name,
        scenario.seed,
        scenario.baseline,
        {v.name: v.describe() for v in scenario.variants},
        runs,
        thresholds,
        context(scenario),
        scenario.meaningful,
    )


def default_processes() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run_job(job: Job, records: Records = DROP) -> RunDigest:
    """One replication, digested where it ran; its records written to `records.folder` if asked."""
    scenario, variant, replication = job
    run = simulate(scenario, scenario.variant(variant), replication)
    written = None
    if records.folder is not None:
        from sim.report import records_csv  # only the workers that write records pay for the import

        written = records_csv.write_run(Path(records.folder), run.variant, run.replication, run.records).name
    return digest(run, context(scenario), keep_records=records.keep, records_file=written)


def _map(jobs: list[Job], processes: int, job: Callable[[Job], RunDigest] = _run_job) -> Iterator[RunDigest]:
    if processes <= 1 or len(jobs) <= 1:
        yield from map(job, jobs)
        return
    # fork where the platform has it (cheap start); jobs carry their own seeds, so either method gives the same results
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(min(processes, len(jobs)), initializer=_worker_signals) as pool:
        yield from pool.imap(job, jobs)  # leaving the block (Ctrl-C included) terminates the workers


def _worker_signals() -> None:
    """Ctrl-C reaches every process of the terminal; only the parent reacts (one line, exit 130).

    SIGTERM, which the pool's terminate() sends to every worker on leaving the `with` block, takes
    the kernel's default action in a worker. A Python-level handler (the one `sim.terminal.console` installs,
    inherited through fork) can miss it: a signal landing just before an idle worker blocks on the
    task queue's lock leaves the handler pending forever, and terminate() waits for that worker
    forever (seen under load in the tune tests).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class DaskUnavailable(RuntimeError):
    """--executor dask without the optional dependency installed."""


def _map_on_dask(
    jobs: list[Job], scheduler: str, on_done: Callable[[], None], job: Callable[[Job], RunDigest] = _run_job
) -> Iterator[RunDigest]:
    """The jobs' results in submission order, so results do not depend on who finished first;
    `on_done` as each finishes on the cluster, so progress moves even while an early job is slow."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise DaskUnavailable("the dask executor needs the optional extra: pip install -e '.[dask]'") from None
    with Client(scheduler) as client:  # type: ignore[no-untyped-call]  # dask.distributed leaves it untyped
        futures = client.map(_on_a_worker, [(job, j, hash_seed.probe()) for j in jobs], pure=False)
        position = {future.key: i for i, future in enumerate(futures)}
        finished = ((position[f.key], f.result()) for f in as_completed(futures))  # type: ignore[no-untyped-call]
        yield from in_submission_order(finished, on_done)


def _on_a_worker(work: tuple[Callable[[Job], RunDigest], Job, int]) -> RunDigest:
    """A job on a cluster's worker, which must hash strings as this process does when it runs a team's code."""
    job, (scenario, variant, replication), submitter = work
    if scenario.variant(variant).code is not None:
        hash_seed.check_worker(submitter)
    return job((scenario, variant, replication))


def in_submission_order(finished: Iterable[tuple[int, T]], on_done: Callable[[], None]) -> Iterator[T]:
    """Results that arrive as (submission index, result) in any order, yielded in index order.

    `on_done` is called once per arrival, before anything it unblocks is yielded. Results that
    arrive early wait here until the ones before them are in.
    """
    waiting: dict[int, T] = {}
    following = 0
    for index, result in finished:
        waiting[index] = result
        on_done()
        while following in waiting:
            yield waiting.pop(following)
            following += 1


def _counted(results: Iterator[RunDigest], on_done: Callable[[], None]) -> Iterator[RunDigest]:
    for result in results:
        on_done()
        yield result
