"""Thresholds: the three forms and their units parsed, each error one line, and the judgement
against hand-computed (paired) t-intervals."""

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.metrics.stats import mean_ci
from sim.metrics.thresholds import SINGLE_RUN, Form, Op, ThresholdError, judge, parse_threshold

VARIANTS = ["before", "after", "v1.2 fast"]
T3 = 3.182446305284263  # t(0.975, 3): the 95 % interval of 4 replications


def parse(expression, baseline="before"):
    return parse_threshold(expression, VARIANTS, baseline)


@pytest.mark.parametrize(
    "expression, variant, metric, op, limit",
    [
        ("busy_rate<0.01", None, "busy_rate", Op.LT, 0.01),  # the old syntax, unchanged
        ("after.latency_p95_s<60", "after", "latency_p95_s", Op.LT, 60.0),
        ("before.busy_rate>=0.004", "before", "busy_rate", Op.GE, 0.004),
        ("after.latency_p95_s < 60s", "after", "latency_p95_s", Op.LT, 60.0),
        ("after.latency_p95_s <= 500ms", "after", "latency_p95_s", Op.LE, 0.5),
        ("latency_p50_s < 2m", None, "latency_p50_s", Op.LT, 120.0),
        ("latency_p50_s < 2min", None, "latency_p50_s", Op.LT, 120.0),
        ("latency_p99_s < 1.5 h", None, "latency_p99_s", Op.LT, 5400.0),
        ("busy_rate < 1%", None, "busy_rate", Op.LT, 0.01),
        ("after.cache_hit_ratio > 12.5 %", "after", "cache_hit_ratio", Op.GT, 0.125),
        ("crm_calls <= 2", None, "crm_calls", Op.LE, 2.0),
        ("v1.2 fast.busy_rate<1e-3", "v1.2 fast", "busy_rate", Op.LT, 0.001),  # a variant name holding a dot
    ],
)
def test_absolute_thresholds_take_the_unit_of_their_metric(expression, variant, metric, op, limit):
    t = parse(expression)
    assert (t.form, t.variant, t.metric, t.op, t.reference) == (Form.ABSOLUTE, variant, metric, op, None)
    assert t.limit == pytest.approx(limit)


def test_relative_and_change_forms_are_parsed_to_a_factor():
    relative = parse("after.busy_rate <= 0.05 * before.busy_rate")
    assert (relative.form, relative.variant, relative.reference, relative.op) == ("relative", "after", "before", "<=")
    assert relative.limit == relative.factor == 0.05
    assert parse("after.latency_p95_s<=before.latency_p95_s").factor == 1.0  # no `k *`: k = 1
    change = parse("change(after.busy_rate) <= -95%")
    assert (change.form, change.variant, change.reference, change.limit) == ("change", "after", None, -0.95)
    assert change.factor == pytest.approx(0.05)
    assert parse("change(busy_rate) < +10%").variant is None  # every variant but the baseline


@pytest.mark.parametrize(
    "expression, message",
    [
        ("busy_rat<0.01", "unknown metric 'busy_rat'"),
        ("later.busy_rate<0.01", "unknown variant 'later'"),
        ("busy_rate = 0.01", "is not of the form"),
        ("busy_rate < 0.1 < 0.2", "is not of the form"),
        ("< 0.1", "is not of the form"),
        ("after.busy_rate <", "no limit after '<'"),
        ("after.busy_rate < before", "unknown metric 'before'"),
        ("busy_rate < 60s", "a duration fits a metric in seconds (latency_p50_s"),
        ("crm_calls < 5ms", "a duration fits a metric in seconds"),
        ("latency_p95_s < 5%", "a percentage fits a ratio (busy_rate, customers_apologised, cache_hit_ratio"),
        ("crm_calls < 5%", "a percentage fits a ratio"),
        ("latency_p95_s < -5s", "expected a duration such as '100ms'"),
        ("latency_p95_s < 1e3s", "expected a duration such as '100ms'"),
        ("busy_rate < 1e999", "'1e999' is not a finite number"),
        ("busy_rate < " + "9" * 400, "'" + "9" * 200 + "'… (400 characters) is not a finite number"),
        ("after.busy_rate <= 0.5 * after.busy_rate", "compares after with itself"),
        ("after.busy_rate <= 0.5 * before.latency_p95_s", "compares busy_rate with latency_p95_s"),
        ("after.busy_rate <= 0.5 * busy_rate", "name the variant on the right"),
        ("after.busy_rate <= -1 * before.busy_rate", "the factor must be from 0 to 1e+09"),
        # 1e300 × a latency overflowed to inf, d = -inf, its interval NaN: judged breached (exit 1)
        ("after.latency_p95_s <= 1e300 * before.latency_p95_s", "the factor must be from 0 to 1e+09"),
        ("change(after.latency_p95_s) <= 1e300%", "a change above 1e+11 % claims nothing"),
        ("after.busy_rate <= 0.5% * before.busy_rate", "is not of the form"),
        ("change(after.busy_rate) <= -0.5", "a change is a percentage"),
        ("change(after.busy_rate) <= before.busy_rate", "a change is a percentage"),
        ("change(after.busy_rate) <= -150%", "a change below -100 % would need a negative busy_rate"),
        ("change(before.busy_rate) <= -50%", "the baseline's own change is always 0"),
        ("change(after.busy_rat) <= -50%", "unknown metric 'busy_rat'"),
    ],
)
def test_every_nonsense_threshold_is_one_line_naming_it(expression, message):
    with pytest.raises(ThresholdError) as error:
        parse(expression)
    text = str(error.value)
    assert message in text and "\n" not in text and text.startswith(f"threshold {expression.strip()[:200]!r}")


