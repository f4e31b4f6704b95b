"""The command line as a user and a CI job meet it: output, determinism, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).parents[1]
MAGNA = str(ROOT / "scenarios" / "magna.toml")


def sim(*args):
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT)


def test_run_json_has_the_documented_shape(capsys):
    assert main(["run", MAGNA, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "magna" and out["seed"] == 20251027
    assert set(out["variants"]) == {"before", "after"}
    assert set(out["variants"]["after"]) == {
        "messages", "answered", "busy", "failed", "busy_rate", "latency_p50_s", "latency_p95_s",
        "latency_p99_s", "cache_hit_ratio", "crm_calls", "llm_calls", "lock_polls", "redis_commands", "lock_lost",
        "redis_errors", "out_of_order",
    }  # fmt: skip


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


def test_trace_prints_production_log_lines_with_simulated_timestamps(capsys):
    assert main(["run", MAGNA, "--trace", "--variant", "after"]) == 0
    out = capsys.readouterr().out
    assert "00:00:00.001 msg#0 thread_magna: Lock acquired for thread_magna (attempt 1)" in out
    assert "Cache HIT for 123.456.789-00 - 2 points" in out


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
