"""`sim compare` / `sim sweep` output: hostile scenario names, unusable --out and GITHUB_STEP_SUMMARY are
one-line exit-2 errors found before any replication runs; the console encoding never crashes a run."""

import errno
import os
import subprocess
import sys

import pytest

from sim.cli import main
from sim.commands import compare as report_commands
from sim.report import plots
from tests.helpers import ROOT, sim_process

TINY = """
[scenario]
{name}replications = 1
[workload]
[[workload.script]]
customer = "m"
messages = ["0s"]
"""


def scenario(folder, name='name = "tiny"\n', file="tiny.toml"):
    path = folder / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TINY.format(name=name))
    return path


@pytest.fixture
def replications(monkeypatch):
    """Counts replication batches started, to show a check came before any simulation."""
    started = []
    real = report_commands.run_replications

    def counting(*args, **kwargs):
        started.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(report_commands, "run_replications", counting)
    return started


def compare(*args):
    return main(["compare", *map(str, args), "--quiet", "--processes", "1"])


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sim: error: "), err
    return err


def test_the_issues_victim_folder_survives_a_name_of_dot_dot_slash_victim(tmp_path, monkeypatch, capsys):
    (tmp_path / "a/b/reports/other").mkdir(parents=True)
    (tmp_path / "a/b/reports/other/report.md").write_text("keep")
    (tmp_path / "a/b/victim").mkdir()
    (tmp_path / "a/b/victim/important.txt").write_text("precious")
    scenario(tmp_path, 'name = "../victim"\n', "evil.toml")
    monkeypatch.chdir(tmp_path / "a/b")
    assert compare("../../evil.toml", "--out", "reports") == 2
    assert "[scenario]name: '../victim' cannot be a report folder name" in one_line_error(capsys)
    assert (tmp_path / "a/b/victim/important.txt").read_text() == "precious"
    assert (tmp_path / "a/b/reports/other/report.md").read_text() == "keep"


def test_two_scenarios_for_one_folder_are_refused_before_running(tmp_path, capsys, replications):
    first = scenario(tmp_path, "", "dup.toml")
    second = scenario(tmp_path, "", "sub/dup.toml")
    assert compare(first, second, "--out", tmp_path / "out") == 2
    assert "two scenarios are named 'dup'" in one_line_error(capsys)
    shouting = scenario(tmp_path, 'name = "DUP"\n', "shout.toml")
    assert compare(first, shouting, "--out", tmp_path / "out") == 2  # one folder on a case-insensitive disk
    assert replications == []


def test_a_folder_at_out_slash_name_that_sim_did_not_write_is_kept_and_nothing_runs(tmp_path, capsys, replications):
    (tmp_path / "out/tiny").mkdir(parents=True)
    (tmp_path / "out/tiny/thesis.tex").write_text("years of work")
    assert compare(scenario(tmp_path), "--out", tmp_path / "out") == 2
    assert "tiny exists and is not a report folder written by sim" in one_line_error(capsys)
    assert (tmp_path / "out/tiny/thesis.tex").read_text() == "years of work"
    assert replications == []


@pytest.mark.parametrize(
    "where, message",
    [
        ("a file", "is not a folder"),
        ("under a file", "cannot write there"),
        ("/dev/null", "is not a folder"),
        ("/dev/null/reports", "cannot write there"),
    ],
)
def test_an_unusable_out_is_one_line_exit_2_before_any_replication(tmp_path, capsys, replications, where, message):
    (tmp_path / "a file").write_text("")
    out = {"a file": tmp_path / "a file", "under a file": tmp_path / "a file" / "reports"}.get(where, where)
    assert compare(scenario(tmp_path), "--out", out) == 2
    assert message in one_line_error(capsys)
    assert replications == []
    assert (tmp_path / "a file").read_text() == ""


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_one_line_exit_2_before_any_replication(tmp_path, capsys, replications):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert compare(scenario(tmp_path), "--out", out) == 2
    finally:
        out.chmod(0o755)
    assert "cannot write there" in one_line_error(capsys)
    assert replications == []


def test_a_full_disk_while_writing_is_one_line_exit_2_and_the_old_report_stays(tmp_path, capsys, monkeypatch):
    path = scenario(tmp_path)
    assert compare(path, "--out", tmp_path / "out") == 0
    old = (tmp_path / "out/tiny/results.json").read_bytes()
    capsys.readouterr()

    def full(c):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(plots.PLOTTERS, "workers.png", full)
    assert compare(path, "--out", tmp_path / "out", "--seed", "9") == 2
    assert "cannot write the report: No space left on device" in one_line_error(capsys)
    assert (tmp_path / "out/tiny/results.json").read_bytes() == old


def test_sweep_checks_its_folder_before_running_too(tmp_path, capsys, replications):
    (tmp_path / "out").mkdir()
    (tmp_path / "out/tiny-sweep").write_text("mine")
    args = ["sweep", scenario(tmp_path), "--grid", "workers.count=1,2", "--out", tmp_path / "out", "--quiet"]
    assert main([str(a) for a in args]) == 2
    assert "tiny-sweep exists and is not a report folder written by sim" in one_line_error(capsys)
    assert replications == []


@pytest.mark.parametrize("summary", ["a folder", "/nonexistent/summary.md"])
def test_an_unwritable_github_step_summary_is_one_line_exit_2_before_running(
    tmp_path, capsys, monkeypatch, replications, summary
):
    (tmp_path / "a folder").mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / summary) if summary == "a folder" else summary)
    assert compare(scenario(tmp_path), "--out", tmp_path / "out") == 2
    assert "GITHUB_STEP_SUMMARY=" in one_line_error(capsys)
    assert replications == []
    assert not (tmp_path / "out/tiny").exists()


