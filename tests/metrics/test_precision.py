"""The stopping rule of `--precision` on numbers: half-widths, batch counts, stop or continue."""

import math

import pytest

from sim.metrics.precision import (
    BATCH,
    FIRST_STAGE,
    PrecisionError,
    Reason,
    Status,
    Target,
    assess,
    half_width,
    next_count,
    parse_targets,
)
from sim.metrics.thresholds import judge, parse_threshold

T4 = 2.7764451051977987  # Student t, 97.5 % quantile, 4 degrees of freedom
T1 = 12.706204736174698  # … 1 degree of freedom


def test_the_half_width_is_t_times_the_standard_error():
    # 1..5: mean 3, s = sqrt(2.5), so t(4) · s / √5 = 2.7764 · 0.7071 = 1.9632
    assert half_width([1, 2, 3, 4, 5]) == pytest.approx(T4 * math.sqrt(2.5) / math.sqrt(5), rel=1e-12)
    assert half_width([1, 2, 3, 4, 5]) == pytest.approx(1.963243, abs=1e-6)


def test_a_half_width_leaves_out_what_does_not_apply():
    assert half_width([1.0, math.nan, 3.0]) == pytest.approx(T1 * math.sqrt(2) / math.sqrt(2))


def test_identical_values_have_exactly_zero_half_width_and_one_value_has_none():
    assert half_width([0.1, 0.1, 0.1]) == 0.0  # numpy's std of these is 1.7e-17, not 0
    assert half_width([4.0]) == math.inf
    assert half_width([math.nan, 4.0, math.nan]) == math.inf


def test_batches_are_a_first_stage_then_fixed_steps_capped_at_the_maximum():
    assert (FIRST_STAGE, BATCH) == (5, 5)
    counts, done = [], 0
    while done < 17:
        done = next_count(done, 17)
        counts.append(done)
    assert counts == [5, 10, 15, 17]
    assert next_count(0, 3) == 3


def _reps(before, after, metric="busy_rate"):
    return {"before": [{metric: x} for x in before], "after": [{metric: x} for x in after]}


def test_a_paired_difference_narrower_than_its_target_stops_and_a_wider_one_continues():
    base = [0.10, 0.20, 0.30, 0.40, 0.50]
    reps = _reps(base, [b + d for b, d in zip(base, [0.01, 0.02, 0.03, 0.04, 0.05], strict=True)])
    # differences 0.01…0.05: half-width 0.019632
    met = assess([Target(metric="busy_rate", half_width=0.02)], reps, "before", [], maximum=100)
    assert [(w.variant, w.status) for w in met.watched] == [("after", Status.MET)]
    assert met.watched[0].half_width == pytest.approx(0.0196324, abs=1e-7)
    assert met.finished and met.reason is Reason.MET and met.replications == 5
    wide = assess([Target(metric="busy_rate", half_width=0.019)], reps, "before", [], maximum=100)
    assert wide.watched[0].status is Status.OPEN and not wide.finished


def test_at_the_maximum_it_stops_and_names_what_is_still_too_wide():
    reps = _reps([0.0] * 5, [0.01, 0.02, 0.03, 0.04, 0.05])
    s = assess([Target(metric="busy_rate", half_width=0.001)], reps, "before", [], maximum=5)
    assert s.finished and s.reason is Reason.MAXIMUM
    assert [(w.variant, w.metric) for w in s.still_open] == [("after", "busy_rate")]


def test_differences_that_are_all_identical_stop_at_the_first_stage():
    levels = (3, 5, 2, 8, 4)  # the levels differ run to run; the paired difference is always +1
    reps = {"before": [{"crm_calls": x} for x in levels], "after": [{"crm_calls": x + 1} for x in levels]}
    s = assess([Target(metric="crm_calls", half_width=1e-9)], reps, "before", [], maximum=100)
    assert s.watched[0].half_width == 0.0
    assert s.finished and s.reason is Reason.MET and s.replications == FIRST_STAGE


def test_a_metric_that_never_applies_is_not_waited_for():
    reps = _reps([math.nan] * 5, [math.nan] * 5, "cache_hit_ratio")
    s = assess([Target(metric="cache_hit_ratio", half_width=0.01)], reps, "before", [], maximum=100)
    assert s.watched[0].status is Status.NOT_APPLICABLE and s.finished


