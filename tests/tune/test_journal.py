"""A study's journal: one writer at a time, and a tampered journal refused before any simulation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sim.cli import main
from sim.tune import evaluate, journal

TINY = Path(__file__).with_name("tiny-tune.toml")


@pytest.fixture(scope="module")
def studied(tmp_path_factory):
    """A finished study of tiny-tune.toml: its output folder (journal and report)."""
    out = tmp_path_factory.mktemp("tune") / "out"
    assert main(["tune", str(TINY), "--out", str(out), "--quiet", "--processes", "1"]) == 0
    return out


@pytest.fixture
def no_simulation(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr(evaluate.Runner, "run", refuse)


def _copy(studied: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(studied, out)
    return out


def test_a_second_run_on_the_same_study_is_refused_while_the_first_runs(studied, tmp_path, capsys, no_simulation):
    """Two runs shared one journal: one marked the other's running trial failed and the other died (exit 4)."""
    out = _copy(studied, tmp_path)
    before = (out / ".tiny-tune.journal").read_bytes()
    with journal.sole_writer(out, "tiny"):  # the first run, still running
        code = main(["tune", str(TINY), "--trials", "8", "--out", str(out), "--quiet", "--processes", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "another sim tune is running the study of tiny" in err
    assert (out / ".tiny-tune.journal").read_bytes() == before  # not one trial added, none marked failed


def _tampered(line: dict, how: str) -> dict | None:
    attribute = line.get("user_attr", {})
    match how:
        case "unknown op code" if line.get("op_code") == 6:
            return {**line, "op_code": 99}
        case "missing costs" if "costs" in attribute:
            return None
        case "NaN costs" if "costs" in attribute:
            return {**line, "user_attr": {"costs": [[float("nan")] * len(attribute["costs"][0])]}}
        case "a cost of 1e400" if "costs" in attribute:
            return {**line, "user_attr": {"costs": [[1e400] * len(attribute["costs"][0])]}}
        case "metrics of text" if "metrics" in attribute:
            return {**line, "user_attr": {"metrics": {"busy_rate": ["a", "b"]}}}
        case "a point of other settings" if "point" in attribute:
            return {**line, "user_attr": {"point": {"lock.timeout": "1s"}}}
        case "constraints of text" if "constraints" in attribute:
            return {**line, "user_attr": {"constraints": "none"}}
    return line


@pytest.mark.parametrize(
    "how",
    ["unknown op code", "missing costs", "NaN costs", "a cost of 1e400", "metrics of text", "a point of other settings",
     "constraints of text"],
)  # fmt: skip
def test_a_tampered_journal_is_exit_2_before_any_simulation(studied, tmp_path, capsys, no_simulation, how):
    """An unknown op code, missing or NaN costs ended in exit 4; a cost of 1e400 ran to exit 0, "within δ = inf"."""
    out = _copy(studied, tmp_path)
    file = out / ".tiny-tune.journal"
    lines = [json.loads(text) for text in file.read_text().splitlines()]
    kept = [t for line in lines if (t := _tampered(line, how)) is not None]
    assert kept != lines
    file.write_text("".join(json.dumps(line) + "\n" for line in kept))  # NaN and 1e400 (inf) as Python writes them
    report = (out / "tiny-tune" / "report.md").read_bytes()
    code = main(["tune", str(TINY), "--trials", "4", "--out", str(out), "--quiet", "--processes", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and f"{file}: not a journal sim tune can read (" in err
    assert (out / "tiny-tune" / "report.md").read_bytes() == report
