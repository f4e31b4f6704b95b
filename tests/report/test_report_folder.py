"""Report folders: only ever OUT/<name>/, never anything sim did not write; staging left by killed runs
is cleaned, an interrupted swap is undone, and concurrent writers of one report both succeed."""

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sim.errors import EnvironmentProblem
from sim.report.folder import prepare, write_atomically


def fill_with(text):
    def fill(staging):
        (staging / "results.json").write_text(text)
        (staging / "report.md").write_text(text)

    return fill


def report(out, name, text="old"):
    write_atomically(out, name, fill_with(text))
    return out / name


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def entries(out):
    return sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("name", ["../victim", "..", ".", "", "/tmp", "a/b", ".hidden", "x" * 101])
def test_a_name_that_is_not_a_plain_file_name_is_refused_before_anything_is_written(tmp_path, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "important.txt").write_text("precious")
    called = []
    with pytest.raises(EnvironmentProblem, match="not a safe report folder name"):
        write_atomically(tmp_path / "reports", name, called.append)
    assert called == []
    assert (victim / "important.txt").read_text() == "precious"


def test_the_report_lands_in_out_slash_name_and_replaces_the_previous_one(tmp_path):
    target = report(tmp_path, "magna", "first")
    assert write_atomically(tmp_path, "magna", fill_with("second")) == tmp_path / "magna"
    assert (target / "results.json").read_text() == "second"
    assert entries(tmp_path) == [".magna.lock", "magna"]


@pytest.mark.parametrize("kind", ["file", "folder without results.json", "symlink to a report"])
def test_something_sim_did_not_write_at_out_slash_name_is_refused_and_kept(tmp_path, kind):
    out = tmp_path / "reports"
    out.mkdir()
    elsewhere = report(tmp_path, "elsewhere", "not yours")
    target = out / "magna"
    if kind == "file":
        target.write_text("keep")
    elif kind == "folder without results.json":
        target.mkdir()
        (target / "notes.txt").write_text("keep")
    else:
        target.symlink_to(elsewhere)
    for attempt in (lambda: prepare(out, "magna"), lambda: write_atomically(out, "magna", fill_with("new"))):
        with pytest.raises(EnvironmentProblem, match="magna exists and is not a report folder written by sim"):
            attempt()
    assert (elsewhere / "results.json").read_text() == "not yours"
    assert target.is_symlink() or (target / "notes.txt").exists() or target.read_text() == "keep"
    assert not [p for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_disk_during_the_write_is_an_environment_problem_and_keeps_the_old_report(tmp_path, code):
    report(tmp_path, "magna", "old")

    def full(staging):
        (staging / "results.json").write_text("half")
        raise OSError(code, os.strerror(code))

    with pytest.raises(EnvironmentProblem, match=f"cannot write the report: {os.strerror(code)}"):
        write_atomically(tmp_path, "magna", full)
    assert (tmp_path / "magna" / "results.json").read_text() == "old"
    assert entries(tmp_path) == [".magna.lock", "magna"]


def test_staging_of_a_dead_run_is_removed_and_a_live_runs_is_kept(tmp_path):
    dead = tmp_path / f".tmp-magna-{dead_pid()}-abcdefgh"
    live = tmp_path / f".tmp-magna-{os.getpid()}-abcdefgh"
    other_scenario = tmp_path / f".tmp-other-{dead_pid()}-abcdefgh"
    for folder in (dead, live, other_scenario):
        folder.mkdir()
    report(tmp_path, "magna")
    assert not dead.exists()
    assert live.exists() and other_scenario.exists()


def test_staging_untouched_for_an_hour_is_removed_even_if_its_pid_is_alive(tmp_path):
    reused_pid = tmp_path / f".tmp-magna-{os.getpid()}-abcdefgh"
    legacy = tmp_path / ".tmp-magna-abcdefgh"  # a sim version that did not record the pid
    fresh_legacy = tmp_path / ".tmp-magna-ijklmnop"
    for folder in (reused_pid, legacy, fresh_legacy):
        folder.mkdir()
    two_hours_ago = time.time() - 7200
    for folder in (reused_pid, legacy):
        os.utime(folder, (two_hours_ago, two_hours_ago))
    prepare(tmp_path, "magna")
    assert not reused_pid.exists() and not legacy.exists()
    assert fresh_legacy.exists()


def test_a_swap_cut_between_old_away_and_new_in_gets_the_old_report_back_at_the_next_run(tmp_path):
    retired = tmp_path / f".old-magna-{dead_pid()}-abcdefgh"  # what a run killed mid-swap leaves
    retired.mkdir()
    (retired / "results.json").write_text("old")
    prepare(tmp_path, "magna")
    assert (tmp_path / "magna" / "results.json").read_text() == "old"
    assert entries(tmp_path) == [".magna.lock", "magna"]


def test_a_leftover_old_report_next_to_a_complete_one_is_removed(tmp_path):
    report(tmp_path, "magna", "current")
    retired = tmp_path / f".old-magna-{dead_pid()}-abcdefgh"
    retired.mkdir()
    (retired / "results.json").write_text("old")
    prepare(tmp_path, "magna")
    assert (tmp_path / "magna" / "results.json").read_text() == "current"
    assert entries(tmp_path) == [".magna.lock", "magna"]


def test_an_interrupted_swap_puts_the_old_report_back(tmp_path, monkeypatch):
    report(tmp_path, "magna", "old")
    rename = Path.rename

    def interrupted(self, target):
        if self.name.startswith(".tmp-"):
            raise KeyboardInterrupt  # Ctrl-C after the old report went aside, before the new one came in
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path, "magna", fill_with("new"))
    assert (tmp_path / "magna" / "results.json").read_text() == "old"
    assert entries(tmp_path) == [".magna.lock", "magna"]


def test_concurrent_writers_of_one_report_all_succeed_and_leave_a_complete_folder(tmp_path):
    failures = []

    def writer(number):
        for round_ in range(25):
            text = f"{number}-{round_}"
            try:
                write_atomically(tmp_path, "magna", fill_with(text))
            except BaseException as error:  # noqa: BLE001 - any failure of any writer fails the test
                failures.append(repr(error))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    final = tmp_path / "magna"
    assert (final / "results.json").read_text() == (final / "report.md").read_text()  # one writer's whole folder
    assert entries(tmp_path) == [".magna.lock", "magna"]
