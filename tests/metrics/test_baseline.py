"""Baseline files: hostile ones are refused in one line, identical runs show no change."""

import json
import math
import os
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.errors import BaselineError
from sim.metrics import baseline
from sim.metrics.baseline import Previous, changes, load_previous, regression_metrics
from sim.metrics.catalog import METRICS, Unit
from sim.metrics.comparison import CHANGED, EQUIVALENT, NOT_APPLICABLE, WORSE, Comparison
from sim.metrics.stats import Estimate, welch_difference

REP = {m: 0.1 * i if METRICS[m].unit is not Unit.RATIO else 0.01 * i for i, m in enumerate(METRICS)}  # shares ≤ 1


def results(**variants) -> dict:
    return {"format_version": 1, "scenario": "magna", "variants": variants or {"after": {"replications": [REP] * 3}}}


def comparison(per_replication: dict[str, list[dict[str, float]]]) -> Comparison:
    reps = len(next(iter(per_replication.values())))
    return Comparison(
        scenario="magna",
        seed=1,
        replications=reps,
        baseline="before",
        descriptions={},
        per_replication=per_replication,
        estimates={},
        verdicts=[],
        thresholds=[],
        runs={},
    )


def write(tmp_path, text: str | bytes):
    path = tmp_path / "results.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_valid_file_loads_with_every_replication(tmp_path):
    previous = load_previous(write(tmp_path, json.dumps(results())))
    assert (previous.scenario, list(previous.variants), len(previous.variants["after"])) == ("magna", ["after"], 3)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_format_since_the_first_still_reads_as_a_baseline(tmp_path, version):
    """Format 3 changed the verdicts' intervals and thresholds, not the replications a baseline reads."""
    data = results(after={"replications": [REP, {**REP, "cache_hit_ratio": None}]}) | {"format_version": version}
    previous = load_previous(write(tmp_path, json.dumps(data)))
    assert previous.variants["after"][0] == REP and math.isnan(previous.variants["after"][1]["cache_hit_ratio"])


