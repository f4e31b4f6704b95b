"""The Dask executor, the documented way to run a large study: results identical to a local run
wherever the workers are, and progress as the cluster finishes jobs, not as they are handed back."""

import dataclasses
import pickle

import pytest

from sim.experiment import Records, in_submission_order, run_replications, run_until_precise
from sim.metrics.precision import parse_targets
from sim.scenario import load_scenario
from tests.helpers import MAGNA, ROOT

KEEP = Records(keep=True)


def test_results_come_back_in_submission_order_while_progress_counts_each_arrival():
    arrivals = [(2, "c"), (0, "a"), (3, "d"), (1, "b")]
    progress: list[int] = []
    seen = []
    for result in in_submission_order(arrivals, lambda: progress.append(len(progress) + 1)):
        seen.append((result, len(progress)))
    # "a" is handed on after 2 arrivals ("c" waited for it); "b" unblocks "c" and "d" after all 4
    assert seen == [("a", 2), ("b", 4), ("c", 4), ("d", 4)]
    assert progress == [1, 2, 3, 4]


@pytest.mark.slow
def test_a_local_cluster_of_several_workers_gives_the_local_results_and_the_same_precision_stop():
    distributed = pytest.importorskip("dask.distributed")
    scenario = dataclasses.replace(load_scenario(MAGNA), replications=4)
    precise = dataclasses.replace(scenario, thresholds=(), precision=parse_targets("latency_answered_p95_s=2s"))
    done: list[int] = []
    with distributed.LocalCluster(
        n_workers=3, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:  # workers as threads of this process, to stay light (test_experiment.py runs worker processes)
        address = cluster.scheduler_address
        on_dask = run_replications(scenario, scheduler=address, on_done=lambda: done.append(1), records=KEEP)
        digests_only = run_replications(scenario, scheduler=address)
        precise_on_dask = run_until_precise(precise, scheduler=address)
    local = run_replications(scenario, processes=1, records=KEEP)
    assert len(done) == 4 * len(scenario.variants)
    assert repr(on_dask.per_replication) == repr(local.per_replication)  # repr: NaN (not applicable) equals itself
    for variant in local.runs:
        assert [list(r.records) for r in on_dask.runs[variant]] == [list(r.records) for r in local.runs[variant]]
    # What crosses the wire by default: digests of a fixed size, never the records.
    sent = [r for runs in digests_only.runs.values() for r in runs]
    assert all(r.records is None for r in sent) and max(len(pickle.dumps(r)) for r in sent) < 60_000
    assert repr(digests_only.per_replication) == repr(local.per_replication)
    assert precise_on_dask.stopping == run_until_precise(precise, processes=1).stopping
    assert precise_on_dask.replications == 10


@pytest.mark.slow
def test_a_teams_handler_on_a_local_cluster_gives_the_local_records():
    distributed = pytest.importorskip("dask.distributed")
    scenario = dataclasses.replace(load_scenario(ROOT / "examples" / "seed-bot" / "magna.toml"), replications=3)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        on_dask = run_replications(scenario, scheduler=cluster.scheduler_address, records=KEEP)
    local = run_replications(scenario, processes=1, records=KEEP)
    for variant in local.runs:
        assert [list(r.records) for r in on_dask.runs[variant]] == [list(r.records) for r in local.runs[variant]]


def test_a_worker_under_another_hash_seed_refuses_a_teams_handler():
    from sim.code import hash_seed
    from sim.core.errors import EnvironmentProblem

    hash_seed.check_worker(hash_seed.probe())  # the same seed: fine
    with pytest.raises(EnvironmentProblem, match="PYTHONHASHSEED=0"):
        hash_seed.check_worker(hash_seed.probe() + 1)
