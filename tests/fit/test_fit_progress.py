"""`sim fit` says on stderr what it is doing: 1 M rows ran over a minute with nothing on stderr."""

from __future__ import annotations

from pathlib import Path

from sim.bench.fit import write_logs
from tests.helpers import sim_process


def test_sim_fit_reports_rows_read_and_each_stage_on_stderr_and_nothing_with_quiet(tmp_path):
    logs = write_logs(tmp_path, 60_000)
    out = tmp_path / "x.toml"
    done = sim_process("fit", *logs, "--out", out, "--customers", "conversations")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("x fit: sessions of 45,000 messages") for line in lines)
    assert any(line.startswith("x fit: gaps inside") for line in lines)
    assert any(line.startswith("x fit: CRM and LLM latencies") for line in lines)
    assert any(line.startswith("x fit: conversations:") for line in lines)
    assert any(line.startswith("x fit: writing the scenario") for line in lines)
    assert lines[-1].startswith("x fit: 60000/60000 rows read in ")
    quiet = sim_process("fit", *logs, "--out", out, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert Path(out).is_file()
