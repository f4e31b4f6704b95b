"""Large logs: parameters and the goodness-of-fit test see the same observations, so half a million
draws of a family keep that family; sub-millisecond observations are fitted, not called too few."""

from __future__ import annotations

import numpy as np
import pytest

from sim.fit import mle
from sim.fit.latency import Family, fit, why_not_fitted

DRAWS = {
    Family.LOGNORMAL: lambda rng, n: rng.lognormal(np.log(9.0), 0.35, n),
    Family.GAMMA: lambda rng, n: rng.gamma(16.0, 0.5625, n),
    Family.WEIBULL: lambda rng, n: rng.weibull(1.8, n) * 10.0,
}


@pytest.mark.parametrize("family", list(DRAWS))
def test_half_a_million_exact_draws_keep_their_family(family):
    """~500 k calls drawn exactly from a lognormal were rejected (parameters from a 20,000-row subsample,
    the KS test on every row) and resampled."""
    samples = np.round(DRAWS[family](np.random.default_rng(4), 500_000), 6)  # the log's µs resolution
    fitted = fit("CRM latency", samples)
    assert fitted.chosen is not None and fitted.chosen.family is family
    assert fitted.chosen.ks_p >= 0.05


def test_the_estimators_agree_with_scipy_on_every_family():
    from scipy import stats

    rng = np.random.default_rng(5)
    x = rng.gamma(3.0, 2.0, 5000)
    assert mle.gamma(x) == pytest.approx(stats.gamma.fit(x, floc=0)[::2], rel=1e-4)
    assert mle.weibull(x) == pytest.approx(stats.weibull_min.fit(x, floc=0)[::2], rel=1e-4)
    sigma, _, median = stats.lognorm.fit(x, floc=0)
    assert mle.lognormal(x) == pytest.approx((sigma, median), rel=1e-6)
    assert mle.exponential(x) == pytest.approx(x.mean())


def test_weights_leave_observations_out():
    x = np.array([1.0, 2.0, 3.0, 1000.0])
    assert mle.exponential(x, np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx(2.0)
    assert mle.lognormal(x, np.array([1.0, 1.0, 1.0, 0.0]))[1] == pytest.approx(6 ** (1 / 3))


def test_three_thousand_sub_millisecond_observations_are_fitted_not_called_too_few():
    """Every value below 1 ms was raised to 1 ms: one value, "too few observations to fit"."""
    samples = np.random.default_rng(6).lognormal(np.log(2e-4), 0.3, 3000)  # Redis round trips, ~0.2 ms
    fitted = fit("Redis round trip", samples)
    assert fitted.raised == 0 and fitted.chosen is not None and fitted.chosen.family is Family.LOGNORMAL
    assert fitted.chosen.distribution.median == pytest.approx(2e-4, rel=0.03)


def test_zeros_are_raised_to_the_smallest_observation_and_a_single_value_is_said_so():
    with_zeros = fit("gap", np.concatenate([np.zeros(10), np.random.default_rng(7).exponential(5, 500)]))
    assert with_zeros.raised == 10 and with_zeros.samples[0] > 0
    constant = fit("gap", np.full(3000, 4e-4))
    assert (
        constant.chosen is None
        and why_not_fitted(constant) == "all 3,000 observations are 0.0004 s: no family has a single value"
    )
    few = fit("gap", np.array([1.0, 2.0]))
    assert why_not_fitted(few) == "too few observations to fit (2, at least 20)"
