"""Ctrl-C in a terminal reaches every process of the job: `sim compare` running replications on a
pool ends with one line and exit 130, no traceback from the parent or the workers, no orphan
process, and the previous report intact."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.report.folder import MARK, MARK_TEXT
from tests.helpers import ROOT, SCENARIOS

FULL_DAY = SCENARIOS / "full-day.toml"  # a replication takes seconds: long enough to interrupt


def processes_in_group(group: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_ctrl_c_during_replications_is_one_line_exit_130_with_no_orphans_and_the_old_report_kept(tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(ROOT / "reports" / "magna", out / "full-day")  # a previous report, as sim left it
    (out / "full-day" / MARK).write_text(MARK_TEXT)  # with sim's mark (its results.json is magna's)
    before = (out / "full-day" / "results.json").read_bytes()
    job = subprocess.Popen(
        [sys.executable, "-m", "sim", "compare", str(FULL_DAY), "--out", str(out), "--processes", "2", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a job
    )
    deadline = time.monotonic() + 60
    while len(processes_in_group(job.pid)) < 3 and time.monotonic() < deadline:  # the parent and two workers
        time.sleep(0.05)
    assert len(processes_in_group(job.pid)) >= 3, "the worker pool never started"
    os.killpg(job.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130
    assert err.strip().splitlines() == ["sim: interrupted"]
    for _ in range(100):  # the pool's workers are terminated on the way out
        if not processes_in_group(job.pid):
            break
        time.sleep(0.05)
    assert processes_in_group(job.pid) == []
    assert (out / "full-day" / "results.json").read_bytes() == before
