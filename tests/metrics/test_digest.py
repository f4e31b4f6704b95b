"""A replication's digest gives the parent exactly what its records gave: metrics, windows, segments."""

import dataclasses
import math

import numpy as np
import pytest

from sim.experiment import Records, run_replications
from sim.metrics.arrays import columns
from sim.metrics.comparison import compare
from sim.metrics.context import RunContext, Shaded, ShadeKind
from sim.metrics.digest import RELATIVE_ACCURACY, busiest_burst, digest, merged, quantiles, sketch
from sim.metrics.records import RunResult
from sim.metrics.segments import segments
from sim.metrics.summary import EXTRA_METRICS, summarize
from sim.metrics.timeseries import _across, _end, per_window, window_length
from sim.scenario import load_scenario
from sim.scenario.describe import context
from sim.world.model import simulate
from tests.helpers import PEAK_HOUR
from tests.metrics.test_summary import rec


def old_timeseries(runs, ctx):
    """The time series as the parent computed it from every run's records before digests (verbatim)."""
    cols = {v: [(columns(r.records), r.commands_per_second) for r in rs] for v, rs in runs.items()}
    end = max((_end(c, commands) for rs in cols.values() for c, commands in rs), default=0.0)
    step = window_length(ctx.duration or end)
    count = max(1, math.ceil(max(end, ctx.duration) / step))
    return step, {v: _across([per_window(c, commands, step, count) for c, commands in rs]) for v, rs in cols.items()}


@pytest.fixture(scope="module")
def peak():
    scenario = dataclasses.replace(load_scenario(PEAK_HOUR), replications=2, duration=600.0)
    runs = {v.name: [simulate(scenario, v, r) for r in range(2)] for v in scenario.variants}
    return scenario, runs


def test_a_digest_holds_the_runs_exact_metrics_and_extras(peak):
    scenario, runs = peak
    for run in (r for rs in runs.values() for r in rs):
        d = digest(run, context(scenario))
        assert repr(d.metrics) == repr(summarize(run.records))  # NaN-aware: the same numbers, to the bit
        assert d.extra_metrics == {name: f(run.records) for name, f in EXTRA_METRICS.items()}
        assert d.messages == len(run.records) and d.violations == run.violations and d.records is None


def test_windows_and_segments_combined_from_digests_equal_those_of_the_records(peak):
    scenario, runs = peak
    ctx = context(scenario)
    built = compare(
        scenario.name, 1, "before", {}, {v: [digest(r, ctx) for r in rs] for v, rs in runs.items()}, (), ctx
    )
    step, values = old_timeseries(runs, ctx)
    assert built.timeseries.window_s == step and repr(built.timeseries.values) == repr(values)
    old_segments = segments({v: [columns(r.records) for r in rs] for v, rs in runs.items()}, ctx)
    assert repr(built.segments) == repr(old_segments)


def test_windows_of_runs_of_different_lengths_are_padded_and_a_message_on_the_last_edge_is_not_clamped():
    # Run 0 ends at 100 s exactly, with a message arriving then: on its own 100 windows of 1 s it is clamped into
    # the last; beside run 1, which ends at 150 s, it has a window of its own. Windows past run 0's end are empty.
    short = [rec(0, arrival=10, reply_at=20), rec(1, arrival=100, reply_at=100, lock_asked_at=100.0)]
    long = [rec(0, arrival=10, reply_at=20), rec(1, arrival=140, reply_at=150, lock_asked_at=140.0)]
    runs = {
        "v": [
            RunResult(variant="v", replication=i, records=tuple(rs), commands_per_second={5: 3})
            for i, rs in enumerate((short, long))
        ]
    }
    ctx = RunContext(duration=60.0, shaded=(Shaded(kind=ShadeKind.FAULT, label="x", start=5, end=15),))
    built = compare("s", 1, "v", {"v": ""}, runs, (), ctx)
    step, values = old_timeseries(runs, ctx)
    assert len(built.timeseries.starts) == 150
    assert repr(built.timeseries.values) == repr(values)
    assert built.runs["v"][0].windows.by_step[step].overflow is not None  # the edge case was met


