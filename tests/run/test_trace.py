"""`[workload]trace`: recorded arrivals replayed exactly; scale copies or thins whole sessions;
a bad trace is one line before anything runs."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sim.core.errors import ScenarioError
from sim.run.streams import Streams
from sim.run.workload import arrivals, planned_messages
from sim.scenario import load_scenario
from sim.scenario.describe import setup, workload
from sim.world.model import simulate
from tests.helpers import ROOT, sim_process, write_scenario

LOG = ROOT / "examples" / "logs" / "messages.csv"
MIDNIGHT = datetime.fromisoformat("2024-03-04T00:00:00+00:00").timestamp()  # the log's first hour


def rows(path: Path = LOG) -> list[tuple[float, str]]:
    with path.open() as f:
        read = csv.DictReader(f)
        return [(datetime.fromisoformat(r["timestamp"]).timestamp() - MIDNIGHT, r["customer"]) for r in read]


def same(got: list[tuple[float, str]], expected: list[tuple[float, str]]) -> bool:
    """The same customers in the same order, at the same instants to a microsecond (the log's precision)."""
    got, expected = sorted(got), sorted(expected)
    times_agree = np.allclose([t for t, _ in got], [t for t, _ in expected], rtol=0, atol=1e-6)
    return [c for _, c in got] == [c for _, c in expected] and times_agree


def traced(folder: Path, trace: str = '"messages.csv"', extra: str = "", log: Path = LOG) -> Path:
    (folder / "messages.csv").write_bytes(log.read_bytes())
    text = f"""
        [scenario]
        seed = 5
        replications = 2
        [workload]
        trace = {trace}
        [workers]
        count = 40
        [variants.before]
        [variants.after]
        cache = {{ enabled = true }}
        lock = {{ timeout = "60s" }}
        {extra}
        """
    return write_scenario(folder, text)


def test_every_variant_and_replication_replays_the_files_messages_exactly(tmp_path):
    s = load_scenario(traced(tmp_path))
    expected = rows()
    assert s.duration == 3600.0  # the log's hour: the window is its whole hours
    for variant in s.variants:
        for replication in (0, 1):
            records = simulate(s, variant, replication).records
            assert same([(r.arrival, r.customer) for r in records], expected)


def test_a_session_of_the_log_is_one_burst_in_time_order(tmp_path):
    s = load_scenario(traced(tmp_path))
    made = list(arrivals(s, 0))
    assert [a.at for a in made] == sorted(a.at for a in made)
    by_burst: dict[int, list] = {}
    for a in made:
        by_burst.setdefault(a.burst, []).append(a)
    for members in by_burst.values():
        assert len({a.customer for a in members}) == 1
        assert [a.index for a in members] == list(range(len(members)))
        gaps = np.diff([a.at for a in members])
        assert np.all(gaps <= 600.0)  # a silence over the session gap starts another burst
    assert len(by_burst) == s.workload.trace.sessions < len(made)


def test_latencies_still_come_from_each_variants_services_with_common_random_numbers(tmp_path):
    s = load_scenario(traced(tmp_path, extra='[variants.slow]\nservices = { llm = "40s" }'))
    rng = lambda: Streams.of(s.seed, 0)  # noqa: E731
    before, slow = (list(planned_messages(s, s.variant(v).services, rng())) for v in ("before", "slow"))
    assert [m.crm_latency for m in before] == [m.crm_latency for m in slow]  # same CRM, same draws
    assert {m.llm_latency for m in slow} == {40.0} and len({m.llm_latency for m in before}) > 10


def test_scale_two_is_the_trace_and_a_shifted_copy_of_other_customers(tmp_path):
    s = load_scenario(traced(tmp_path, '{ file = "messages.csv", scale = 2, shift = "5m" }'))
    made = list(arrivals(s, 0))
    original = [a for a in made if "~" not in a.customer]
    copy = [a for a in made if a.customer.endswith("~1")]
    assert len(original) == len(copy) == len(made) // 2 == len(rows())
    assert same([(a.at, a.customer) for a in original], rows())  # copy 0 is the trace
    assert Counter(a.customer[:-2] for a in copy) == Counter(c for _, c in rows())
    moved = {a.burst: a.at for a in copy if a.index == 0}
    assert all(0 <= t < 3600 for t in moved.values())
    assert list(arrivals(s, 0)) == made  # the same seed and replication: the same copy
    assert [a.at for a in arrivals(s, 1)] != [a.at for a in made]  # another replication: another copy


def test_a_fractional_scale_keeps_whole_sessions_with_that_probability(tmp_path):
    s = load_scenario(traced(tmp_path, '{ file = "messages.csv", scale = 0.5 }'))
    sessions = s.workload.trace.sessions
    kept = [list(arrivals(s, r)) for r in range(20)]
    share = np.mean([len({a.burst for a in k}) for k in kept]) / sessions
    assert share == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / (20 * sessions)))
    full = {(round(t, 6), c) for t, c in rows()}
    for k in kept[:3]:
        assert {(round(a.at, 6), a.customer) for a in k} <= full  # unshifted, unrenamed: a subset of the trace
        whole = Counter(a.customer for a in k)
        assert all(n == sum(1 for _, c in rows() if c == who) for who, n in whole.items() if n)  # whole sessions


