"""The study's results model: a flip is found where a case's verdict differs, claims are judged."""

import math

import pytest

from sim.metrics.catalog import METRICS
from sim.metrics.comparison import Judgement, holm_adjusted, verdict
from sim.metrics.sensitivity import CaseResult, Claim, ClaimState, judge_claim, rows
from sim.metrics.thresholds import parse_threshold


def per_rep(busy: list[float], crm: list[float]) -> list[dict[str, float]]:
    """Replications with every metric 1.0 but busy_rate and crm_calls."""
    return [{**dict.fromkeys(METRICS, 1.0), "busy_rate": b, "crm_calls": c} for b, c in zip(busy, crm, strict=True)]


def case(name: str, before: list[dict[str, float]], after: list[dict[str, float]]) -> CaseResult:
    verdicts = holm_adjusted([verdict("after", "before", m, after, before) for m in METRICS])
    return CaseResult(
        name=name, changes=(), replications=len(before), estimates={}, verdicts=tuple(verdicts),
        thresholds=(), claims=(), violations=(),
    )  # fmt: skip


BEFORE = per_rep([0.26, 0.27, 0.25, 0.26], [1000, 1010, 990, 1000])


def test_a_verdict_that_changes_in_one_case_flips_under_that_case_only():
    written = case("as written", BEFORE, per_rep([0.04, 0.05, 0.04, 0.045], [600, 610, 590, 600]))
    light = case("light burst mix", BEFORE, per_rep([0.04, 0.05, 0.04, 0.045], [1000, 1011, 989, 1001]))
    pacing = case("dialog pacing", BEFORE, per_rep([0.30, 0.31, 0.29, 0.30], [600, 612, 590, 601]))
    found = {r.metric: r for r in rows([written, light, pacing])}
    busy, crm = found["busy_rate"], found["crm_calls"]
    assert busy.judgements == (Judgement.BETTER, Judgement.BETTER, Judgement.WORSE)
    assert busy.flips == ("dialog pacing",) and not busy.holds
    assert crm.judgements == (Judgement.BETTER, Judgement.EQUIVALENT, Judgement.BETTER)  # ±1 of 1,000: within 1 %
    assert crm.flips == ("light burst mix",)
    assert found["latency_p95_s"].holds  # identical everywhere: no difference in any case


def test_a_study_of_identical_cases_holds_everywhere():
    after = per_rep([0.04, 0.05, 0.04, 0.045], [600, 610, 590, 600])
    assert all(r.holds for r in rows([case("as written", BEFORE, after), case("again", BEFORE, after)]))


def claim(expression: str) -> Claim:
    return Claim(name=expression, threshold=parse_threshold(expression, ["before", "after"], "before"))


def test_a_change_claim_measures_the_ratio_of_means_and_judges_the_bounds():
    runs = {"before": BEFORE, "after": per_rep([0.04, 0.05, 0.04, 0.045], [600, 610, 590, 600])}
    (fewer,) = judge_claim(claim("change(after.busy_rate) <= -95%"), runs, "before")
    assert fewer.measured == pytest.approx(0.04375 / 0.26 - 1)  # −83 %
    assert fewer.state is ClaimState.FAILS  # even the best bound is far from −95 %
    (modest,) = judge_claim(claim("change(after.busy_rate) <= -50%"), runs, "before")
    assert modest.state is ClaimState.HOLDS


def test_a_claim_whose_interval_straddles_its_limit_is_not_shown_either_way():
    runs = {"before": BEFORE, "after": per_rep([0.005, 0.015, 0.002, 0.018], [1, 1, 1, 1])}
    (below,) = judge_claim(claim("after.busy_rate < 1%"), runs, "before")
    assert below.measured == pytest.approx(0.01) and below.state is ClaimState.UNDECIDED


def test_a_claim_on_a_metric_that_does_not_apply_measures_nothing():
    nan = [{**r, "cache_hit_ratio": math.nan} for r in BEFORE]
    (hit,) = judge_claim(claim("after.cache_hit_ratio >= 75%"), {"before": nan, "after": nan}, "before")
    assert math.isnan(hit.measured) and hit.state is not ClaimState.HOLDS
