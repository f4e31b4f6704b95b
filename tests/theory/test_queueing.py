"""The simulator against closed forms, with tolerances from the replications' CIs.

Each test runs a bundled scenario that reduces the model to a textbook queue
and requires the closed form to lie inside the simulated 95 % confidence
interval — widened only by a bound derived from the model (the polling delay),
never by a loose constant.
"""

import math

import pytest

from sim.experiment import Records, run_replications
from sim.metrics.stats import mean_ci, paired_difference
from sim.scenario import load_scenario
from tests.helpers import SCENARIOS


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load a = λ/μ."""
    top = offered**c / math.factorial(c) * c / (c - offered)
    return top / (sum(offered**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_formula_matches_a_published_value():
    # c = 2, a = 1: C = (1/2 · 2/1) / (1 + 1 + 1) = 1/3
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


@pytest.fixture(scope="module")
def mm1():
    scenario = load_scenario(SCENARIOS / "theory-mm1.toml")
    return scenario, run_replications(scenario, processes=2, records=Records(keep=True))


def per_replication_mean_response(runs):
    return [sum(r.latency for r in run.records) / len(run.records) for run in runs]


def mean_response(runs):
    return mean_ci(per_replication_mean_response(runs))


@pytest.mark.slow  # with the next: the module-scoped M/M/1 replications
def test_lock_with_fast_polling_is_an_mm1_server(mm1):
    scenario, result = mm1
    lam, mu = 120 / 3600, 1 / 20
    poll = scenario.variant("fast-poll").lock.backoff.delay
    ideal = 1 / (mu - lam)  # 60 s
    # Polling can only add time: at most one poll interval per hand-over, which idles the server too.
    worst = 1 / (1 / (1 / mu + poll) - lam) + poll
    estimate = mean_response(result.runs["fast-poll"])
    assert estimate.low <= worst and estimate.high >= ideal, (estimate, ideal, worst)
    assert all(r.outcome == "answered" for run in result.runs["fast-poll"] for r in run.records)


@pytest.mark.slow
def test_coarse_backoff_costs_measurable_time_over_the_mm1_ideal(mm1):
    _, result = mm1
    fast = per_replication_mean_response(result.runs["fast-poll"])
    coarse = per_replication_mean_response(result.runs["after-backoff"])
    cost = paired_difference(coarse, fast)  # same customers, same service times: only the polling differs
    assert cost.low > 0, cost  # the cost of polling is a finding, not noise


@pytest.mark.slow
def test_worker_pool_is_an_mmc_queue_erlang_c():
    scenario = load_scenario(SCENARIOS / "theory-mmc.toml")
    result = run_replications(scenario, processes=2, records=Records(keep=True))
    runs = result.runs["default"]
    c, lam, mu = 5, 720 / 3600, 1 / 20
    p_wait = erlang_c(c, lam / mu)
    mean_wait = p_wait / (c * mu - lam)
    waited = mean_ci([sum(r.queue_wait > 0 for r in run.records) / len(run.records) for run in runs])
    wait = mean_ci([sum(r.queue_wait for r in run.records) / len(run.records) for run in runs])
    assert waited.low <= p_wait <= waited.high, (waited, p_wait)
    assert wait.low <= mean_wait <= wait.high, (wait, mean_wait)
    assert all(r.lock_attempts == 1 for run in runs for r in run.records)
