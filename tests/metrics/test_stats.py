"""Confidence intervals and verdicts against hand-computed cases."""

import math

import pytest

from sim.metrics.comparison import BETTER, SAME, WORSE, judge_difference
from sim.metrics.stats import Estimate, mean_ci, paired_difference, welch_difference


def test_mean_ci_matches_a_hand_computed_t_interval():
    # mean 4, sample sd sqrt(2.5) = 1.5811, n = 5, t(0.975, 4) = 2.7764
    e = mean_ci([2, 3, 4, 5, 6])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert (e.mean, e.n) == (4.0, 5)
    assert (e.low, e.high) == pytest.approx((4 - half, 4 + half), rel=1e-9)


def test_a_single_replication_has_a_degenerate_interval():
    assert mean_ci([7.0]) == Estimate(7.0, 7.0, 7.0, 1)


def test_paired_difference_uses_per_replication_differences():
    # differences: -1, -2, -3 → mean -2, sd 1, t(0.975, 2) = 4.3027
    e = paired_difference([9, 8, 7], [10, 10, 10])
    half = 4.302652729911275 / math.sqrt(3)
    assert e.mean == -2.0
    assert (e.low, e.high) == pytest.approx((-2 - half, -2 + half), rel=1e-9)


def test_pairing_removes_the_shared_noise_that_an_unpaired_test_sees():
    baseline = [10, 20, 30, 40]
    variant = [9, 19, 29, 39]
    assert paired_difference(variant, baseline).excludes_zero()
    assert not welch_difference(variant, baseline).excludes_zero()


def test_welch_interval_matches_a_hand_computed_case():
    # a: mean 2, var 1 (n=3); b: mean 5, var 4 (n=3); se = sqrt(1/3 + 4/3); dof = 2.9412
    e = welch_difference([1, 2, 3], [3, 5, 7])
    se = math.sqrt(5 / 3)
    dof = (5 / 3) ** 2 / ((1 / 3) ** 2 / 2 + (4 / 3) ** 2 / 2)
    from scipy import stats

    half = stats.t.ppf(0.975, dof) * se
    assert e.mean == -3.0 and e.high == pytest.approx(-3 + half)


def test_verdict_knows_which_direction_is_better():
    down = Estimate(-0.3, -0.4, -0.2, 10)
    assert judge_difference("busy_rate", down) == BETTER
    assert judge_difference("cache_hit_ratio", down) == WORSE
    assert judge_difference("busy_rate", Estimate(0.1, -0.1, 0.3, 10)) == SAME
