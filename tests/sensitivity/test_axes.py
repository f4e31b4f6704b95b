"""Each registered case does what its words say: the numbers in the transformed scenario."""

from dataclasses import replace

import numpy as np
import pytest

from sim.core.distributions import (
    ChoiceCount,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Mixture,
    Uniform,
    Weibull,
)
from sim.scenario import load_scenario
from sim.sensitivity.axes import AXES, Axis, Case, register
from sim.sensitivity.spread import spread
from tests.helpers import MAGNA, PEAK_HOUR


def case(axis: str, name: str) -> Case:
    return next(c for c in AXES[axis].cases if c.name == name)


@pytest.fixture(scope="module")
def peak():
    return load_scenario(PEAK_HOUR)


def test_light_burst_mix_weights_sizes_1_to_5_as_80_15_4_08_02(peak):
    light = case("burst-mix", "light burst mix").transform(peak)
    assert light.workload.burst_size == ChoiceCount((1, 2, 3, 4, 5), (0.80, 0.15, 0.04, 0.008, 0.002))
    assert light.workload.burst_size.mean() == pytest.approx(1.262)
    assert light.workload.burst_gap == peak.workload.burst_gap  # only the mix changes
    assert light.variants == peak.variants


def test_dialog_pacing_draws_follow_ups_40_to_90_s_after_the_previous_message(peak):
    paced = case("burst-mix", "dialog pacing").transform(peak)
    assert paced.workload.burst_gap == Uniform(40.0, 90.0)
    assert paced.workload.burst_size == peak.workload.burst_size


def test_a_scripted_story_has_no_burst_mix_to_change():
    magna = load_scenario(MAGNA)
    for c in AXES["burst-mix"].cases:
        assert c.transform(magna) == magna


def test_worker_cases_halve_and_double_every_variants_workers(peak):
    assert [v.workers for v in peak.variants] == [40, 40]
    assert [v.workers for v in case("workers", "half the workers").transform(peak).variants] == [20, 20]
    assert [v.workers for v in case("workers", "double the workers").transform(peak).variants] == [80, 80]
    one = replace(peak, variants=tuple(replace(v, workers=1) for v in peak.variants))
    assert [v.workers for v in case("workers", "half the workers").transform(one).variants] == [1, 1]


def test_latency_spread_keeps_the_lognormal_median_and_scales_sigma(peak):
    wide = case("latency-spread", "wide latency tails").transform(peak)
    narrow = case("latency-spread", "narrow latency tails").transform(peak)
    for v, w, n in zip(peak.variants, wide.variants, narrow.variants, strict=True):
        for service in ("crm", "llm"):
            old, big, small = (getattr(x.services, service) for x in (v, w, n))
            assert big.median == small.median == old.median
            assert big.sigma == pytest.approx(2 * old.sigma)
            assert small.sigma == pytest.approx(old.sigma / 2)
    # peak-hour's LLM: median 17 s, p95 28 s; twice the spread puts the p95 at 17·(28/17)² = 46.1 s
    assert wide.variants[0].services.llm.p95 == pytest.approx(17 * (28 / 17) ** 2)


@pytest.mark.parametrize(
    "dist",
    [Uniform(8.0, 10.0), Gamma(16.0, 0.5), Exponential(6.0), Weibull(2.0, 10.0)],
    ids=["uniform", "gamma", "exponential", "weibull"],
)
def test_spread_keeps_the_mean_and_moves_the_spread_the_right_way(dist):
    rng = np.random.default_rng(1)
    old_sd = np.std(dist.sample(rng, 200_000))
    for k in (0.5, 2.0):
        changed = spread(dist, k)
        assert changed.mean() == pytest.approx(dist.mean(), rel=1e-9)
        sd = np.std(changed.sample(rng, 200_000))
        assert (sd > 1.5 * old_sd) if k > 1 else (sd < 0.7 * old_sd)


