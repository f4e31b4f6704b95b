"""Records on disk: each worker writes records/VARIANT-REP.csv.gz; the parent never holds them."""

import dataclasses
import gzip
from pathlib import Path

import pytest

from sim import experiment
from sim.cli import main
from sim.experiment import Records, run_replications
from sim.report import records_csv
from sim.scenario import load_scenario
from tests.helpers import MAGNA, PEAK_HOUR


@pytest.fixture(scope="module")
def scenario():
    return dataclasses.replace(load_scenario(PEAK_HOUR), replications=2, duration=120.0)


def test_files_written_by_two_workers_hold_exactly_the_rows_of_records_csv(scenario, tmp_path):
    written = tmp_path / "written"
    written.mkdir()
    on_disk = run_replications(scenario, processes=2, records=Records(folder=str(written)))
    kept = run_replications(scenario, processes=1, records=Records(keep=True))
    records_csv.write(kept, tmp_path / "records.csv")
    header, *rows = (tmp_path / "records.csv").read_text(encoding="utf-8").splitlines()
    from_files = []
    for variant, runs in on_disk.runs.items():
        for run in runs:
            assert run.records is None and run.records_file == f"{variant}-{run.replication}.csv.gz"
            first, *lines = gzip.decompress((written / run.records_file).read_bytes()).decode("utf-8").splitlines()
            assert first == header
            from_files += lines
    assert len(rows) > 100 and from_files == rows
    assert sorted(p.name for p in written.iterdir()) == sorted(
        r.records_file for rs in on_disk.runs.values() for r in rs
    )


def test_a_records_file_is_the_same_bytes_on_every_run(scenario, tmp_path):
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir(), second.mkdir()
    run_replications(scenario, processes=2, records=Records(folder=str(first)))
    run_replications(scenario, processes=1, records=Records(folder=str(second)))
    assert [p.read_bytes() for p in sorted(first.iterdir())] == [p.read_bytes() for p in sorted(second.iterdir())]


@pytest.mark.parametrize("variant", ["../evil", "a/b", "..", ".hidden", "/abs", "x\x00y", "", "a" * 65])
def test_a_records_file_never_lands_outside_its_folder(tmp_path, variant):
    with pytest.raises(ValueError, match="not a safe records file name"):
        records_csv.run_file(tmp_path, variant, 0)
    assert list(tmp_path.iterdir()) == []


def test_a_valid_variant_name_names_its_file_inside_the_folder(tmp_path):
    assert records_csv.run_file(tmp_path, "after v2.1+fix", 12) == tmp_path / "after v2.1+fix-12.csv.gz"
    with pytest.raises(ValueError):
        records_csv.run_file(tmp_path, "after", -1)


def compare(out):
    return main(["compare", MAGNA, "--out", str(out), "--quiet", "--replications", "2", "--processes", "2"])


def test_a_large_comparison_writes_records_files_and_no_records_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "RECORDS_CSV_LIMIT", 0)
    assert compare(tmp_path) == 0
    report = tmp_path / "magna"
    assert not (report / "records.csv").exists()
    names = sorted(p.name for p in (report / "records").iterdir())
    assert names == ["after-0.csv.gz", "after-1.csv.gz", "before-0.csv.gz", "before-1.csv.gz"]
    assert compare(tmp_path) == 0  # the folder is recognised as sim's and replaced
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []  # no staging folder left


def test_a_records_folder_holding_a_foreign_file_makes_the_report_folder_not_ours(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "RECORDS_CSV_LIMIT", 0)
    assert compare(tmp_path) == 0
    (tmp_path / "magna" / "records" / "notes.txt").write_text("mine")
    assert compare(tmp_path) == 2
    assert (tmp_path / "magna" / "records" / "notes.txt").read_text() == "mine"


def test_a_small_comparison_keeps_records_csv(tmp_path):
    assert compare(tmp_path) == 0
    assert (tmp_path / "magna" / "records.csv").is_file() and not Path(tmp_path / "magna" / "records").exists()
