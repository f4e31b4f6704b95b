"""`sim validate`: logs of the scenario itself fall inside its prediction intervals; logs of a
world with three times the arrival rate fall outside for the busy share (exit 1 when required)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sim.cli import main
from sim.core.errors import ExitCode
from sim.experiment import run_once, select
from sim.fit.export import write_logs
from sim.scenario import load_scenario
from tests.helpers import write_scenario

SCENARIO = """
    [scenario]
    name = "busy-20m"
    seed = 5
    duration = "20m"
    replications = 6

    [workload]
    customers_per_hour = 360
    population = 20  # few customers: more traffic means more of their messages meet a held lock
    burst_size = 1

    [services]
    crm = { dist = "lognormal", median = "9s", p95 = "14s" }
    llm = { dist = "lognormal", median = "17s", p95 = "28s" }

    [workers]
    count = 200

    [variants.production]
    lock = { timeout = "10s" }
"""


def _logs(scenario, folder, *, rate=1.0):
    """Logs of one run of `scenario` on a seed its replications do not use, at `rate` × its arrivals."""
    world = dataclasses.replace(scenario.workload, customers_per_hour=scenario.workload.customers_per_hour * rate)
    (result,) = run_once(dataclasses.replace(select(scenario, seed=1234), workload=world)).values()
    folder.mkdir()
    return [str(p) for p in write_logs(result.run.records, folder)]


@pytest.mark.slow
def test_a_scenario_validates_against_its_own_logs_and_not_against_three_times_the_traffic(tmp_path, capsys):
    path = write_scenario(tmp_path, SCENARIO)
    scenario = load_scenario(path)
    own = _logs(scenario, tmp_path / "own")
    code = main(["validate", str(path), *own, "--require", "busy_share", "--out", str(tmp_path / "out")])
    assert code == ExitCode.OK, capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "busy-20m-validation" / "validation.json").read_text())
    assert result["variant"] == "production" and result["replications"] == 6
    assert set(result["metrics"]) >= {"busy_share", "reply_p50_s", "reply_p95_s", "crm_calls_per_message"}
    assert result["metrics"]["busy_share"]["inside"] and result["failed"] == []
    capsys.readouterr()

    tripled = _logs(scenario, tmp_path / "tripled", rate=3.0)
    code = main(["validate", str(path), *tripled, "--require", "busy_share", "--out", str(tmp_path / "out")])
    text = capsys.readouterr().out
    assert code == ExitCode.BREACHED
    busy = json.loads((tmp_path / "out" / "busy-20m-validation" / "validation.json").read_text())["metrics"][
        "busy_share"
    ]
    assert not busy["inside"] and busy["observed"] > busy["high"] and busy["outside_by"] > 0
    assert "| busy_share |" in text and "**outside by" in text


def test_a_required_metric_the_logs_cannot_show_is_exit_2(tmp_path, capsys):
    path = write_scenario(tmp_path, SCENARIO)
    log = tmp_path / "m.csv"
    log.write_text("timestamp,customer\n2024-03-04T10:00:00Z,a\n")
    assert main(["validate", str(path), str(log), "--require", "busy_share"]) == ExitCode.BAD_INPUT
    assert "do not hold the fields" in capsys.readouterr().err


def test_prediction_intervals_never_leave_the_values_a_metric_can_take():
    """Validation prediction intervals reached below 0 for times (and above 1 for shares)."""
    from sim.fit.observed import Observable
    from sim.fit.validate import _check

    spread = (0.1, 0.2, 5.0)  # a mean of 1.77 s with a huge spread: mean − t·s·√(1 + 1/R) is far below 0
    for metric in (Observable.REPLY_P50, Observable.REPLY_P95, Observable.CRM_PER_MESSAGE):
        check = _check(metric, 0.05, spread)
        assert check.low == 0.0 and check.high > 5 and check.inside
    share = _check(Observable.BUSY_SHARE, 0.99, (0.2, 0.9, 1.0))
    assert (share.low, share.high) == (0.0, 1.0) and share.inside