HOSTILE = [
    ("[1, 2]", "expected a JSON object, got a list"),
    ('{"format_version": true, "scenario": "magna", "variants": {}}', "format_version must be 1, 2 or 3, got True"),
    ('{"format_version": 1, "scenario": 7, "variants": {}}', "scenario must be a string, got a number"),
    ('{"format_version": 1, "scenario": "magna", "variants": []}', "variants must be an object, got a list"),
    ('{"format_version": 1, "scenario": "magna"}', "variants is missing"),
    ('{"format_version": 1, "scenario": "magna", "variants": {"after": {}}}', "variants.after.replications is missing"),
    ('{"format_version": 1, "scenario": "magna", "variants": {"after": []}}', "variants.after must be an object"),
    (
        '{"format_version": 1, "scenario": "magna", "variants": {"after": {"replications": []}}}',
        "variants.after.replications is empty",
    ),
    (
        '{"format_version": 1, "scenario": "magna", "variants": {"after": {"replications": [[1]]}}}',
        "variants.after.replications[0] must be an object of metric → number, got a list",
    ),
    (
        '{"format_version": 1, "scenario": "magna", "variants": {"after": {"replications": '
        '[{"busy_rate": 0}, {"busy_rate": 0}, {"busy_rate": "0.1"}]}}}',
        "variants.after.replications[2].busy_rate is not a finite number",
    ),
    (
        '{"format_version": 1, "scenario": "magna", "variants": {"after": {"replications": [{"busy_rate": true}]}}}',
        "variants.after.replications[0].busy_rate is not a finite number",
    ),
    (
        '{"format_version": 1, "scenario": "magna", "variants": {"a\\nb": {"replications": [{"busy_rate": {}}]}}}',
        "variants['a\\nb'].replications[0].busy_rate is not a finite number",
    ),
    ('{"format_version": 1, "scenario": "magna", "variants": {"after": {"replications": [{"x": NaN}]}}}', "NaN"),
    ('{"format_version": 1, "variants": {"after": {"replications": [{"x": -Infinity}]}}}', "-Infinity"),
    ('{"format_version": 1, "variants": {"after": {"replications": [{"x": 1e999}]}}}', "'1e999' is too large"),
    ('{"format_version": 1, "variants": {"after": {"replications": [{"x": 1' + "0" * 5000 + "}]}}}", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps(results(after={"replications": [{"busy_rate": 10**400}]})), "busy_rate is beyond ±1e+15"),
    (json.dumps(results(after={"replications": [{"busy_rate": 1.7e308}] * 2})), "busy_rate is beyond ±1e+15"),
    (json.dumps(results(after={"replications": [{"x": 1.0}, {"x": -1.7e308}]})), "replications[1].x is beyond ±1e+15"),
    (json.dumps(results(after={"replications": [{"x": 1e-160}, {"x": 3e-160}]})), "x is closer to zero than 1e-30"),
    (json.dumps(results(after={"replications": [{"x": 5e-324}]})), "x is closer to zero than 1e-30"),
    # Tampered values no run can produce: a negative count or time, a share outside 0 to 1.
    (
        json.dumps(results(after={"replications": [{"crm_calls": -40}]})),
        "crm_calls is -40: impossible, crm_calls is a count (0 or more)",
    ),
    (
        json.dumps(results(after={"replications": [{"busy_rate": -0.5}]})),
        "replications[0].busy_rate is -0.5: impossible, busy_rate is a share (0 to 1)",
    ),
    (
        json.dumps(results(after={"replications": [{"busy_rate": 0}, {"busy_rate": 1.5}]})),
        "replications[1].busy_rate is 1.5: impossible",
    ),
    (
        json.dumps(results(after={"replications": [{"latency_p95_s": -2.0}]})),
        "latency_p95_s is -2: impossible, latency_p95_s is a time (0 s or more)",
    ),
    ('{"format_version": 1, "kind": "sweep", "scenario": "magna"}', "the results of a sweep"),
    (b'{"scenario": "\xff"}', "not UTF-8 text (byte 14)"),
    ("{", "not valid JSON"),
    ("", "not valid JSON"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_a_hostile_baseline_file_is_one_line_naming_the_culprit(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(BaselineError) as error:
        load_previous(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading_it():
    with pytest.raises(BaselineError, match="/dev/zero: not a regular file"):
        load_previous("/dev/zero")


@pytest.mark.skipif(sys.platform == "win32", reason="no FIFOs")
def test_a_fifo_is_refused_without_blocking_on_it(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(BaselineError, match="fifo: not a regular file"):
        load_previous(tmp_path / "fifo")


def test_a_folder_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(BaselineError, match="a folder, expected a results.json"):
        load_previous(tmp_path)
    with pytest.raises(BaselineError, match="no such results file"):
        load_previous(tmp_path / "nothing.json")


def test_a_file_over_the_size_limit_is_refused_unparsed(tmp_path, monkeypatch):
    monkeypatch.setattr(baseline, "MAX_BYTES", 100)
    path = write(tmp_path, json.dumps(results()))
    with pytest.raises(BaselineError, match="larger than"):
        load_previous(path)


def test_a_run_compared_with_identical_samples_shows_no_change():
    reps = {"before": [REP, REP, REP], "after": [REP] * 5}
    previous = Previous("old.json", "magna", {"before": [REP, REP, REP], "after": [REP] * 2})
    diff = changes(previous, comparison(reps))
    assert diff.changes and not [ch for ch in diff.changes if ch.significant]
    assert {ch.verdict for ch in diff.changes} == {EQUIVALENT}  # identical: within any margin
    assert diff.not_compared == ()


def test_constant_samples_give_an_exact_zero_not_a_rounding_residue():
    # mean([0.1] * 3) − mean([0.1] * 7) is 2.8e-17 and var([0.1] * 3) is 3e-34 in floating point
    assert welch_difference([0.1] * 3, [0.1] * 7) == Estimate(0.0, 0.0, 0.0, 3)
    assert welch_difference([0.7], [0.7] * 4) == Estimate(0.0, 0.0, 0.0, 1)


def test_constant_samples_that_differ_are_a_certain_change():
    d = welch_difference([0.5] * 3, [0.25] * 3)
    assert d == Estimate(0.25, 0.25, 0.25, 3) and d.excludes_zero()


def test_a_worse_watched_metric_is_a_regression_and_a_better_one_is_not():
    old = {"before": [{**REP, "busy_rate": 0.0, "cache_hit_ratio": 0.1}] * 3}
    new = {"before": [{**REP, "busy_rate": 0.2, "cache_hit_ratio": 0.9}] * 3}
    diff = changes(Previous("old.json", "magna", old), comparison(new), ("busy_rate", "cache_hit_ratio"))
    assert [(ch.metric, ch.verdict) for ch in diff.regressions] == [("busy_rate", WORSE)]


def test_a_significant_change_of_a_metric_without_direction_is_changed_not_worse():
    old = {"before": [{**REP, "messages": 3}] * 3}
    new = {"before": [{**REP, "messages": 4}] * 3}
    diff = changes(Previous("old.json", "magna", old), comparison(new))
    assert next(ch.verdict for ch in diff.changes if ch.metric == "messages") == CHANGED


def test_new_variants_missing_metrics_and_removed_variants_are_listed_not_skipped_silently():
    partial = {k: v for k, v in REP.items() if k != "lock_polls"}
    previous = Previous("old.json", "magna", {"before": [partial] * 2, "gone": [REP]})
    diff = changes(previous, comparison({"before": [REP] * 2, "new": [REP] * 2}))
    assert diff.not_compared == (
        "baseline has no metric 'lock_polls' for variant 'before': no comparison for it",
        "baseline has no variant 'new': no comparison for it",
        "baseline variant 'gone' is not in this run: no comparison for it",
    )
    assert {ch.variant for ch in diff.changes} == {"before"}
    assert "lock_polls" not in {ch.metric for ch in diff.changes}


def test_many_removed_variants_are_counted_not_each_listed():
    previous = Previous("old.json", "magna", {f"v{i}": [REP] for i in range(25)})
    diff = changes(previous, comparison({"before": [REP]}))
    assert len(diff.not_compared) == 1 + baseline.MAX_NAMED + 1
    assert diff.not_compared[-1] == "15 more baseline variants are not in this run"


def test_regression_metrics_are_parsed_and_checked():
    assert regression_metrics("busy_rate, latency_p95_s") == ("busy_rate", "latency_p95_s")
    with pytest.raises(ValueError, match="unknown metric 'busy_rat'"):
        regression_metrics("busy_rate,busy_rat")
    with pytest.raises(ValueError, match="'messages' has no better or worse direction"):
        regression_metrics("messages")
    with pytest.raises(ValueError, match="unknown metric ''"):
        regression_metrics("busy_rate,")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
VALID = results(before={"replications": [REP, REP]}, after={"replications": [REP]})
EXTREME = [1.7e308, -1.7e308, 10**400, -(10**20), 1e15, -1e15, 1e-30, 3e-30, 1e-160, 5e-324, 0, -0.0]


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


@st.composite
def baseline_texts(draw) -> str:
    """A valid baseline with one value anywhere replaced by arbitrary JSON (NaN included), or raw text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=30))
    data = json.loads(json.dumps(VALID))
    path = draw(st.sampled_from(list(_paths(data))))
    value = draw(JSON | st.sampled_from([float("nan"), float("inf"), -float("inf"), *EXTREME]))
    if not path:
        return json.dumps(value)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(data)  # NaN and Infinity are written the way Python's json writes them


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_any_baseline_file_loads_or_is_one_baseline_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "results.json"
    path.write_text(data.draw(baseline_texts()))
    try:
        previous = load_previous(path)
    except BaselineError as error:
        assert "\n" not in str(error)
        return
    for reps in previous.variants.values():
        # null (a metric that did not apply) reads as NaN; nothing else that is not finite gets through
        assert reps and all(type(v) is float and not math.isinf(v) for rep in reps for v in rep.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid baseline never gives a RuntimeWarning (an overflow, a 0/0)
        diff = changes(previous, comparison({"before": [REP, {**REP, "busy_rate": 0.5}], "after": [REP] * 3}))
    applicable = [ch for ch in diff.changes if ch.verdict != NOT_APPLICABLE]
    assert all(math.isfinite(x) for ch in applicable for x in (ch.old, ch.new, ch.difference.low, ch.difference.high))


@pytest.mark.parametrize("value", [1e15, -1e15, 1e-30, -3e-30, 0])
def test_values_at_the_bounds_compare_without_warnings_or_nan(value):
    old = {"before": [{**REP, "busy_rate": value}, {**REP, "busy_rate": value * 3}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diff = changes(Previous("old.json", "magna", old), comparison({"before": [{**REP, "busy_rate": 0.0}] * 2}))
    (busy,) = [ch for ch in diff.changes if ch.metric == "busy_rate"]
    assert all(math.isfinite(x) for x in (busy.old, busy.new, busy.difference.low, busy.difference.high))


@pytest.mark.parametrize(
    "values", [[10**400], [1.7e308, 1.7e308], [1.7e308, -1.7e308]], ids=["401 digits", "1.7e308", "±1.7e308"]
)
def test_the_attackers_extreme_baselines_are_one_line_exit_2_before_any_simulation(tmp_path, capsys, values):
    from sim.cli import main

    magna = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "magna.toml")
    reps = [{**REP, "busy_rate": v} for v in values]
    path = write(tmp_path, json.dumps(results(before={"replications": reps}, after={"replications": reps})))
    out = tmp_path / "out"
    args = ["compare", magna, "--baseline", str(path), "--fail-on-regression", "busy_rate", "--out", str(out)]
    assert main([*args, "--quiet", "--processes", "1", "--replications", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "before.replications[0].busy_rate is beyond ±1e+15" in err
    assert not out.exists()
