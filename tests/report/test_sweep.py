"""`sim sweep`: grid points as variants, heatmaps, and clean errors for a bad grid."""

import dataclasses
import json
import re

import pytest

from sim.cli import main
from sim.core.distributions import Exponential, Fixed, LogNormal, Mixture, Uniform
from sim.experiment.sweep import grid_scenario, parse_grid
from sim.scenario import ScenarioError, load_scenario
from tests.helpers import MAGNA, PEAK_HOUR, ROOT


def test_grid_points_override_only_their_settings():
    scenario = grid_scenario(load_scenario(MAGNA), parse_grid(["lock.timeout=30s,60s", "lock.backoff.cap=1s"]), "after")
    assert [v.name for v in scenario.variants] == [
        "lock.timeout=30s, lock.backoff.cap=1s",
        "lock.timeout=60s, lock.backoff.cap=1s",
    ]
    first = scenario.variants[0]
    assert (first.lock.timeout, first.lock.backoff.kind, first.lock.backoff.cap, first.lock.backoff.base) == (
        30.0, "exponential", 1.0, 0.1,
    )  # fmt: skip
    assert first.cache.enabled  # inherited from `after`


@pytest.mark.parametrize(
    "grid, message",
    [
        ("lock.timout=30s", "--grid: [lock]timout: unknown key"),
        ("lock.timeout=soon", "--grid: [lock]timeout: expected a duration"),
        ("timeout", "expected KEY=V1,V2"),
    ],
)
def test_bad_grid_is_a_one_line_error(grid, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grid_scenario(load_scenario(MAGNA), parse_grid([grid]))


def test_sweep_writes_a_report_with_heatmaps(tmp_path):
    args = [
        "sweep",
        MAGNA,
        "--variant",
        "after",
        "--grid",
        "lock.timeout=10s,60s",
        "--grid",
        "cache.enabled=true,false",
    ]
    assert main([*args, "--replications", "2", "--out", str(tmp_path), "--quiet", "--processes", "1"]) == 0
    folder = tmp_path / "magna-sweep"
    assert {p.name for p in folder.iterdir()} == {
        ".sim-report", "report.md", "report.html", "results.json",
        "sweep_busy_rate.png", "sweep_latency_p95_s.png", "sweep_redis_commands.png",
    }  # fmt: skip
    points = json.loads((folder / "results.json").read_text())["points"]
    assert points["lock.timeout=10s, cache.enabled=true"]["busy_rate"]["mean"] > 0  # 10 s is too short for Magna
    assert points["lock.timeout=60s, cache.enabled=true"]["busy_rate"]["mean"] == 0
    assert points["lock.timeout=60s, cache.enabled=false"]["crm_calls"]["mean"] == 3


def test_dask_without_a_scheduler_is_bad_input(tmp_path, capsys):
    assert main(["compare", MAGNA, "--out", str(tmp_path), "--executor", "dask", "--quiet"]) == 2
    assert "--executor dask needs --scheduler" in capsys.readouterr().err


@pytest.mark.parametrize(
    "grid, message",
    [
        ("lock=5", "--grid: lock is a section, not a setting; name one of its keys, e.g. lock.timeout"),
        ("lock.backoff=5", "--grid: [lock]backoff: expected a table, got 5"),
        ("workers.count=5,10,5", "--grid 'workers.count=5,10,5': 5 given twice; each value once"),
        # one setting spelt two ways ran one point twice under two names
        (
            "lock.timeout=30s,30.0s",
            "--grid: lock.timeout=30s and lock.timeout=30.0s are the same settings; give each value once",
        ),
        (
            "lock.timeout=30s,0.5m",
            "--grid: lock.timeout=30s and lock.timeout=0.5m are the same settings; give each value once",
        ),
    ],
)
def test_a_section_given_a_value_or_a_repeated_value_is_a_one_line_error(grid, message):
    with pytest.raises(ScenarioError) as error:
        grid_scenario(load_scenario(MAGNA), parse_grid([grid]))
    assert str(error.value) == message


def test_a_backoff_key_of_another_kind_hints_at_variant():
    with pytest.raises(ScenarioError) as error:
        grid_scenario(load_scenario(MAGNA), parse_grid(["lock.backoff.cap=1s"]), "before")  # before: fixed 100 ms
    assert str(error.value) == (
        "--grid: lock.backoff.cap applies to backoff kinds exponential, full_jitter, equal_jitter, "
        "decorrelated_jitter, not to 'fixed' (variant 'before'): start from another variant with --variant, "
        "or put lock.backoff.kind on the grid"
    )


def test_the_backoff_kind_on_the_grid_drops_keys_the_new_kind_does_not_read():
    axes = parse_grid(["lock.backoff.kind=fixed", "lock.backoff.delay=250ms"])
    (point,) = grid_scenario(load_scenario(MAGNA), axes, "after").variants  # after: exponential
    assert (point.lock.backoff.kind, point.lock.backoff.delay) == ("fixed", 0.25)


def test_grid_points_are_limited_before_any_is_built():
    with pytest.raises(ScenarioError, match=r"--grid: 1,001 grid points; the limit is 1,000"):
        parse_grid(["workers.count=" + ",".join(str(n) for n in range(1, 1002))])


def test_grid_points_times_replications_are_limited():
    scenario = dataclasses.replace(load_scenario(MAGNA), replications=10_000)
    with pytest.raises(
        ScenarioError, match=r"11 grid points × 10,000 replications is 110,000 runs; the limit is 100,000"
    ):
        grid_scenario(scenario, parse_grid(["workers.count=" + ",".join(str(n) for n in range(1, 12))]))


def test_the_commands_references_sweep_example_builds_its_nine_points_from_the_after_variant():
    page = (ROOT / "docs" / "reference" / "commands.md").read_text()
    example = re.search(r"`sim sweep peak-hour --variant after ((?:--grid \S+ ?)+)`", page)
    assert example is not None, "the sweep example left docs/reference/commands.md"
    grids = example.group(1).split("--grid")[1:]
    axes = parse_grid([g.strip() for g in grids])
    points = grid_scenario(load_scenario(PEAK_HOUR), axes, "after").variants
    assert len(points) == 9
    assert {(p.lock.timeout, p.lock.backoff.cap) for p in points} == {
        (t, c) for t in (30.0, 45.0, 60.0) for c in (0.5, 1.0, 2.0)
    }


def test_a_distributions_parameter_is_swept_over_the_base_variants_distribution():
    base = load_scenario(PEAK_HOUR)
    assert base.variant("after").services.llm == LogNormal(17.0, 28.0)
    points = grid_scenario(base, parse_grid(["services.llm.median=10s,20s"]), "after").variants
    assert [p.services.llm for p in points] == [LogNormal(10.0, 28.0), LogNormal(20.0, 28.0)]
    assert points[0].services.crm == base.variant("after").services.crm


def test_a_parameter_the_base_distribution_does_not_have_is_refused_with_its_parameters():
    with pytest.raises(ScenarioError) as error:
        grid_scenario(load_scenario(PEAK_HOUR), parse_grid(["services.llm.mean=10s"]))
    assert str(error.value) == (
        "--grid: services.llm.mean: the base variant's services.llm is a lognormal distribution (median, p95): "
        "name one of those, or put services.llm.dist on the grid"
    )


def test_a_whole_distribution_on_the_grid_inherits_nothing():
    axes = parse_grid(["services.llm.dist=exponential", "services.llm.mean=5s,8s"])
    points = grid_scenario(load_scenario(PEAK_HOUR), axes).variants
    assert [p.services.llm for p in points] == [Exponential(5.0), Exponential(8.0)]


@pytest.mark.parametrize(
    "dist",
    [Fixed(2.0), Uniform(1.0, 3.0), Exponential(4.0), LogNormal(1.0, 2.0), Mixture((0.9, 0.1), (Fixed(1), Fixed(30)))],
)
def test_a_distributions_table_reads_back_as_the_same_distribution(dist):
    from sim.scenario.load import parse_distribution
    from sim.scenario.reader import Reader

    assert parse_distribution(Reader("t.toml", "services", {"llm": dist.to_table()}), "llm", Fixed(0)) == dist


def test_three_axes_give_small_multiples_and_the_report_names_the_invariants(tmp_path):
    args = ["sweep", MAGNA, "--variant", "after", "--grid", "lock.timeout=10s,60s", "--grid", "workers.count=1,2"]
    args += ["--grid", "cache.enabled=true,false", "--replications", "1", "--out", str(tmp_path), "--quiet"]
    assert main([*args, "--processes", "1"]) == 0
    folder = tmp_path / "magna-sweep"
    assert {"sweep_busy_rate.png", "sweep_latency_p95_s.png", "sweep_redis_commands.png"} <= {
        p.name for p in folder.iterdir()
    }
    report = (folder / "report.md").read_text()
    assert "Invariants held in all 8 runs" in report
    assert json.loads((folder / "results.json").read_text())["invariant_violations"] == []


def test_a_broken_invariant_is_shown_in_the_sweep_report(tmp_path, monkeypatch):
    from sim.metrics import invariants

    monkeypatch.setattr(invariants, "check", lambda records, **kw: ["planted violation"])
    args = ["sweep", MAGNA, "--variant", "after", "--grid", "lock.timeout=10s,60s", "--replications", "1"]
    assert main([*args, "--out", str(tmp_path), "--quiet", "--processes", "1"]) == 3
    report = (tmp_path / "magna-sweep" / "report.md").read_text()
    assert "**INVARIANTS BROKEN (a simulator bug):** lock.timeout=10s" in report and "planted violation" in report
    assert json.loads((tmp_path / "magna-sweep" / "results.json").read_text())["invariant_violations"]


def test_too_many_small_multiples_say_so_instead_of_plotting():
    from sim.report.sweep import MAX_PANELS, _no_plots

    axes = [("a", ("1", "2")), ("b", ("1", "2")), ("c", tuple(map(str, range(MAX_PANELS + 1))))]
    assert _no_plots(axes).startswith(f"No plots: {MAX_PANELS + 1} small multiples")
