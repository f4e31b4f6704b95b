"""Thresholds through `sim compare`: the new forms from the command line and the scenario file, the
single-run flag, and CI mode refusing a claim that one replication cannot make."""

import json
import re
from pathlib import Path

import pytest

from sim.cli import main
from tests.helpers import MAGNA, sim_process

# magna's `after` has a p95 latency of 48.9 s in replication 0; over 4 replications its upper 95 %
# bound is 56.6 s. So `< 55s` passes on one run and is breached on four.
ONE_RUN_ONLY = "after.latency_p95_s < 55s"


def compare(out, *extra):
    return main(["compare", MAGNA, "--out", str(out), "--quiet", "--processes", "1", *extra])


def test_one_replication_passes_a_threshold_that_four_breach_but_says_it_was_a_single_run(tmp_path, capsys):
    assert compare(tmp_path / "one", "--replications", "1", "--threshold", ONE_RUN_ONLY) == 0
    out = capsys.readouterr().out
    assert "thresholds judged on a single run claim no confidence bound" in out
    data = json.loads((tmp_path / "one" / "magna" / "results.json").read_text())
    assert data["passed"] is True
    assert compare(tmp_path / "four", "--replications", "4", "--threshold", ONE_RUN_ONLY) == 1
    out = capsys.readouterr().out
    assert "breached: after.latency_p95_s < 55s for after: latency_p95_s ≤ 56.63 s (upper 95 % bound)" in out
    assert "single run" not in out


@pytest.mark.parametrize("ci", [{"CI": "true"}, {"CI": "1"}, {"CI": "false", "ARGS": "--ci"}])
def test_ci_mode_refuses_thresholds_on_a_single_replication_before_running(tmp_path, ci):
    extra = [ci["ARGS"]] if "ARGS" in ci else []
    env = {"CI": ci["CI"]}
    done = sim_process("compare", MAGNA, "--replications", "1", "--out", tmp_path, "--quiet", *extra, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "magna: 3 threshold(s) cannot be judged on a single replication" in done.stderr
    assert "at least --replications 2" in done.stderr
    assert not (tmp_path / "magna").exists()


def test_ci_mode_counts_command_line_thresholds_and_lets_a_scenario_without_any_run(tmp_path, monkeypatch, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text(re.sub(r"(?m)^thresholds = .*$", "", Path(MAGNA).read_text()))
    monkeypatch.setenv("CI", "true")
    args = ["--replications", "1"]
    assert (
        main(["compare", str(scenario), "--out", str(tmp_path), "--quiet", *args, "--threshold", "after.busy<1"]) == 2
    )
    assert "1 threshold(s) cannot be judged" in capsys.readouterr().err
    assert main(["compare", str(scenario), "--out", str(tmp_path), "--quiet", *args]) == 0
    monkeypatch.setenv("CI", "off")
    assert (
        main(["compare", str(scenario), "--out", str(tmp_path), "--quiet", *args, "--threshold", "after.busy<1"]) == 0
    )


def test_relative_and_change_thresholds_from_the_command_line(tmp_path, capsys):
    extra = [
        "--threshold",
        "change(after.busy_rate) <= -50%",
        "--threshold",
        "after.busy_rate <= 0.05*before.busy_rate",
    ]
    assert compare(tmp_path, "--replications", "2", *extra) == 0
    assert "all 6 threshold checks passed" in capsys.readouterr().out
    data = json.loads((tmp_path / "magna" / "results.json").read_text())
    change = next(t for t in data["thresholds"] if t["expression"].startswith("change("))
    assert (change["variant"], change["value"], change["passed"]) == ("after", -1.0, True)


def test_a_command_line_change_of_a_scenarios_baseline_is_refused_naming_the_scenario(tmp_path, capsys):
    assert compare(tmp_path, "--threshold", "change(before.busy_rate) <= -50%") == 2
    err = capsys.readouterr().err
    assert "--threshold: magna: threshold 'change(before.busy_rate) <= -50%'" in err and err.count("\n") == 1


def test_a_threshold_unit_on_the_wrong_metric_in_a_scenario_file_names_the_file(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    text = Path(MAGNA).read_text()
    scenario.write_text(re.sub(r"(?m)^thresholds = .*$", 'thresholds = ["after.busy_rate < 60s"]', text))
    assert main(["compare", str(scenario), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{scenario}: [scenario]thresholds: threshold 'after.busy_rate < 60s': a duration fits" in err
