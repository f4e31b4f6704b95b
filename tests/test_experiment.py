"""Replications: independent streams per replication, identical results on any number of processes."""

from sim.experiment import Records, run_replications
from sim.scenario import load_scenario
from tests.helpers import PEAK_HOUR as PEAK


def test_results_are_identical_whatever_the_number_of_processes():
    import dataclasses

    scenario = dataclasses.replace(load_scenario(PEAK), replications=3, duration=600.0)
    serial = run_replications(scenario, processes=1, records=Records(keep=True))
    parallel = run_replications(scenario, processes=2, records=Records(keep=True))
    assert same(serial, parallel)
    for variant in serial.runs:
        assert [r.records for r in serial.runs[variant]] == [r.records for r in parallel.runs[variant]]


def same(a, b):
    """Equal numbers, NaN included (a NaN that crossed a process is another object, and NaN != NaN)."""
    return all(
        repr(getattr(a, name)) == repr(getattr(b, name)) for name in ("per_replication", "timeseries", "segments")
    )


def test_replications_differ_from_each_other_but_variants_share_them():
    import dataclasses

    scenario = dataclasses.replace(load_scenario(PEAK), replications=2, duration=600.0)
    result = run_replications(scenario)
    before = result.per_replication["before"]
    after = result.per_replication["after"]
    assert before[0]["messages"] != before[1]["messages"]
    assert [r["messages"] for r in before] == [r["messages"] for r in after]


def test_a_dask_cluster_gives_the_same_results_as_one_process():
    import dataclasses

    distributed = __import__("pytest").importorskip("dask.distributed")
    scenario = dataclasses.replace(load_scenario(PEAK), replications=2, duration=300.0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        on_dask = run_replications(scenario, scheduler=cluster.scheduler_address, records=Records(keep=True))
    serial = run_replications(scenario, processes=1, records=Records(keep=True))
    assert same(on_dask, serial)
    for variant in serial.runs:
        assert [r.records for r in on_dask.runs[variant]] == [r.records for r in serial.runs[variant]]


def test_replication_workers_die_by_the_kernel_on_sigterm_so_terminate_never_waits_on_a_python_handler():
    import multiprocessing
    import signal

    from sim import experiment

    def python_handler(signum, frame):  # what sim.terminal.console installs in the parent; a worker inherits it by fork
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, python_handler)
    try:
        with multiprocessing.get_context("fork").Pool(1, initializer=experiment._worker_signals) as pool:
            seen = pool.apply(_signal_dispositions)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == (signal.SIG_IGN, signal.SIG_DFL)


def _signal_dispositions():
    import signal

    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