def test_the_step_summary_has_the_report_without_its_relative_image_links(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert compare(scenario(tmp_path), "--out", tmp_path / "out") == 0
    report = (tmp_path / "out/tiny/report.md").read_text()
    assert "![" in report  # the report folder keeps its plots
    text = summary.read_text()
    assert text.startswith("# tiny") and "![" not in text and ".png" not in text


def test_a_cp1252_console_gets_the_summary_line_instead_of_a_crash(tmp_path):
    args = ["compare", scenario(tmp_path), "--out", tmp_path / "out", "--quiet", "--processes", "1"]
    done = sim_process(*args, env={"PYTHONIOENCODING": "cp1252"}, text=False, timeout=120)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.startswith(b"tiny: 1 variants \xd7 1 replications, no thresholds ? ")  # cp1252 has no arrow
    assert (tmp_path / "out/tiny/results.json").exists()


def test_a_name_from_a_dot_dot_file_stem_says_to_set_the_name(tmp_path, capsys):
    assert compare(scenario(tmp_path, "", "..toml"), "--out", tmp_path / "out") == 2
    assert "the file name '..toml' cannot be used as a report folder name; set [scenario]name" in one_line_error(capsys)


def test_the_attackers_thesis_next_to_a_foreign_results_json_survives_and_nothing_runs(tmp_path, capsys, replications):
    folder = tmp_path / "o2/tiny"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text('{"not":"sim"}\n')
    (folder / "thesis.txt").write_text("precious")
    assert compare(scenario(tmp_path), "--out", tmp_path / "o2") == 2
    assert "tiny exists and is not a report folder written by sim (it holds 'thesis.txt'" in one_line_error(capsys)
    assert (folder / "thesis.txt").read_text() == "precious"
    assert replications == []


def test_every_file_a_report_or_sweep_writes_is_one_sim_recognises_as_its_own(tmp_path):
    from sim.report.folder import LEFT_BY_FILE_BROWSERS, LONGEST_NAME, PLOT_FILE, REPORT_FILES

    path = scenario(tmp_path)
    assert compare(path, "--out", tmp_path / "out") == 0
    sweep = ["sweep", path, "--grid", "workers.count=1,2", "--grid", "lock.ttl=10s,20s", "--out", tmp_path / "out"]
    assert main([*map(str, sweep), "--quiet", "--processes", "1"]) == 0
    names = {p.name for folder in ("tiny", "tiny-sweep") for p in (tmp_path / "out" / folder).iterdir()}
    assert ".sim-report" in names and "sweep_redis_commands.png" in names and "busiest_customer.png" in names
    assert all(n in REPORT_FILES or PLOT_FILE.fullmatch(n) for n in names) and not names & LEFT_BY_FILE_BROWSERS
    assert max(map(len, names)) == LONGEST_NAME
    assert compare(path, "--out", tmp_path / "out", "--seed", "5") == 0  # and the next run replaces it


def test_a_symlinked_lock_file_is_one_line_exit_2_before_anything_runs(tmp_path, capsys, replications):
    (tmp_path / "o1").mkdir()
    (tmp_path / "hostname").write_text("host")
    (tmp_path / "o1/.tiny.lock").symlink_to(tmp_path / "hostname")
    assert compare(scenario(tmp_path), "--out", tmp_path / "o1") == 2
    assert "cannot open sim's lock file .tiny.lock (a symbolic link); remove it" in one_line_error(capsys)
    assert replications == []
    assert (tmp_path / "hostname").read_text() == "host"


def test_an_out_near_path_max_is_one_line_exit_2_before_any_replication(tmp_path, capsys, replications):
    out = tmp_path
    while len(str(out)) < 4060:
        out = out / ("d" * min(200, 4060 - len(str(out)) - 1))
    assert compare(scenario(tmp_path), "--out", out) == 2
    assert "cannot write there: File name too long" in one_line_error(capsys)
    assert replications == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_step_summary_that_is_a_named_pipe_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "summary"
    os.mkfifo(fifo)  # nobody ever reads it: opening it for writing the usual way blocks forever
    result = subprocess.run(
        [sys.executable, "-m", "sim", "compare", str(scenario(tmp_path)), "--out", str(tmp_path / "out"), "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_STEP_SUMMARY": str(fifo)},
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr == f"sim: error: GITHUB_STEP_SUMMARY={fifo}: a named pipe, not a file to append the report to\n"
    )
    assert not (tmp_path / "out/tiny").exists()


@pytest.mark.parametrize("summary, says", [("/dev/full", "a device"), ("link", "a symbolic link")])
def test_a_step_summary_that_is_a_device_or_a_link_is_one_line_exit_2_before_running(
    tmp_path, capsys, monkeypatch, replications, summary, says
):
    (tmp_path / "real.md").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "real.md")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", summary if summary.startswith("/") else str(tmp_path / summary))
    assert compare(scenario(tmp_path), "--out", tmp_path / "out") == 2
    assert f"{says}, not a file to append the report to" in one_line_error(capsys)
    assert replications == []
    assert (tmp_path / "real.md").read_text() == ""


def test_a_step_summary_that_fills_up_after_the_report_is_one_line_exit_2_and_the_report_stays(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    real_write = os.write

    def full(handle, data):
        if os.fstat(handle).st_ino == (tmp_path / "summary.md").stat().st_ino:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(handle, data)

    monkeypatch.setattr(report_commands.os, "write", full)
    assert compare(scenario(tmp_path), "--out", tmp_path / "out") == 2
    assert "cannot append to it: No space left on device (the report is written)" in one_line_error(capsys)
    assert (tmp_path / "out/tiny/report.md").exists()
