"""What `sim fit` and `sim trace` write: never over an input, never over a file sim did not write
without --force, never a file sim cannot load, with the permissions a new file gets; and what they
read: one file given twice is refused, a repeated row is not counted twice."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from sim.cli import main
from sim.fit import scenario_file
from sim.fit.output import EMPIRICAL_HEADER
from sim.scenario import load_scenario

START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def messages(path: Path, count: int = 300, seed: int = 1, days: float = 1.0, weekends_only: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    at = np.sort(rng.uniform(0, days * 86400, count))
    if weekends_only:
        at = at[[(START + timedelta(seconds=float(t))).weekday() >= 5 for t in at]]
    rows = "".join(
        f"{(START + timedelta(seconds=float(t))).isoformat()},c{i % 40},answered,3.5\n" for i, t in enumerate(at)
    )
    path.write_text("timestamp,customer,outcome,reply_s\n" + rows)
    return path


def three_point_calls(path: Path) -> Path:
    """CRM calls of 5, 9 or 14 s: no candidate fits them, so the scenario resamples them (`<stem>-crm.csv`)."""
    durations = np.random.default_rng(3).choice([5.0, 9.0, 14.0], size=600, p=[0.5, 0.3, 0.2])
    path.write_text(
        "service,start,duration_s\n"
        + "".join(f"crm,2024-03-04T10:00:{i % 60:02d}Z,{v}\n" for i, v in enumerate(durations))
    )
    return path


def fit(*args: object) -> int:
    return main(["fit", *map(str, args)])


def test_an_empirical_file_never_replaces_an_input_log(tmp_path, capsys):
    """Given a calls log named x-crm.csv, `--out x.toml` overwrote it with the resampled observations."""
    log = messages(tmp_path / "m.csv")
    calls = three_point_calls(tmp_path / "x-crm.csv")
    before = calls.read_bytes()
    assert fit(log, calls, "--out", tmp_path / "x.toml") == 2
    err = capsys.readouterr().err
    assert "x-crm.csv (which sim fit writes beside the scenario) is one of the input files" in err
    assert calls.read_bytes() == before and not (tmp_path / "x.toml").exists()
    assert fit(log, calls, "--out", tmp_path / "x.toml", "--force") == 2  # --force never covers an input
    assert calls.read_bytes() == before


def test_a_hand_written_scenario_is_replaced_only_with_force_and_sims_own_files_without(tmp_path, capsys):
    log, calls = messages(tmp_path / "m.csv"), three_point_calls(tmp_path / "c.csv")
    out = tmp_path / "x.toml"
    out.write_text("# my scenario, by hand\n[scenario]\nname = 'mine'\n")
    assert fit(log, calls, "--out", out) == 2
    assert (
        "x.toml: exists and is not a scenario sim fit wrote; move it away, choose another --out, or give --force"
        in capsys.readouterr().err
    )
    assert out.read_text().startswith("# my scenario")
    assert fit(log, calls, "--out", out, "--force") == 0
    assert (tmp_path / "x-crm.csv").read_text().startswith(EMPIRICAL_HEADER + "\n")
    assert fit(log, calls, "--out", out) == 0  # its own scenario and empirical file: replaced without --force
    (tmp_path / "x-llm.csv").write_text("seconds\n1\n2\n")  # somebody's own, where sim fit may write
    assert fit(log, calls, "--out", out) == 2
    assert (
        "x-llm.csv (which sim fit writes beside the scenario) exists and is not an empirical file sim fit wrote"
        in capsys.readouterr().err
    )
    assert (tmp_path / "x-llm.csv").read_text() == "seconds\n1\n2\n"


def test_an_empirical_file_an_older_sims_scenario_names_is_its_own(tmp_path):
    """Before the header mark, sim fit wrote `seconds` as an empirical file's header: the scenario beside
    it, sim's by its first line, names the file, so it is sim's to replace."""
    log, calls = messages(tmp_path / "m.csv"), three_point_calls(tmp_path / "c.csv")
    out = tmp_path / "x.toml"
    assert fit(log, calls, "--out", out) == 0
    (tmp_path / "x-crm.csv").write_text("seconds\n5\n9\n14\n")  # as an older sim wrote it
    assert fit(log, calls, "--out", out) == 0
    assert (tmp_path / "x-crm.csv").read_text().startswith(EMPIRICAL_HEADER)


def test_a_link_at_the_output_is_refused(tmp_path, capsys):
    log = messages(tmp_path / "m.csv")
    (tmp_path / "x.toml").symlink_to(tmp_path / "elsewhere.toml")
    assert fit(log, "--out", tmp_path / "x.toml", "--force") == 2
    assert "exists and is not a regular file" in capsys.readouterr().err


def test_the_same_file_given_twice_is_refused(tmp_path, capsys, monkeypatch):
    """`messages.csv ./messages.csv` silently doubled every session."""
    log = messages(tmp_path / "messages.csv")
    os.link(log, tmp_path / "hard.csv")
    monkeypatch.chdir(tmp_path)
    for twice in (["messages.csv", "./messages.csv"], ["messages.csv", "hard.csv"]):
        assert fit(*twice, "--out", "x.toml") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "the same file as messages.csv, given twice" in err
    assert not (tmp_path / "x.toml").exists()


def test_repeated_rows_are_counted_as_duplicates_and_not_used(tmp_path, capsys):
    """Exact duplicate rows silently doubled every session."""
    log = messages(tmp_path / "once.csv")
    lines = log.read_text().splitlines(keepends=True)
    (tmp_path / "twice.csv").write_text(lines[0] + "".join(line * 2 for line in lines[1:]))
    assert fit(log, "--out", tmp_path / "once.toml") == 0
    capsys.readouterr()
    assert fit(tmp_path / "twice.csv", "--out", tmp_path / "twice.toml") == 0
    err = capsys.readouterr().err
    assert "300 bad rows not used, 300 of them repeated messages" in err and "the same message as an earlier row" in err
    once, twice = load_scenario(tmp_path / "once.toml"), load_scenario(tmp_path / "twice.toml")
    assert once.workload.burst_size == twice.workload.burst_size
    assert once.workload.customers_per_hour == twice.workload.customers_per_hour


def test_a_log_of_weekends_only_gives_a_scenario_that_loads(tmp_path):
    """Three weeks of weekend traffic: all-zero weekday rates, then sim fit failed to load its own output
    and left the unloadable file on disk."""
    log = messages(tmp_path / "m.csv", count=6000, days=21, weekends_only=True)
    out = tmp_path / "w.toml"
    assert fit(log, "--out", out) == 0
    scenario = load_scenario(out)
    assert sum(scenario.workload.hourly_rates) > 0
    assert "weekends: no weekday had traffic" in out.read_text()


def test_a_scenario_sim_cannot_load_is_never_left_on_disk(tmp_path, monkeypatch, capsys):
    log = messages(tmp_path / "m.csv")
    out = tmp_path / "x.toml"
    monkeypatch.setattr(scenario_file, "render", lambda *args: "[workload]\ncustomers_per_hour = -1\n")
    assert fit(log, "--out", out) == 4  # a bug in sim, not the user's input
    assert "internal error" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]  # nothing written, no staging left


def test_new_files_get_the_umasks_permissions_and_replaced_ones_keep_theirs(tmp_path):
    """Outputs were 0600 whatever the umask, and a replaced 0644 file lost its read bits."""
    log, calls = messages(tmp_path / "m.csv"), three_point_calls(tmp_path / "c.csv")
    old = os.umask(0o022)
    try:
        assert fit(log, calls, "--out", tmp_path / "x.toml") == 0
        assert main(["trace", str(log), "--out", str(tmp_path / "t.csv")]) == 0
        for name in ("x.toml", "x-crm.csv", "t.csv"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
        os.chmod(tmp_path / "x.toml", 0o640)
        os.chmod(tmp_path / "t.csv", 0o664)
        assert fit(log, calls, "--out", tmp_path / "x.toml") == 0
        assert main(["trace", str(log), "--out", str(tmp_path / "t.csv")]) == 0
        assert stat.S_IMODE((tmp_path / "x.toml").stat().st_mode) == 0o640
        assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_sim_trace_replaces_its_own_trace_and_nothing_else_without_force(tmp_path, capsys):
    log = messages(tmp_path / "m.csv")
    out = tmp_path / "t.csv"
    assert main(["trace", str(log), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0].endswith(",written_by_sim_trace")
    assert main(["trace", str(log), "--out", str(out)]) == 0  # its own: replaced
    other = tmp_path / "notes.csv"
    other.write_text("my,own\n")
    assert main(["trace", str(log), "--out", str(other)]) == 2
    assert "notes.csv: exists and is not a trace sim trace wrote" in capsys.readouterr().err
    assert other.read_text() == "my,own\n"
    assert main(["trace", str(log), "--out", str(other), "--force"]) == 0
    assert main(["trace", str(out), "--out", str(out), "--force"]) == 2  # never an input, even with --force
