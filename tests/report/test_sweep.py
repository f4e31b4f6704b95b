"""`sim sweep`: grid points as variants, heatmaps, and clean errors for a bad grid."""

import dataclasses
import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario
from sim.sweep import grid_scenario, parse_grid

MAGNA = str(Path(__file__).parents[2] / "scenarios" / "magna.toml")


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
        "report.md", "report.html", "results.json",
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