def test_a_change_needs_a_variant_besides_the_baseline():
    with pytest.raises(ThresholdError, match="no variant besides 'only' to compare"):
        parse_threshold("change(busy_rate) <= -50%", ["only"], "only")


def test_a_control_character_in_an_expression_stays_escaped():
    with pytest.raises(ThresholdError) as error:
        parse("busy\x1b[2J_rate<1")
    assert "\x1b" not in str(error.value) and "\\x1b" in str(error.value)


def reps(**columns):
    """variant → per-replication metric dicts, from `variant=[values of latency_p95_s]`."""
    return {v: [{"latency_p95_s": x, "busy_rate": x / 100} for x in values] for v, values in columns.items()}


def test_absolute_threshold_is_judged_on_the_worst_ci_bound():
    data = {"before": [{"busy_rate": x} for x in (0.004, 0.006, 0.010, 0.012)]}  # mean 0.008, sd 0.003651
    below = judge(parse_threshold("busy_rate<1%", ["before"]), data, "before")[0]
    upper = 0.008 + T3 * math.sqrt(40 / 3) / 1000 / 2
    assert (below.bound, below.passed, below.single_run) == ("upper", False, False)  # the mean alone would pass
    assert below.value == pytest.approx(upper)
    assert below.judged == f"busy_rate ≤ {upper * 100:.3g} % (upper 95 % bound)"
    above = judge(parse_threshold("before.busy_rate>=0.001", ["before"]), data, "before")[0]
    assert (above.bound, above.passed, above.op) == ("lower", True, Op.GE)


# Hand-computed paired case: before = 10, 20, 30, 40 and after = 9, 19, 28, 39 seconds. Unpaired, the
# two intervals overlap almost entirely (before 25 ± 20.5); paired, the shared noise cancels.
PAIRED = reps(before=[10, 20, 30, 40], after=[9, 19, 28, 39])


def upper_of_d(k, after=(9, 19, 28, 39), before=(10, 20, 30, 40)):
    return mean_ci([a - k * b for a, b in zip(after, before, strict=True)]).high


def test_a_paired_judgement_decides_where_the_unpaired_intervals_overlap():
    before, after = mean_ci([10, 20, 30, 40]), mean_ci([9, 19, 28, 39])
    assert after.high > before.low  # unpaired: no claim possible
    # d = after − 1·before = -1, -1, -2, -1: mean -1.25, sd 0.5 → upper bound -1.25 + T3 · 0.5 / 2 = -0.4544
    [outcome] = judge(parse("after.latency_p95_s <= before.latency_p95_s"), PAIRED, "before")
    assert outcome.difference.high == pytest.approx(-1.25 + T3 * 0.5 / 2)
    assert outcome.passed and outcome.reference == "before" and outcome.form is Form.RELATIVE
    # shown as the factor k* at which d's upper bound is 0 (Fieller's bound on the ratio): 0.982
    assert upper_of_d(outcome.value) == pytest.approx(0, abs=1e-9) and outcome.value < 1
    assert outcome.judged == "after.latency_p95_s ≤ 0.982 × before.latency_p95_s (upper 95 % bound)"


def test_a_change_is_judged_on_after_minus_one_plus_c_times_before():
    # c = -2 %: d = after − 0.98·before = -0.8, -0.6, -1.4, -0.2: mean -0.75, sd 0.5 → upper +0.0456: breached
    [breached] = judge(parse("change(after.latency_p95_s) <= -2%"), PAIRED, "before")
    assert breached.difference.high == pytest.approx(-0.75 + T3 * 0.5 / 2) and not breached.passed
    # c = -1 %: d = -0.9, -0.8, -1.7, -0.6: mean -1, sd sqrt(0.7 / 3) → upper -0.2314: holds
    [held] = judge(parse("change(after.latency_p95_s) <= -1%"), PAIRED, "before")
    assert held.passed and held.difference.high == pytest.approx(-1 + T3 * math.sqrt(0.7 / 3) / 2)
    # Both show the same bound on the change, between the two limits: -2 % < -1.8 % < -1 %
    assert breached.value == pytest.approx(held.value) and upper_of_d(1 + held.value) == pytest.approx(0, abs=1e-9)
    assert -0.02 < held.value < -0.01 and held.judged == "change ≤ -1.8 % (upper 95 % bound)"


