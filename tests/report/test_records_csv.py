"""records.csv cells: true/false, empty for "never", one number format, no spreadsheet formulas."""

import csv
import dataclasses

from sim.cli import main
from sim.metrics.records import FIELDS, MessageRecord
from sim.report.records_csv import cell, row

PLAIN = MessageRecord(
    message=7, customer="thread_magna", index=0, arrival=1.0, queue_wait=0.0, lock_wait=0.25, lock_attempts=1,
    outcome="answered", source="hit", crm_s=0.0, llm_s=12.3456789, reply_at=13.6, lock_lost=False, done_at=13.6,
    redis_commands=5, cache_errors=0, lock_errors=0, started_at=1.0,
)  # fmt: skip
# What may never happen to a message: None in the record, an empty cell in the file.
NEVER = ("merged_into", "acquired_at", "lock_asked_at", "lock_refreshed_at", "released_at", "cache_checked_at")


def cells(record):
    return dict(zip((*FIELDS, "latency"), row(record), strict=True))


def test_never_is_none_in_the_record_not_a_sentinel():
    assert all(getattr(PLAIN, name) is None for name in NEVER)
    assert dataclasses.replace(PLAIN, source=None).source is None  # an outage check that did not finish


def test_never_and_empty_batches_are_empty_cells_and_booleans_are_words():
    got = cells(dataclasses.replace(PLAIN, source=None))
    assert all(got[name] == "" for name in (*NEVER, "source"))
    assert got["batch"] == ""
    assert (got["lock_lost"], got["llm_called"]) == ("false", "false")
    assert cells(dataclasses.replace(PLAIN, lock_lost=True))["lock_lost"] == "true"


def test_numbers_are_plain_decimals_to_the_microsecond():
    got = cells(dataclasses.replace(PLAIN, acquired_at=0.0000012, merged_into=3, batch=(3, 4, 9)))
    assert (got["llm_s"], got["arrival"], got["crm_s"], got["latency"]) == ("12.345679", "1", "0", "12.6")
    assert got["acquired_at"] == "0.000001"  # not 1.2e-06
    assert (got["merged_into"], got["batch"], got["redis_commands"]) == ("3", "3;4;9", "5")
    assert cell(-0.0000001) == "0"  # not "-0": a minus sign that rounding left behind


def test_text_that_starts_like_a_formula_is_escaped():
    for hostile in ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert cell(hostile) == "'" + hostile
    assert cell("123.456.789-00") == "123.456.789-00"  # a dash inside is harmless


def test_a_hostile_customer_and_tax_id_from_the_scenario_reach_the_csv_escaped(tmp_path):
    scenario = tmp_path / "hostile.toml"
    scenario.write_text(
        "[workload]\n[[workload.script]]\ncustomer = '=cmd|\"/c calc\"!A1'\ntax_id = '@SUM(1+1)'\nmessages = ['0s']\n"
    )
    assert main(["compare", str(scenario), "--out", str(tmp_path / "out"), "--quiet", "--processes", "1"]) in (0, 1)
    with (tmp_path / "out" / "hostile" / "records.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["customer"] == '\'=cmd|"/c calc"!A1' for r in rows)
    assert all(r["tax_id"] == "'@SUM(1+1)" for r in rows)
    assert not any(value.startswith(("=", "+", "@")) for r in rows for value in r.values())