def test_a_run_without_a_duration_keeps_windows_for_every_length_a_longer_run_may_choose():
    runs = {
        "v": [
            RunResult(variant="v", replication=0, records=(rec(0, arrival=1, reply_at=50),), commands_per_second={}),
            RunResult(variant="v", replication=1, records=(rec(0, arrival=1, reply_at=900),), commands_per_second={}),
        ]
    }
    ctx = RunContext(duration=0.0)
    built = compare("s", 1, "v", {"v": ""}, runs, (), ctx)
    step, values = old_timeseries(runs, ctx)
    assert built.timeseries.window_s == step == 10 and repr(built.timeseries.values) == repr(values)


def test_a_digest_made_for_another_context_is_refused():
    run = RunResult(variant="v", replication=0, records=(rec(0),), commands_per_second={})
    with pytest.raises(ValueError, match="another run context"):
        compare("s", 1, "v", {"v": ""}, {"v": [digest(run, RunContext(duration=60.0))]}, (), RunContext(duration=0.0))


def test_the_busiest_burst_is_the_longest_and_the_earliest_among_equals():
    records = [
        rec(0, customer="a", index=0),
        rec(1, customer="b", index=0),
        rec(2, customer="a", index=1),
        rec(3, customer="b", index=1),
        rec(4, customer="a", index=0),  # a's second burst
        rec(5, customer="c", index=0),
        rec(6, customer="c", index=1),
    ]
    assert busiest_burst(records).tolist() == [0, 2]  # a, b and c's bursts all hold two: a's starts first


def test_the_pooled_plot_data_does_not_grow_with_the_messages(peak):
    import pickle

    scenario, runs = peak
    sizes = [len(pickle.dumps(dataclasses.replace(digest(r, context(scenario)), segments={}))) for r in runs["before"]]
    assert max(sizes) < 60_000  # a few KB of sketches, histograms and windows, whatever the run's length


# -- the sketch against exact percentiles ------------------------------------------------------------

QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999)


def samples():
    rng = np.random.default_rng(7)
    lognormal = rng.lognormal(mean=0.5, sigma=1.2, size=200_000)  # latencies with a long tail
    # bimodal: answers in ~3 s, and busy apologies piling up at a 30 s lock timeout
    bimodal = np.concatenate((rng.gamma(4.0, 0.75, size=150_000), 30.0 + rng.exponential(0.01, size=50_000)))
    return {"lognormal": lognormal, "bimodal": rng.permutation(bimodal)}


@pytest.mark.parametrize("name", ["lognormal", "bimodal"])
def test_the_sketch_answers_every_quantile_within_its_relative_error(name):
    values = samples()[name]
    found = quantiles(sketch(values, RELATIVE_ACCURACY), QUANTILES)
    exact = np.percentile(values, [100 * q for q in QUANTILES], method="lower")  # DDSketch's rank: ⌊q(n − 1)⌋
    errors = np.abs(np.array(found) - exact) / exact
    assert errors.max() <= RELATIVE_ACCURACY * (1 + 1e-9), dict(zip(QUANTILES, errors.round(5), strict=True))


def test_merged_sketches_of_the_parts_answer_as_the_sketch_of_the_whole():
    values = samples()["lognormal"]
    parts = [sketch(part, RELATIVE_ACCURACY) for part in np.array_split(values, 7)]
    whole = sketch(values, RELATIVE_ACCURACY)
    assert quantiles(merged(parts, RELATIVE_ACCURACY), QUANTILES) == quantiles(whole, QUANTILES)


def test_an_empty_sketch_has_no_quantiles():
    assert all(math.isnan(q) for q in quantiles(sketch(np.empty(0), RELATIVE_ACCURACY), (0.5,)))


def test_replications_keep_their_records_only_when_asked(peak):
    scenario, _ = peak
    small = dataclasses.replace(scenario, duration=120.0, replications=1)
    assert all(r.records is None for rs in run_replications(small).runs.values() for r in rs)
    kept = run_replications(small, records=Records(keep=True))
    assert all(len(r.records) == r.messages > 0 for rs in kept.runs.values() for r in rs)
