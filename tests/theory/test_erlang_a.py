"""Customers who wait for answers against the M/M/1+M (Erlang-A) queue, solved numerically.

With one worker, service rate μ and patience rate θ, the number of customers in the system is a
birth–death chain: births at λ, deaths at μ + (n − 1)θ in state n ≥ 1 (the one in service is not
impatient, the n − 1 waiting are). Its stationary law gives the mean queue length L_q; by Little's
law the mean wait of an arrival (until its service starts or it leaves) is L_q/λ, and the share
who leave is θ·L_q/λ. The simulated values must hold them inside their 95 % CIs.
"""

import functools
import math
import multiprocessing
from pathlib import Path

import pytest

from sim.metrics.stats import mean_ci
from sim.scenario import load_scenario
from sim.world.model import simulate

SCENARIO = Path(__file__).with_name("erlang-a.toml")


def erlang_a(lam: float, mu: float, theta: float, states: int = 2000) -> tuple[float, float]:
    """(probability an arrival abandons, mean wait of an arrival) of M/M/1+M, from the truncated chain."""
    weights = [1.0]
    for n in range(1, states):
        weights.append(weights[-1] * lam / (mu + (n - 1) * theta))
    total = sum(weights)
    queue = sum((n - 1) * w for n, w in enumerate(weights) if n >= 1) / total
    return theta * queue / lam, queue / lam


def test_without_impatience_the_chain_is_the_mm1_queue():
    lam, mu = 1 / 40, 1 / 30
    rho = lam / mu
    abandon, wait = erlang_a(lam, mu, 0.0)
    assert abandon == 0.0
    assert wait == pytest.approx(rho**2 / (1 - rho) / lam)  # L_q = ρ²/(1 − ρ)


def test_an_erlang_a_value_checked_by_hand():
    # λ = μ = θ = 1: deaths n in state n, so the weights are 1/n!, their total e, and
    # Σ (n − 1)/n! = e − (e − 1) = 1: L_q = 1/e, a wait of 1/e and an abandonment of 1/e.
    abandon, wait = erlang_a(1.0, 1.0, 1.0, states=60)
    assert wait == pytest.approx(1 / math.e)
    assert abandon == pytest.approx(1 / math.e)


def per_replication(run):
    """(share of sessions that left unserved, mean wait until served or gone) of one run."""
    records = {r.message: r for r in run.records}
    waits, left = [], 0
    for talk in run.conversations:
        (message,) = talk.messages
        if talk.dropped:
            left += 1
            waits.append(talk.gave_up_at - talk.started)
        else:
            waits.append(records[message].queue_wait)
    return left / len(run.conversations), sum(waits) / len(waits)


def _run(scenario, replication):
    return simulate(scenario, scenario.variants[0], replication)


@pytest.mark.slow
def test_closed_loop_customers_with_impatience_are_an_erlang_a_queue():
    scenario = load_scenario(SCENARIO)
    # Whole runs, not digests: the test reads each conversation (`RunResult.conversations`) and record.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        runs = pool.map(functools.partial(_run, scenario), range(scenario.replications))
    assert all(run.violations == () for run in runs)
    lam, mu, theta = 120 / 3600, 1 / 30, 1 / 60
    abandon, wait = erlang_a(lam, mu, theta)
    measured = [per_replication(run) for run in runs]
    abandoned = mean_ci([a for a, _ in measured])
    waited = mean_ci([w for _, w in measured])
    assert abandoned.low <= abandon <= abandoned.high, (abandoned, abandon)
    assert waited.low <= wait <= waited.high, (waited, wait)
    # The model is in the regime it claims: many leave, and the CI is tight enough to tell.
    assert 0.1 < abandon < 0.5 and abandoned.high - abandoned.low < 0.03, abandoned