def test_the_window_cuts_the_trace_and_sets_the_duration(tmp_path):
    window = '{ file = "messages.csv", start = 2024-03-04T00:01:00Z, end = "2024-03-04T00:03:00+00:00" }'
    s = load_scenario(traced(tmp_path, window))
    assert s.duration == 120.0
    inside = [(t - 60, c) for t, c in rows() if 60 <= t < 180]
    assert same([(a.at, a.customer) for a in arrivals(s, 0)], inside)


def test_the_setup_records_the_trace_by_digest_and_the_words_say_what_was_replayed(tmp_path):
    s = load_scenario(traced(tmp_path))
    data = setup(s)["workload"]["trace"]
    assert data["messages"] == len(rows()) and len(data["sha256"]) == 64 and data["file"] == "messages.csv"
    assert "replayed from messages.csv: 113 messages in" in workload(s)[1]
    other = load_scenario(traced(tmp_path, '{ file = "messages.csv", end = 2024-03-04T00:04:00Z }'))
    assert setup(other)["workload"]["trace"]["sha256"] != data["sha256"]


@pytest.mark.parametrize(
    ("trace", "extra", "message"),
    [
        ('"nowhere.csv"', "", r"\[workload.trace\]file: .*nowhere.csv: no such log file"),
        ('"../messages.csv"', "", r"file: '../messages.csv' is outside the scenario's folder"),
        ('"/etc/passwd"', "", r"file: '/etc/passwd' is outside the scenario's folder"),
        ('"s.toml"', "", r"must end in .csv, .jsonl or .ndjson"),
        ('{ file = "messages.csv", scale = 0 }', "", r"\[workload.trace\]scale: must be above 0"),
        ('{ file = "messages.csv", scale = 1e9 }', "", r"scale: must be <= 1000"),
        ('{ file = "messages.csv", start = 2025-01-01T00:00:00Z }', "", r"end: must be after start"),
        ('{ file = "messages.csv", end = 2024-03-04T00:00:01Z }', "", r"file: messages.csv: no message inside"),
        ('{ file = "messages.csv", timezone = "../../etc/passwd" }', "", r"timezone: expected an IANA name"),
        ('{ file = "messages.csv", columns = { nope = "x" } }', "", r"columns\]nope: not a log field"),
        ('{ file = "messages.csv", bogus = 1 }', "", r"\[workload.trace\]bogus: unknown key"),
        ('"messages.csv"\ncustomers_per_hour = 10', "", r"customers_per_hour: not with a trace"),
        ('"messages.csv"', '[scenario]\nduration = "1h"', None),
    ],
)
def test_a_bad_trace_setting_is_one_line_naming_the_key(tmp_path, trace, extra, message):
    path = traced(tmp_path, trace)
    if extra:  # a second [scenario] table is invalid TOML: put the key into the first
        path.write_text(path.read_text().replace("[scenario]\n", "[scenario]\nduration = '1h'\n", 1))
        message = r"\[scenario\]duration: the trace's window sets it"
    with pytest.raises(ScenarioError, match=message) as error:
        load_scenario(path)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(path))


def test_a_fifo_or_an_oversized_trace_is_refused_before_anything_runs(tmp_path, monkeypatch):
    import os

    from sim.logs import read as logs

    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    path = write_scenario(tmp_path, '[workload]\ntrace = "fifo.csv"\n', "f.toml")
    with pytest.raises(ScenarioError, match="fifo.csv: not a regular file"):
        load_scenario(path)
    monkeypatch.setattr(logs, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ScenarioError, match="larger than the limit of 1,000 bytes"):
        load_scenario(traced(tmp_path))


def test_bad_rows_are_a_warning_with_their_place_and_the_cli_exits_2_on_a_bad_trace(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(LOG.read_text() + "not a time,c1\n")
    s = load_scenario(traced(tmp_path, log=log))
    assert any("1 bad rows of messages.csv not used (first: " in w and "messages.csv:115:" in w for w in s.warnings)
    bad = write_scenario(tmp_path, '[workload]\ntrace = "missing.csv"\n', "bad.toml")
    done = sim_process("run", bad)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "missing.csv" in done.stderr
