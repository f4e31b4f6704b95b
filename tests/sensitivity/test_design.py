"""Which cases a study runs, and the bound on how many."""

import math

import pytest

from sim.core.errors import ArgumentError, ScenarioError
from sim.scenario import load_scenario
from sim.sensitivity.axes import AXES
from sim.sensitivity.design import AS_WRITTEN, MAX_CASES, Design, case_count, parse_axes, plan
from tests.helpers import MAGNA, PEAK_HOUR


@pytest.fixture(scope="module")
def peak():
    return load_scenario(PEAK_HOUR)


def test_one_at_a_time_changes_one_axis_per_case_around_the_scenario_as_written(peak):
    p = plan(peak, Design.ONE_AT_A_TIME, parse_axes("burst-mix,workers"))
    assert [c.name for c in p.cases] == [
        AS_WRITTEN, "light burst mix", "dialog pacing", "half the workers", "double the workers"
    ]  # fmt: skip
    assert p.cases[0].scenario is peak
    half = p.cases[3].scenario
    assert half.workload == peak.workload and [v.workers for v in half.variants] == [20, 20]
    assert all(len(c.changes) == 1 for c in p.cases[1:])


def test_full_runs_every_combination(peak):
    p = plan(peak, Design.FULL, parse_axes("burst-mix,workers"))
    assert len(p.cases) == 9 == case_count(Design.FULL, parse_axes("burst-mix,workers"))
    both = next(c for c in p.cases if c.name == "dialog pacing + double the workers")
    assert both.scenario.workload.burst_gap.low == 40.0 and both.scenario.variants[0].workers == 80
    assert len(both.changes) == 2


def test_more_cases_than_the_limit_are_refused_before_any_run(peak):
    every = tuple(AXES.values())
    alternatives = [len(a.cases) for a in every]
    assert case_count(Design.FULL, every) == math.prod(1 + n for n in alternatives) > MAX_CASES
    total = f"{case_count(Design.FULL, every):,} cases over {len(every)} axes; the limit is {MAX_CASES}"
    with pytest.raises(ArgumentError, match=total):
        plan(peak, Design.FULL, every)
    assert case_count(Design.ONE_AT_A_TIME, every) == 1 + sum(alternatives)


def test_cases_that_change_nothing_are_listed_not_run():
    magna = load_scenario(MAGNA)  # scripted only: no burst mix, population or traffic to vary
    p = plan(magna, Design.ONE_AT_A_TIME, parse_axes("burst-mix,traffic,workers"))
    assert [c.name for c in p.cases] == [AS_WRITTEN, "half the workers", "double the workers"]
    assert p.unchanged == ("light burst mix", "dialog pacing", "half the traffic", "1.5× the traffic")


@pytest.mark.parametrize("text", ["nope", "workers,workers", "", "workers,,traffic"])
def test_unknown_or_repeated_axes_are_refused(text):
    with pytest.raises(ArgumentError, match="--axes"):
        parse_axes(text)


def test_a_case_past_the_run_limits_is_refused_naming_the_case(tmp_path, peak):
    big = load_scenario(PEAK_HOUR)
    from dataclasses import replace

    huge = replace(big, workload=replace(big.workload, customers_per_hour=4_000_000.0), duration=3600.0)
    with pytest.raises(ScenarioError, match="case '1.5× the traffic'.*limit"):
        plan(huge, Design.ONE_AT_A_TIME, parse_axes("traffic"))