def test_spread_of_the_simple_families_is_exact():
    assert spread(Uniform(8.0, 10.0), 2.0) == Uniform(7.0, 11.0)
    assert spread(Uniform(1.0, 9.0), 2.0) == Uniform(0.0, 13.0)  # no negative latency: the low end stops at 0
    g = spread(Gamma(16.0, 0.5), 2.0)  # coefficient of variation 1/4 → 1/2: shape 4, same mean 8
    assert (g.shape, g.scale) == pytest.approx((4.0, 2.0))
    assert spread(Fixed(3.0), 2.0) == Fixed(3.0)
    assert spread(Empirical((1.0, 2.0, 4.0)), 0.5).values == (1.5, 2.0, 3.0)
    mix = spread(Mixture((0.9, 0.1), (LogNormal(10.0, 20.0), Fixed(30.0))), 2.0)
    assert mix.components == (LogNormal(10.0, 40.0), Fixed(30.0))


def test_returning_customers_halve_and_double_the_population(peak):
    assert case("returning", "more returning customers").transform(peak).workload.population == 2500
    assert case("returning", "fewer returning customers").transform(peak).workload.population == 10000


def test_traffic_scales_the_rate_and_a_daily_curve():
    day = load_scenario(PEAK_HOUR.replace("peak-hour", "full-day"))
    more = case("traffic", "1.5× the traffic").transform(day)
    assert more.workload.hourly_rates == pytest.approx([1.5 * r for r in day.workload.hourly_rates])
    assert more.workload.customers_per_hour == pytest.approx(1.5 * day.workload.customers_per_hour)


def test_transforms_are_pure(peak):
    before = repr(peak)
    for axis in AXES.values():
        for c in axis.cases:
            c.transform(peak)
    assert repr(peak) == before


def test_an_axis_key_is_registered_once_and_must_be_plain():
    with pytest.raises(ValueError, match="registered already"):
        register(AXES["workers"])
    with pytest.raises(ValueError, match="lowercase"):
        Axis(key="Bad Key", name="x", words="x", cases=AXES["workers"].cases)
    with pytest.raises(ValueError, match="distinct"):
        Axis(key="twice", name="x", words="x", cases=(AXES["workers"].cases[0],) * 2)


def test_every_case_changes_peak_hour(peak):
    for axis in AXES.values():
        for c in axis.cases:
            assert c.transform(peak) != peak, c.name


def test_async_workers_change_only_the_worker_model(peak):
    from sim.scenario.model import WorkerModel

    changed = case("worker-model", "async workers").transform(peak)
    assert [v.worker_model for v in changed.variants] == [WorkerModel.ASYNC] * len(peak.variants)
    assert [replace(v, worker_model=WorkerModel.POOL) for v in changed.variants] == list(peak.variants)


def test_timing_cases_jitter_every_sleep_by_5_ms_and_draw_round_trips_1_to_6_ms(peak):
    jittered = case("timing", "timer jitter").transform(peak)
    assert {v.timers.jitter for v in jittered.variants} == {0.005}
    assert {v.redis_rtt for v in jittered.variants} == {v.redis_rtt for v in peak.variants}
    both = case("timing", "jitter and varied round trips").transform(peak)
    assert {v.redis_rtt for v in both.variants} == {Uniform(0.001, 0.006)}


def test_half_the_customers_wait_for_answers_at_the_same_total_rate(peak):
    half = case("waiting", "half wait for answers").transform(peak)
    talk = half.workload.conversations
    assert talk is not None
    assert talk.sessions_per_hour == pytest.approx(peak.workload.customers_per_hour / 2)
    assert half.workload.customers_per_hour == pytest.approx(peak.workload.customers_per_hour / 2)
    assert talk.messages == peak.workload.burst_size  # the same questions, one at a time
    assert (talk.resend, talk.max_nudges) == (0.5, 1)
    most = case("waiting", "most wait for answers").transform(peak)
    assert most.workload.conversations.sessions_per_hour == pytest.approx(0.9 * peak.workload.customers_per_hour)
    assert most.workload.customers_per_hour == pytest.approx(0.1 * peak.workload.customers_per_hour)


def test_a_scripted_story_has_no_customers_to_make_wait():
    magna = load_scenario(MAGNA)
    assert all(c.transform(magna) == magna for c in AXES["waiting"].cases)
