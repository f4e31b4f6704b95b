"""Report folders: only ever OUT/<name>/, never anything sim did not write; staging left by killed runs
is cleaned, an interrupted swap is undone, and concurrent writers of one report both succeed."""

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sim.core.errors import EnvironmentProblem
from sim.metrics.baseline import FORMAT_VERSION
from sim.report.folder import MARK, MARK_TEXT, OWNER, prepare, records_staging, write_atomically


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


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.ENAMETOOLONG, errno.EFBIG, errno.EIO])
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


def test_a_live_runs_staging_is_kept_however_old_and_a_dead_ones_removed_even_if_its_pid_is_reused(tmp_path):
    """Age is not liveness: a compare's records folder lives as long as its replications run (hours), and
    another run of the scenario removed it once it was an hour old; the first run then died (exit 4)."""
    two_hours_ago = time.time() - 7200
    with records_staging(tmp_path, "magna") as live:  # this process is the live run
        (live / "after-0.csv.gz").write_bytes(b"records")
        reused_pid = tmp_path / f".tmp-magna-{os.getpid()}-abcdefgh"  # a dead run whose pid is alive again
        reused_pid.mkdir()
        (reused_pid / OWNER).touch()  # its owner file, with nobody holding its lock
        legacy = tmp_path / ".tmp-magna-abcdefgh"  # a sim version that recorded no pid
        fresh_legacy = tmp_path / ".tmp-magna-ijklmnop"
        fresh_legacy.mkdir()
        legacy.mkdir()
        for folder in (live, reused_pid, legacy):
            os.utime(folder, (two_hours_ago, two_hours_ago))
        prepare(tmp_path, "magna")
        assert (live / "after-0.csv.gz").read_bytes() == b"records"
        assert not reused_pid.exists() and not legacy.exists() and fresh_legacy.exists()
    assert not live.exists()  # the run ended: its staging went with it


