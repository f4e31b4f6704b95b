"""The command line as a user and a CI job meet it: output, determinism, exit codes."""

import errno
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pytest

from sim import cli
from sim.cli import main
from tests.helpers import MAGNA, ROOT
from tests.helpers import sim_process as sim


def test_run_json_has_the_documented_shape(capsys):
    assert main(["run", MAGNA, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "magna" and out["seed"] == 20251027
    assert set(out["variants"]) == {"before", "after"}
    assert set(out["variants"]["after"]) == {
        "messages", "answered", "busy", "failed", "busy_rate", "latency_p50_s", "latency_p95_s",
        "latency_p99_s", "latency_answered_p50_s", "latency_answered_p95_s", "latency_answered_p99_s",
        "first_reply_p50_s", "first_reply_p95_s", "customers_apologised", "cache_hit_ratio", "crm_calls", "llm_calls",
        "lock_polls", "redis_commands", "lock_lost",
        "redis_errors", "out_of_order",
    }  # fmt: skip
    assert out["variants"]["before"]["cache_hit_ratio"] is None  # no cache: not applicable, not 0


def test_same_scenario_and_seed_give_byte_identical_json_in_two_processes():
    first, second = sim("run", MAGNA, "--json"), sim("run", MAGNA, "--json")
    assert first.returncode == 0
    assert first.stdout == second.stdout


def test_another_seed_gives_other_numbers(capsys):
    main(["run", MAGNA, "--json"])
    default = capsys.readouterr().out
    main(["run", MAGNA, "--json", "--seed", "99"])
    assert capsys.readouterr().out != default


def test_variant_option_runs_only_that_variant(capsys):
    assert main(["run", MAGNA, "--json", "--variant", "after"]) == 0
    assert list(json.loads(capsys.readouterr().out)["variants"]) == ["after"]


def test_trace_prints_production_log_lines_with_simulated_timestamps_on_stderr(capsys):
    assert main(["run", MAGNA, "--trace", "--variant", "after"]) == 0
    captured = capsys.readouterr()
    assert "00:00:00.001 msg#0 thread_magna: Lock acquired for thread_magna (attempt 1)" in captured.err
    assert "Cache HIT for 123.456.789-00 - 2 points" in captured.err
    assert "Lock acquired" not in captured.out


def test_run_with_trace_and_json_keeps_stdout_valid_json():
    result = sim("run", MAGNA, "--trace", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["scenario"] == "magna"
    assert "--- before ---" in result.stderr and "Lock acquired" in result.stderr


def test_trace_file_gets_the_trace_and_stdout_only_the_json(tmp_path, capsys):
    trace = tmp_path / "trace.log"
    assert main(["run", MAGNA, "--json", "--variant", "after", "--trace", str(trace)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["variants"].keys() == {"after"}
    assert trace.read_text().startswith("--- after ---\n00:00:00.001 msg#0 thread_magna: Lock acquired")
    assert "Lock acquired" not in captured.err


@pytest.mark.parametrize(
    "where, message",
    [
        ("no/such/folder/trace.log", "--trace no/such/folder/trace.log: cannot write: No such file or directory"),
        ("other.toml", "--trace other.toml: a trace file ending in .toml (put the scenario first?)"),
    ],
)
def test_a_trace_file_that_cannot_or_must_not_be_written_exits_2(where, message):
    one_line_exit_2(sim("run", MAGNA, "--trace", where), message)


def test_a_bare_sim_prints_the_usage_and_the_commands_and_exits_2():
    result = sim()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: sim")
    for command in ("run", "compare", "sweep", "live", "bench"):
        assert f"\n  {command} " in result.stderr


def test_version_prints_the_packages_version():
    import sim as package

    result = sim("--version")
    assert (result.returncode, result.stdout) == (0, f"sim {package.__version__}\n")


def test_help_lists_the_exit_codes_and_every_metric_name():
    from sim.metrics.catalog import ALL_METRICS

    result = sim("--help")
    assert result.returncode == 0
    assert "130  interrupted (Ctrl-C or SIGTERM)" in result.stdout
    listed = result.stdout.split("metrics:")[1].replace(",", " ").split()
    assert listed == list(ALL_METRICS)  # the conversation metrics too: thresholds may name them


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", MAGNA, "--jso"], "unrecognized arguments: --jso"),  # allow_abbrev=False: a prefix is a typo
        (["compare", MAGNA, "--replication", "2"], "unrecognized arguments: --replication"),
        (["compare", MAGNA, "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
        (["sweep", MAGNA, "--grid", "lock.timeout=1s", "--scheduler", "x"], "--scheduler needs --executor dask"),
    ],
)
def test_abbreviated_options_and_a_scheduler_without_dask_exit_2_before_any_run(tmp_path, args, message):
    one_line_exit_2(sim(*args, "--out", str(tmp_path)), message)
    assert not any(tmp_path.iterdir())


def test_a_bundled_scenario_runs_by_name_from_any_folder(tmp_path):
    result = sim("run", "magna", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(sim("run", MAGNA, "--json").stdout)


def test_an_unknown_bare_name_exits_2_listing_the_bundled_scenarios():
    one_line_exit_2(
        sim("run", "magma"), "magma: no such scenario file, nor a bundled scenario (bundled: failover, fixes, full-day,"
    )


def test_table_lists_every_metric_for_every_variant(capsys):
    assert main(["run", MAGNA]) == 0
    out = capsys.readouterr().out
    assert "busy_rate" in out and "before" in out and "after" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "missing.toml"], "sim: error: missing.toml: no such scenario file"),
        (["run", MAGNA, "--variant", "sideways"], "no variant 'sideways' (variants: before, after)"),
        (["run", MAGNA, "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, message):
    result = sim(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_check_determinism_runs_twice_and_says_so():
    result = sim("run", MAGNA, "--check-determinism", "--json")
    assert result.returncode == 0
    assert "before: deterministic, 3 records identical in two runs" in result.stderr


def test_a_broken_invariant_exits_3(monkeypatch, capsys):
    from sim.metrics import invariants

    monkeypatch.setattr(invariants, "check", lambda records, **kw: ["planted violation"])
    assert main(["run", MAGNA]) == 3
    assert "sim: INVARIANT BROKEN: before: planted violation" in capsys.readouterr().err


def one_line_exit_2(result, message):
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", MAGNA, "--seed", "-1"], "argument --seed: must be a whole number from 0 to"),
        (["compare", MAGNA, "--seed", str(2**63)], "argument --seed: must be a whole number from 0 to"),
        (
            ["compare", MAGNA, "--replications", "10001"],
            "argument --replications: must be a whole number from 1 to 10,000",
        ),
        (["sweep", MAGNA, "--grid", "lock.timeout=1s", "--processes", "1025"], "argument --processes: must be"),
        (["sweep", MAGNA, "--grid", "lock=5"], "--grid: lock is a section, not a setting"),
        (["sweep", MAGNA, "--grid", "lock.timeout=30s,30s"], "30s given twice"),
        (["sweep", MAGNA, "--grid", "lock.backoff.cap=1s"], "start from another variant with --variant"),
        (["sweep", MAGNA, "--grid", "lock.tiemout=1s"], "--grid: [lock]tiemout: unknown key"),
        (["sweep", MAGNA, "--grid", "workers.count=" + ",".join(map(str, range(1, 1002)))], "the limit is 1,000"),
    ],
)
def test_out_of_range_arguments_and_bad_grids_exit_2_before_any_run(tmp_path, args, message):
    one_line_exit_2(sim(*args, "--out", str(tmp_path)) if args[0] != "run" else sim(*args), message)
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


def test_a_deeply_nested_scenario_exits_2_with_one_line(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    one_line_exit_2(sim("run", str(deep)), "invalid TOML: tables or arrays nested too deep")


def test_an_empirical_file_error_names_the_line_and_never_prints_it(tmp_path):
    (tmp_path / "crm.csv").write_text("seconds\nhunter2-password\n")
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "[workload]\n[[workload.script]]\ncustomer = 'a'\nmessages = ['0s']\n"
        "[services]\ncrm = { dist = 'empirical', file = 'crm.csv' }\n"
    )
    result = sim("run", str(scenario))
    one_line_exit_2(result, "crm.csv line 2: expected seconds")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("name", ["../outside.csv", "/etc/hostname", "link.csv"])
def test_an_empirical_file_outside_the_scenarios_folder_is_refused(tmp_path, name):
    # A scenario file from a pull request must not read the runner's files, by path or by symlink.
    (tmp_path / "outside.csv").write_text("seconds\n2\n")
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "link.csv").symlink_to(tmp_path / "outside.csv")
    scenario = folder / "s.toml"
    scenario.write_text(
        "[workload]\n[[workload.script]]\ncustomer = 'a'\nmessages = ['0s']\n"
        f"[services]\ncrm = {{ dist = 'empirical', file = '{name}' }}\n"
    )
    one_line_exit_2(sim("run", str(scenario)), f"'{name}' is outside the scenario's folder")


def test_a_senseless_setting_is_one_warning_line_and_the_run_still_succeeds(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "[workload]\n[[workload.script]]\ncustomer = 'a'\nmessages = ['0s']\n"
        "[lock]\nttl = '1s'\n[services]\ncrm = '1s'\nllm = '2s'\n"
    )
    assert main(["run", str(scenario)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"sim: warning: {scenario}: variant 'default': [lock]ttl 1 s is shorter than a typical handling time "
        "(3 s, CRM + LLM means): the lock expires while its holder still works"
    ]


def test_a_compare_prints_each_scenarios_warnings_once(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "[scenario]\nreplications = 2\n[workload]\n[[workload.script]]\ncustomer = 'a'\nmessages = ['0s']\n"
        "[lock]\ntimeout = '10ms'\n[variants.x]\n[variants.y]\n"
    )
    assert main(["compare", str(scenario), "--out", str(tmp_path / "out"), "--quiet", "--processes", "1"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sim: warning:")]
    assert warnings == [
        f"sim: warning: {scenario}: variants 'x', 'y': [lock]timeout 0.01 s is shorter than one backoff step "
        "(0.1 s): a waiter tries at most twice and the backoff never applies"
    ]


def test_a_closed_stdout_is_a_quiet_end_with_the_commands_own_exit_code():
    read, write = os.pipe()
    os.close(read)  # the reader (`| head -1`) is gone before sim writes: every write gets EPIPE
    with os.fdopen(write, "wb") as closed:
        result = subprocess.run(
            [sys.executable, "-m", "sim", "run", MAGNA], stdout=closed, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
    assert (result.returncode, result.stderr) == (0, "")


FULL = "/dev/full"  # every write: ENOSPC


@pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full")
@pytest.mark.parametrize("command", ["run", "run --json", "fit"])
def test_results_that_cannot_be_written_to_stdout_are_one_line_and_exit_2(tmp_path, command):
    """`sim run > /dev/full` and `sim fit > /dev/full` were internal errors (exit 4)."""
    args = {
        "run": ["run", MAGNA],
        "run --json": ["run", MAGNA, "--json"],
        "fit": ["fit", str(ROOT / "examples" / "logs" / "messages.csv"), "--out", str(tmp_path / "f.toml"), "--quiet"],
    }[command]
    with open(FULL, "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "sim", *args], stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
    assert result.returncode == 2
    assert result.stderr == "sim: error: stdout: cannot write the output: No space left on device\n"


@pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full")
def test_a_trace_file_on_a_full_device_is_one_line_naming_it_and_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "sim", "run", MAGNA, "--trace", FULL], capture_output=True, text=True, cwd=ROOT
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"sim: error: --trace {FULL}: cannot write: No space left on device\n"


@pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full")
def test_a_stderr_that_cannot_be_written_never_changes_the_exit_code(tmp_path):
    """`sim compare magna 2>/dev/full` exited 1, the threshold code, though every threshold passed."""
    with open(FULL, "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "sim", "compare", MAGNA, "--replications", "2", "--processes", "1",
             "--out", str(tmp_path), "--threshold", "after.busy_rate<=before.busy_rate"],
            stdout=subprocess.PIPE, stderr=full, text=True, cwd=ROOT,
        )  # fmt: skip
    assert result.returncode == 0 and "✓" in result.stdout
    assert (tmp_path / "magna" / "report.md").is_file()


class _ReaderGone(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_a_closed_stdout_still_ends_with_exit_3_when_an_invariant_broke(monkeypatch, capsys):
    from sim.metrics import invariants

    monkeypatch.setattr(invariants, "check", lambda records, **kw: ["planted violation"])
    monkeypatch.setattr(sys, "stdout", _ReaderGone())
    assert main(["run", MAGNA]) == 3
    assert "sim: INVARIANT BROKEN: before: planted violation" in capsys.readouterr().err


def _crash(args):
    raise RuntimeError("planted bug")


def test_an_internal_error_is_one_line_naming_the_traceback_file(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_run", _crash)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["run", MAGNA]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sim: internal error (a bug in sim): RuntimeError; traceback written to" in err
    (crash,) = tmp_path.iterdir()
    assert "RuntimeError: planted bug" in crash.read_text()


def test_an_unusable_temp_folder_still_gives_one_line_and_exit_4(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_run", _crash)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    assert main(["run", MAGNA]) == 4
    assert capsys.readouterr().err == (
        "sim: internal error (a bug in sim): RuntimeError; traceback could not be written (No such file or directory)\n"
    )


def test_a_temp_folder_that_takes_no_bytes_leaves_no_empty_crash_file(monkeypatch, tmp_path, capsys):
    def file_too_large(file):
        raise OSError(errno.EFBIG, "File too large")  # what `prlimit --fsize=0` or a full disk gives

    monkeypatch.setattr(cli, "_run", _crash)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(traceback, "print_exc", file_too_large)
    assert main(["run", MAGNA]) == 4
    assert capsys.readouterr().err.endswith("traceback could not be written (File too large)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_during_replications_is_one_line_exit_130_with_no_orphans_and_the_old_report_kept(tmp_path):
    from tests.test_interrupt import FULL_DAY, processes_in_group

    out = tmp_path / "reports"
    assert main(["compare", str(MAGNA), "--out", str(out), "--replications", "1", "--quiet"]) == 0
    (out / "magna").rename(out / "full-day")  # a previous report of the scenario, as sim wrote it
    before = (out / "full-day" / "results.json").read_bytes()
    job = subprocess.Popen(
        [sys.executable, "-m", "sim", "compare", str(FULL_DAY), "--out", str(out), "--processes", "2", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(processes_in_group(job.pid)) < 3 and time.monotonic() < deadline:  # the parent and two workers
        time.sleep(0.05)
    assert len(processes_in_group(job.pid)) >= 3, "the worker pool never started"
    job.send_signal(signal.SIGTERM)  # what a CI runner sends to cancel a job: to sim only, not its workers
    _, err = job.communicate(timeout=60)
    assert (job.returncode, err.splitlines()) == (130, ["sim: interrupted"])
    for _ in range(100):
        if not processes_in_group(job.pid):
            break
        time.sleep(0.05)
    assert processes_in_group(job.pid) == []
    assert (out / "full-day" / "results.json").read_bytes() == before


def test_help_says_sigterm_is_an_interruption_and_a_closed_stdout_is_no_error(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "130  interrupted (Ctrl-C or SIGTERM)" in out
    assert "A closed stdout (`sim run … | head -1`) is not an error" in out


HOSTILE = "x\nsim: fake line\x1b[2J\u202e"  # a newline, an escape sequence, a right-to-left override


@pytest.mark.parametrize(
    "where", ["--out", "--baseline", "--redis", "GITHUB_STEP_SUMMARY", "scenario path", "argparse"]
)
def test_an_error_naming_a_hostile_path_or_url_stays_one_escaped_line(tmp_path, monkeypatch, capsys, where):
    """Errors for --out, --baseline, --redis and GITHUB_STEP_SUMMARY printed control characters raw."""
    hostile = str(tmp_path / HOSTILE)
    args = {
        "--out": ["compare", MAGNA, "--out", hostile],
        "--baseline": ["compare", MAGNA, "--baseline", hostile, "--out", str(tmp_path / "out")],
        "--redis": ["live", MAGNA, "--redis", f"redis://h{HOSTILE}:1/0"],
        "GITHUB_STEP_SUMMARY": ["compare", MAGNA, "--out", str(tmp_path / "out")],
        "scenario path": ["compare", hostile + ".toml"],
        "argparse": ["run", MAGNA, HOSTILE],  # "unrecognized arguments: …"
    }[where]
    if where == "--out":
        (tmp_path / HOSTILE).write_text("a file, not a folder")
    if where == "GITHUB_STEP_SUMMARY":
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "none" / HOSTILE))
    assert main([*args, "--quiet"] if where != "argparse" else args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\u202e" not in err, err
    assert "\\x1b[2J" in err and "\\u202e" in err and "\\n" in err


def test_run_table_aligns_every_column_and_says_why_a_metric_does_not_apply(capsys):
    """Issue 22 item 20: `sim run` printed `nan` for the hit ratio of a variant without a cache, and long
    metric names pushed their row out of line."""
    assert main(["run", MAGNA]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    lines = out.splitlines()
    rows = lines[lines.index(next(line for line in lines if line.startswith("metric "))) :]
    table = [row for row in rows if row and not row.startswith("n/a:")]
    assert len(table) == 23 and len({len(row) for row in table}) == 1
    hits = next(row for row in table if row.startswith("cache_hit_ratio "))
    assert hits.split() == ["cache_hit_ratio", "n/a", "0.667"]
    assert lines[-1] == (
        "n/a: cache_hit_ratio does not apply to before (no outage check asked a cache: the cache is off)"
    )


def test_trace_and_comment_outputs_never_replace_a_file_sim_did_not_write(tmp_path, capsys):
    """A hostile tester's finds: `sim run replay.toml --trace messages.csv` overwrote the scenario's own log, and
    `sim comment DIR --out DIR/results.json` the report it read."""
    log = tmp_path / "messages.csv"
    log.write_text("timestamp,customer\n")
    assert main(["run", MAGNA, "--trace", str(log)]) == 2
    assert "exists and was not written by sim" in capsys.readouterr().err and log.read_text() == "timestamp,customer\n"
    trace = tmp_path / "trace.log"
    assert main(["run", MAGNA, "--trace", str(trace)]) == 0 and main(["run", MAGNA, "--trace", str(trace)]) == 0
    assert trace.read_text().startswith("--- before ---")  # sim's own trace: replaced
    (tmp_path / "link.log").symlink_to(trace)
    assert main(["run", MAGNA, "--trace", str(tmp_path / "link.log")]) == 2
    capsys.readouterr()
    report = tmp_path / "results.json"
    report.write_text("{}")
    assert main(["comment", str(tmp_path), "--out", str(report)]) == 2
    assert "was not written by sim" in capsys.readouterr().err and report.read_text() == "{}"
