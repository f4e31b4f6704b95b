"""p-values, Holm–Bonferroni over a comparison's verdict table, intervals cut at a metric's bounds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.metrics.catalog import METRICS
from sim.metrics.comparison import (
    BETTER,
    EQUIVALENT,
    NOT_APPLICABLE,
    SAME,
    WORSE,
    Judgement,
    constant_metrics,
    holm_adjusted,
    verdict,
)
from sim.metrics.meaningful import Margin
from sim.metrics.stats import Estimate, holm, holm_levels, mean_ci, paired_difference, paired_p_value


def test_paired_p_value_is_the_paired_t_test():
    a, b = [9.0, 8.5, 7.0, 8.0], [10.0, 10.0, 9.0, 9.5]
    assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)


def test_paired_p_value_without_spread_is_decided_exactly():
    assert paired_p_value([3.0, 3.0, 3.0], [3.0, 3.0, 3.0]) == 1.0  # identical samples
    assert paired_p_value([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]) == 1.0
    assert paired_p_value([4.0, 5.0, 6.0], [3.0, 4.0, 5.0]) == 0.0  # a constant non-zero difference
    assert paired_p_value([4.0], [3.0]) == 1.0  # one pair: no spread to judge by
    assert math.isnan(paired_p_value([math.nan, math.nan], [1.0, 2.0]))  # nothing to pair


def test_holm_rejects_in_order_until_the_first_p_value_above_its_step():
    # m = 4, alpha 0.05: sorted 0.005 ≤ 0.05/4, 0.01 ≤ 0.05/3, then 0.03 > 0.05/2: stop (0.04 too)
    assert holm([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]
    # every p below 0.05, yet Holm keeps only what survives its step
    assert holm([0.012, 0.013, 0.04]) == [True, True, True]  # 0.012 ≤ 0.0167, 0.013 ≤ 0.025, 0.04 ≤ 0.05
    assert holm([0.02, 0.03, 0.04]) == [False, False, False]  # 0.02 > 0.05/3
    assert holm([math.nan, 0.01, 0.02]) == [False, True, True]  # NaN is not part of the family (m = 2)


def reps(values, metric="busy_rate"):
    return [{metric: v} for v in values]


def test_a_verdict_is_significant_only_if_holm_keeps_it_and_shows_the_interval_holm_judged_it_by():
    old = reps([0.30, 0.32, 0.31, 0.29])
    strong = verdict("a", "base", "busy_rate", reps([0.10, 0.12, 0.11, 0.09]), old)  # constant −0.2: p = 0
    weak = verdict("b", "base", "busy_rate", reps([0.27, 0.31, 0.28, 0.28]), old)
    assert weak.difference.excludes_zero() and 0.01 < weak.p_value < 0.05  # alone, at 95 %: significant
    family = [strong, weak] + [verdict(f"n{k}", "base", "busy_rate", old, old) for k in range(3)]
    adjusted = holm_adjusted(family)
    assert [v.significant for v in adjusted] == [True, False, False, False, False]
    assert [v.verdict for v in adjusted[:2]] == [BETTER, SAME]
    # Holm tested the weak one second of 4 (the identical pairs' p = 1 make m = 5): at 0.05 / 4, so its
    # interval is the 98.75 % one, which holds 0 — never "[-0.038, -0.002] … no significant difference".
    shown = adjusted[1]
    assert shown.p_value == weak.p_value and shown.confidence == pytest.approx(1 - 0.05 / 4)
    assert shown.difference.mean == weak.difference.mean and shown.difference.low < 0 < shown.difference.high
    expected = mean_ci([-0.03, -0.01, -0.03, -0.01], confidence=1 - 0.05 / 4)
    assert (shown.difference.low, shown.difference.high) == pytest.approx((expected.low, expected.high))
    assert adjusted[0].confidence == pytest.approx(1 - 0.05 / 5)  # the first of 5 tests: at 0.05 / 5


def test_holm_levels_are_the_steps_until_the_first_failure_then_that_step():
    # sorted 0.005 (0.05/4), 0.01 (0.05/3), 0.03 fails at 0.05/2, so 0.04 is judged at 0.05/2 too
    assert holm_levels([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.05 / 3, 0.05 / 2, 0.05 / 2, 0.05 / 4])
    levels = holm_levels([math.nan, 0.5])
    assert math.isnan(levels[0]) and levels[1] == pytest.approx(0.05)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=6).map(lambda xs: [x + 0.0 for x in xs]),
        min_size=1,
        max_size=8,
    ),
    st.integers(3, 8),
)
def test_every_shown_interval_excludes_zero_exactly_when_its_verdict_is_significant(shifts, n):
    """Whatever the family, the interval beside a verdict and the verdict never disagree."""
    rng = np.random.default_rng(len(shifts) * 31 + n)
    base = [float(x) for x in rng.normal(10, 1, n)]
    family = [
        verdict(f"v{i}", "base", "latency_p95_s", reps([b + s[j % len(s)] + float(rng.normal(0, 0.3))
                for j, b in enumerate(base)], "latency_p95_s"), reps(base, "latency_p95_s"))
        for i, s in enumerate(shifts)
    ]  # fmt: skip
    for v in holm_adjusted(family):
        d = v.difference
        if abs(d.low) > 1e-9 and abs(d.high) > 1e-9:  # not on the boundary, where floats may round either way
            assert v.significant == d.excludes_zero(), v
        assert v.confidence >= 0.95 - 1e-12
        if v.verdict in (BETTER, WORSE):
            assert v.significant and not (-v.margin <= d.low and d.high <= v.margin)


def test_a_difference_within_its_minimal_meaningful_effect_is_no_meaningful_difference_however_significant():
    base = reps([27.478, 27.480, 27.479], "first_reply_p95_s")
    later = reps([27.480, 27.482, 27.481], "first_reply_p95_s")  # +2 ms in every replication: p = 0
    [v] = holm_adjusted([verdict("after", "before", "first_reply_p95_s", later, base)])
    assert v.significant and v.margin == 0.1 and v.verdict == EQUIVALENT  # 100 ms for a time
    counts = verdict(
        "after", "before", "crm_calls", reps([1000.5, 1001.5], "crm_calls"), reps([1000.0, 1001.0], "crm_calls")
    )
    assert counts.margin == pytest.approx(10.005) and counts.verdict == EQUIVALENT  # 1 % of 1000.5
    # set by the user: 1 ms is meaningful, so +2 ms is a finding again
    strict = verdict(
        "after", "before", "first_reply_p95_s", later, base, Margin(metric="first_reply_p95_s", value=1e-3)
    )
    assert holm_adjusted([strict])[0].verdict == WORSE
    # an interval that holds 0 but reaches past the margin is not shown to be small: no significant difference
    wide = verdict("after", "before", "latency_p95_s", reps([30, 31, 29], "latency_p95_s"),
                   reps([30, 30.5, 30.2], "latency_p95_s"))  # fmt: skip
    assert wide.verdict == SAME
    # a relative margin of a baseline of 0 is 0: any significant change from nothing matters
    from_nothing = verdict("after", "before", "busy_rate", reps([0.01, 0.02, 0.015]), reps([0.0] * 3))
    assert from_nothing.margin == 0 and holm_adjusted([from_nothing])[0].verdict == WORSE


def test_many_variants_of_pure_noise_are_not_called_significant():
    """Ten variants × every metric, all the same process: unadjusted, some pairs look significant; Holm, none."""
    rng = np.random.default_rng(7)
    names = [m for m in METRICS]

    def noise():
        return [{m: float(rng.normal(100, 10)) for m in names} for _ in range(10)]

    baseline = noise()
    raw = [verdict(f"v{k}", "base", m, variant, baseline) for k in range(10) for variant in [noise()] for m in names]
    assert sum(v.significant for v in raw) >= 5  # about 5 % of 220 pairs at 95 % each
    adjusted = holm_adjusted(raw)
    assert [v for v in adjusted if v.significant] == []
    assert {v.verdict for v in adjusted} == {SAME}
    real = [{**rep, "busy_rate": rep["busy_rate"] - 30} for rep in baseline]  # one real effect survives
    kept = holm_adjusted([*raw, verdict("fix", "base", "busy_rate", real, baseline)])
    assert [(v.variant, v.verdict) for v in kept if v.significant] == [("fix", BETTER)]


def test_a_metric_that_does_not_apply_has_no_verdict():
    v = verdict(
        "after",
        "before",
        "cache_hit_ratio",
        reps([0.6, 0.7], "cache_hit_ratio"),
        reps([math.nan] * 2, "cache_hit_ratio"),
    )
    assert (v.verdict, math.isnan(v.p_value), v.difference.n) == (NOT_APPLICABLE, True, 0)
    assert holm_adjusted([v])[0].verdict == NOT_APPLICABLE
    assert Judgement.NOT_APPLICABLE == "not applicable" and Judgement.SAME == "no significant difference"


def test_a_level_interval_is_cut_at_the_metrics_bounds():
    counts = mean_ci([0, 0, 0, 3], bounds=(0.0, math.inf))  # mean 0.75, sd 1.5, t-interval 0.75 ± 3.1824 × 1.5 / 2
    assert counts.mean == 0.75 and counts.low == 0.0 and counts.high == pytest.approx(3.1368, abs=1e-4)
    share = mean_ci([1.0, 1.0, 1.0, 0.7], bounds=(0.0, 1.0))
    assert share.high == 1.0 and share.low == pytest.approx(0.925 - 0.23868, abs=1e-4)
    assert mean_ci([0, 0, 0, 3]).low == pytest.approx(-1.6368, abs=1e-4)  # unbounded by default


def test_a_paired_difference_is_never_cut():
    assert paired_difference([0, 0, 0, 3], [0, 0, 0, 0]).low < 0


def test_estimates_leave_out_the_replications_where_a_metric_does_not_apply():
    assert mean_ci([1.0, math.nan, 3.0]) == mean_ci([1.0, 3.0])
    e = mean_ci([math.nan, math.nan])
    assert (e.n, e.applies, math.isnan(e.low)) == (0, False, True)
    assert Estimate(1.0, 1.0, 1.0, 1).applies


def test_constant_metrics_are_identical_in_every_replication_of_every_variant():
    per_rep = {
        "before": [{"messages": 3, "busy_rate": 0.3, "cache_hit_ratio": math.nan}] * 2,
        "after": [{"messages": 3, "busy_rate": 0.0, "cache_hit_ratio": math.nan}] * 2,
    }
    assert constant_metrics(per_rep) == ("messages", "cache_hit_ratio")