def test_a_staging_folder_held_by_another_live_process_survives_its_age(tmp_path):
    script = (
        "import sys, time; from pathlib import Path; from sim.report.folder import records_staging\n"
        "with records_staging(Path(sys.argv[1]), 'magna') as f:\n"
        "    print(f, flush=True); sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        staged = Path(holder.stdout.readline().strip())
        os.utime(staged, (time.time() - 7200, time.time() - 7200))
        prepare(tmp_path, "magna")
        assert staged.is_dir()
    finally:
        holder.communicate("done\n", timeout=30)
    assert not staged.exists()


def test_a_swap_cut_between_old_away_and_new_in_gets_the_old_report_back_at_the_next_run(tmp_path):
    retired = tmp_path / f".old-magna-{dead_pid()}-abcdefgh"  # what a run killed mid-swap leaves
    retired.mkdir()
    (retired / "results.json").write_text("old")
    (retired / MARK).write_text(MARK_TEXT)
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


SIM_RESULTS = '{"format_version": 1, "scenario": "magna", "variants": {}}'


def plant(folder, files):
    folder.mkdir(parents=True)
    for name, text in files.items():
        if text is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_text(text)


@pytest.mark.parametrize(
    "files, says",
    [
        (
            {"results.json": '{"not":"sim"}', "thesis.txt": "precious"},
            "it holds 'thesis.txt', a file sim does not write",
        ),
        ({"results.json": '{"not":"sim"}'}, "a folder without sim's .sim-report mark or a results.json of scenario"),
        ({"results.json": SIM_RESULTS, "thesis.txt": "precious"}, "it holds 'thesis.txt'"),
        ({"results.json": SIM_RESULTS, "chapters": None}, "it holds 'chapters', which is not a file sim writes"),
        ({"results.json": SIM_RESULTS.replace("magna", "other")}, "without sim's .sim-report mark"),
        ({"results.json": "[1, 2]"}, "without sim's .sim-report mark"),
        ({"results.json": "{" * 100_000}, "without sim's .sim-report mark"),
        ({".sim-report": MARK_TEXT, "results.json": "{}", "notes.txt": "mine"}, "it holds 'notes.txt'"),
        ({".sim-report": '{"written_by": "me"}'}, "without sim's .sim-report mark"),
    ],
)
def test_a_folder_sim_did_not_write_is_kept_whatever_results_json_it_holds(tmp_path, files, says):
    plant(tmp_path / "magna", files)
    before = {p.name: p.read_bytes() for p in (tmp_path / "magna").iterdir() if p.is_file()}
    for attempt in (lambda: prepare(tmp_path, "magna"), lambda: write_atomically(tmp_path, "magna", fill_with("new"))):
        with pytest.raises(
            EnvironmentProblem, match="magna exists and is not a report folder written by sim"
        ) as refused:
            attempt()
        assert says in str(refused.value)
    assert {p.name: p.read_bytes() for p in (tmp_path / "magna").iterdir() if p.is_file()} == before


def test_a_results_json_that_is_a_symlink_does_not_make_a_folder_sims(tmp_path):
    plant(tmp_path / "real", {"results.json": SIM_RESULTS})
    (tmp_path / "magna").mkdir()
    (tmp_path / "magna" / "results.json").symlink_to(tmp_path / "real" / "results.json")
    with pytest.raises(EnvironmentProblem, match="it holds 'results.json', which is not a file sim writes"):
        prepare(tmp_path, "magna")


def test_every_folder_sim_writes_carries_its_mark_and_is_replaced_by_the_next_run(tmp_path):
    first = report(tmp_path, "magna", "first")
    assert json.loads((first / MARK).read_text()) == {"written_by": "sim", "format_version": FORMAT_VERSION}
    (first / "extra_plot.png").write_bytes(b"png")  # a plot an earlier sim version drew
    report(tmp_path, "magna", "second")
    assert (first / "results.json").read_text() == "second"


@pytest.mark.parametrize(
    "name, results",
    [("magna", SIM_RESULTS), ("tiny-sweep", '{"format_version": 1, "kind": "sweep", "scenario": "tiny"}')],
)
def test_a_folder_of_a_sim_version_before_the_mark_is_replaced_when_it_holds_only_sims_files(tmp_path, name, results):
    plant(tmp_path / name, {"results.json": results, "report.md": "old", "workers.png": "png", ".DS_Store": ""})
    prepare(tmp_path, name)
    write_atomically(tmp_path, name, fill_with("new"))
    assert (tmp_path / name / "results.json").read_text() == "new"


def test_the_bundled_example_report_counts_as_sims(tmp_path):
    shutil.copytree(Path(__file__).parents[2] / "reports" / "magna", tmp_path / "magna")
    prepare(tmp_path, "magna")  # no error: a real report of an earlier version


@pytest.mark.parametrize("planted, says", [("symlink", "(a symbolic link)"), ("folder", "(a folder)")])
def test_a_lock_file_that_is_a_symlink_or_a_folder_is_an_environment_problem(tmp_path, planted, says):
    target = tmp_path / "hostname"
    target.write_text("host")
    lock = tmp_path / "out" / ".magna.lock"
    lock.parent.mkdir()
    if planted == "symlink":
        lock.symlink_to(target)
    else:
        lock.mkdir()
    with pytest.raises(
        EnvironmentProblem, match=re.escape(f"cannot open sim's lock file .magna.lock {says}; remove it")
    ):
        prepare(tmp_path / "out", "magna")
    assert target.read_text() == "host"


def long_out(tmp_path, length):
    """A folder whose absolute path has `length` characters (in components of at most 200)."""
    out = tmp_path
    while len(str(out)) < length:
        out = out / ("d" * min(200, length - len(str(out)) - 1))
    assert len(str(out)) == length
    return out


def test_an_out_too_deep_for_the_reports_longest_path_is_refused_before_anything_runs(tmp_path):
    out = long_out(tmp_path, 4060)  # the probe file fits; OUT/.tmp-magna-<pid>-<8>/busiest_customer.png does not
    with pytest.raises(EnvironmentProblem, match="cannot write there: File name too long") as refused:
        prepare(out, "magna")
    assert len(str(refused.value).splitlines()) == 1 and len(str(refused.value)) < 400
    assert not any(p.name.startswith(".tmp-") for p in out.iterdir())


def test_an_os_error_without_an_errno_is_a_bug_not_the_machines_and_keeps_the_old_report(tmp_path):
    report(tmp_path, "magna", "old")

    def library_complaint(staging):
        raise OSError("cannot write mode RGBA as JPEG")  # how PIL reports a bad call: no system call failed

    with pytest.raises(OSError, match="RGBA"):
        write_atomically(tmp_path, "magna", library_complaint)
    assert (tmp_path / "magna" / "results.json").read_text() == "old"