def test_a_change_can_be_judged_upwards_on_the_lower_bound():
    [outcome] = judge(parse("change(after.latency_p95_s) >= -10%"), PAIRED, "before")
    # d = after − 0.9·before = 0, 1, 1, 3: mean 1.25, sd 1.258 → lower 1.25 − T3 · 1.258 / 2 = -0.752: breached
    assert outcome.bound == "lower" and not outcome.passed
    assert outcome.difference.low == pytest.approx(1.25 - T3 * math.sqrt(19 / 12) / 2)
    assert mean_ci([a - (1 + outcome.value) * b for a, b in PAIRS]).low == pytest.approx(0, abs=1e-9)
    assert outcome.value < -0.10 and outcome.judged == "change ≥ -24.8 % (lower 95 % bound)"


PAIRS = list(zip((9, 19, 28, 39), (10, 20, 30, 40), strict=True))


def test_a_change_without_a_variant_applies_to_every_variant_but_the_baseline():
    data = reps(before=[10, 20, 30, 40], after=[9, 19, 28, 39], other=[5, 10, 15, 20])
    outcomes = judge(parse_threshold("change(latency_p95_s) <= -1%", [*data], "before"), data, "before")
    assert [(o.variant, o.passed) for o in outcomes] == [("after", True), ("other", True)]
    assert outcomes[1].value == pytest.approx(-0.5)  # exactly half in every replication: the bound is -50 %
    assert outcomes[1].judged == "change ≤ -50.0 % (upper 95 % bound)"


def test_a_reference_not_clearly_above_zero_shows_the_paired_difference_itself():
    data = {"before": [{"busy_rate": x} for x in (0.0, 0.01, 0.0)], "after": [{"busy_rate": x} for x in (0, 0.03, 0)]}
    [outcome] = judge(parse("after.busy_rate <= 0.05 * before.busy_rate"), data, "before")
    d = [0.0, 0.03 - 0.05 * 0.01, 0.0]  # before's mean 0.0033 is inside its own ±0.0143: no bound on the ratio
    upper = sum(d) / 3 + 4.302652729911275 * statistics.stdev(d) / math.sqrt(3)  # t(0.975, 2)
    assert not outcome.passed and outcome.value == pytest.approx(upper)
    assert outcome.judged == f"after.busy_rate − 0.05 × before.busy_rate ≤ {upper * 100:.3g} % (upper 95 % bound)"
    zero = {"before": [{"busy_rate": 0.0}] * 3, "after": [{"busy_rate": 0.0}] * 3}  # 0 ≤ 0.05 × 0, but no ratio
    assert not judge(parse("after.busy_rate <= 0.05 * before.busy_rate"), zero, "before")[0].applicable


def test_the_largest_factor_is_judged_without_overflow():
    [outcome] = judge(parse("after.latency_p95_s <= 1e9 * before.latency_p95_s"), PAIRED, "before")
    assert outcome.passed and math.isfinite(outcome.value) and math.isfinite(outcome.difference.high)
    [upwards] = judge(parse("after.latency_p95_s >= 1e9 * before.latency_p95_s"), PAIRED, "before")
    assert not upwards.passed


def test_a_single_run_claims_no_bound_and_says_so():
    one = reps(before=[40], after=[30])
    [absolute] = judge(parse("after.latency_p95_s < 35s"), one, "before")
    assert absolute.single_run and absolute.passed and absolute.value == 30 and absolute.note == SINGLE_RUN
    assert absolute.judged == f"latency_p95_s = 30 s ({SINGLE_RUN})"
    [change] = judge(parse("change(after.latency_p95_s) <= -20%"), one, "before")
    assert change.single_run and change.passed and change.judged == f"change = -25.0 % ({SINGLE_RUN})"
    four = reps(before=[40, 40, 40, 40], after=[30, 30, 30, 31])
    assert not judge(parse("after.latency_p95_s < 35s"), four, "before")[0].single_run


pieces = st.sampled_from(
    ["change(", ")", "after.", "before.", "v1.2 fast.", "busy_rate", "latency_p95_s", "crm_calls", "<", "<=", ">=",
     "*", "0.05", "-95", "1e999", "%", "s", "ms", "2m", "h", " ", ".", "-", "\x1b", "é"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=10).map("".join))
def test_any_expression_parses_or_is_refused_in_one_line(expression):
    try:
        threshold = parse(expression)
    except ThresholdError as error:
        assert "\n" not in str(error) and "\x1b" not in str(error)
    else:
        assert math.isfinite(threshold.limit) and threshold.metric in {"busy_rate", "latency_p95_s", "crm_calls"}
