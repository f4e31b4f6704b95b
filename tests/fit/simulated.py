"""A known scenario simulated once, written as production logs and fitted back with `sim fit`:
the setting of every parameter-recovery test."""

from __future__ import annotations

from pathlib import Path

from sim.cli import main
from sim.experiment import run_once
from sim.fit.export import write_logs
from sim.scenario import load_scenario
from sim.scenario.model import Scenario


def simulated_and_fitted(known: Path, folder: Path, name: str, *options: str) -> tuple[Scenario, Path]:
    """`known` run once, its logs written into `folder` and fitted to `folder/name` (`sim fit` with
    `options`, its report in `folder/reports`): the known scenario and the fitted file."""
    scenario = load_scenario(known)
    (result,) = run_once(scenario).values()
    write_logs(result.run.records, folder)
    out = folder / name
    logs = [str(folder / "messages.csv"), str(folder / "calls.csv")]
    assert main(["fit", *logs, "--out", str(out), "--report", str(folder / "reports"), *options]) == 0
    return scenario, out