def test_a_lone_variant_is_watched_on_its_own_level():
    s = assess(
        [Target(metric="busy_rate", half_width=2.0)],
        {"only": [{"busy_rate": x} for x in (1, 2, 3, 4, 5)]},
        "only",
        [],
        100,
    )
    assert [(w.variant, w.half_width) for w in s.watched] == [("only", pytest.approx(1.963243, abs=1e-6))]
    assert s.finished


def _outcomes(expression, reps):
    return judge(parse_threshold(expression, list(reps), "before"), reps, "before")


@pytest.mark.parametrize(
    ("after", "decided"),
    [
        ([0.001, 0.002, 0.003, 0.002, 0.001], True),  # clearly below 1 %: met
        ([0.05, 0.06, 0.07, 0.06, 0.05], True),  # clearly above: breached
        ([0.0, 0.02, 0.0, 0.02, 0.01], False),  # the interval straddles 1 %
        ([0.001], False),  # one run: no interval, never decided
    ],
)
def test_a_threshold_is_decided_when_its_interval_is_clearly_on_one_side(after, decided):
    reps = _reps([0.5] * len(after), after)
    outcomes = _outcomes("after.busy_rate<1%", reps)
    s = assess([], reps, "before", outcomes, maximum=100)
    assert [(w.variant, w.metric, w.target) for w in s.watched] == [("after", "busy_rate", None)]
    assert s.watched[0].status is (Status.DECIDED if decided else Status.OPEN)


def test_a_paired_threshold_is_decided_on_the_paired_difference():
    reps = _reps([0.10, 0.20, 0.30, 0.40, 0.50], [0.01, 0.02, 0.03, 0.04, 0.06])
    assert assess([], reps, "before", _outcomes("change(after.busy_rate) <= -50%", reps), 100).finished
    assert not assess([], reps, "before", _outcomes("change(after.busy_rate) <= -88.8%", reps), 100).finished


def test_a_decided_threshold_ends_its_metrics_precision_target():
    reps = _reps([0.5] * 5, [0.001, 0.004, 0.0, 0.003, 0.002])
    target = Target(metric="busy_rate", half_width=1e-6)
    assert not assess([target], reps, "before", [], 100).finished
    s = assess([target], reps, "before", _outcomes("after.busy_rate<1%", reps), 100)
    assert [w.status for w in s.watched] == [Status.DECIDED]
    assert s.finished and s.reason is Reason.DECIDED


def test_targets_are_read_in_the_metrics_units():
    targets = parse_targets("busy_rate=0.2%, latency_answered_p95_s=500ms,redis_commands=100")
    assert [(t.metric, t.half_width) for t in targets] == [
        ("busy_rate", 0.002),
        ("latency_answered_p95_s", 0.5),
        ("redis_commands", 100.0),
    ]
    assert parse_targets("latency_p95_s=1.5")[0].half_width == 1.5


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("busy=0.1,nonsense=1", "unknown metric 'nonsense'"),
        ("busy_rate=0", "must be a finite number above 0"),
        ("busy_rate=-0.1", "must be a finite number above 0"),
        ("busy_rate=1e999", "not a finite number"),
        ("busy_rate=0.1,busy_rate=0.2", "busy_rate has two targets"),
        ("busy_rate", "expected METRIC=HALF_WIDTH"),
        ("latency_p95_s=2%", "a percentage fits a ratio"),
        ("busy_rate=1s", "a duration fits a metric in seconds"),
        ("latency_p95_s=soon", "expected a number"),
    ],
)
def test_a_bad_target_is_one_line_naming_it(text, says):
    with pytest.raises(PrecisionError, match=says) as error:
        parse_targets(text)
    assert "\n" not in str(error.value)


def test_a_threshold_that_does_not_apply_is_decided_not_waited_for_to_the_maximum():
    # A change from 0 cannot become defined by running more replications of the same story (before: 0 busy).
    reps = _reps([0.0] * 5, [0.0, 0.01, 0.0, 0.02, 0.0])
    [outcome] = _outcomes("change(after.busy_rate) >= -50%", reps)
    assert not outcome.applicable and not outcome.passed
    assert assess([], reps, "before", [outcome], 100).finished
