"""Reading production logs: formats, column names, timezones, bad rows counted with their place."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.core.errors import ArgumentError
from sim.fit.sessions import population
from sim.logs.read import Field, parse_columns, read_logs


def test_bad_rows_are_counted_with_file_and_line_and_never_quoted(tmp_path):
    log = tmp_path / "m.csv"
    log.write_text(
        "timestamp,customer,outcome,reply_s\n"
        "2024-03-04T10:00:00+00:00,a,answered,20\n"
        "2024-03-04T10:00:05+00:00,a,maybe,20\n"  # unknown outcome
        "not-a-time,b,answered,20\n"
        "2024-03-04T10:00:09+00:00,c,answered,1e999\n"  # no finite number
        "2024-03-04T10:00:09,c,answered,3\n"  # naive timestamp
        "2024-03-04T10:01:00+00:00,d,busy\n"  # too few cells
        "2024-03-04T10:02:00-03:00,e,busy,\n"
    )
    logs = read_logs([str(log)], parse_columns(None), None)
    assert [m.customer for m in logs.messages] == ["a", "e"]
    assert logs.bad_count == 5 and logs.rows == 6  # the short row never became a row
    assert sorted(b.line for b in logs.bad) == [3, 4, 5, 6, 7]
    reasons = " ".join(str(b) for b in logs.bad)
    assert "m.csv:3: outcome must be one of answered, busy, failed" in reasons
    assert "m.csv:6: timestamp has no timezone" in reasons
    assert "maybe" not in reasons and "not-a-time" not in reasons


def test_a_timezone_reads_naive_timestamps_and_counts_hours_in_it(tmp_path):
    log = tmp_path / "m.jsonl"
    log.write_text('{"ts": "2024-03-04T10:00:00", "conv": "x"}\n{"ts": "2024-03-04T10:00:03", "conv": "x"}\n[1]\n')
    logs = read_logs([str(log)], parse_columns("timestamp=ts,customer=conv"), _zone("America/Sao_Paulo"))
    assert logs.messages[0].at == 1709557200.0  # 10:00 at UTC−3 is 13:00 UTC
    assert logs.bad_count == 1 and str(logs.bad[0]).endswith("m.jsonl:3: not a JSON object")


def _zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time=ts", "expected FIELD=COLUMN"),
        ("timestamp=", "a column name of 1 to 64"),
        ("timestamp=a,customer=a", "given to two fields"),
    ],
)
def test_column_names_are_checked(text, expected):
    with pytest.raises(ArgumentError, match=expected):
        parse_columns(text)
    assert parse_columns("customer=conv")[Field.CUSTOMER] == "conv"


def test_unusable_input_is_one_line_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "m.csv"
    empty.write_text("timestamp,customer\nyesterday,a\n")
    other = tmp_path / "m.txt"
    other.write_text("x")
    out = str(tmp_path / "s.toml")
    for args in (
        [str(empty), "--out", out],
        [str(other), "--out", out],
        [str(tmp_path / "absent.csv"), "--out", out],
        [str(empty), "--out", str(tmp_path / "s.txt")],
        [str(empty), "--out", out, "--timezone", "../../etc/passwd"],
    ):
        assert main(["fit", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("sim: error:") and err.count("\n") == 1, err
    assert not (tmp_path / "s.toml").exists()


def test_population_is_the_size_that_makes_the_repeats_most_likely():
    assert population(100, 100) == 0  # nobody came back: every session a new customer
    # 2400 uniform draws from 2000 customers give 2000·(1 − (1 − 1/2000)^2400) ≈ 1398.6 distinct ones
    assert abs(population(2400, 1399) - 2000) <= 5
