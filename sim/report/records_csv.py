"""records.csv: one row per message, every variant and replication, for anyone who wants to dig.

Cells are written for a spreadsheet as much as for a script:
- booleans `true` / `false`;
- "never" (a time that did not happen, no merge, an outage check that did not finish:
  None in the record) and an empty batch are an empty cell;
- numbers in one format, plain decimals to the microsecond (`sim.report.numbers.decimal_text`);
- a batch of message ids as `3;4;7`;
- text (a customer id, a tax id: copied from the scenario file, so possibly hostile) that
  starts like a spreadsheet formula (`=`, `+`, `-`, `@`, a tab or a carriage return) gets a
  leading `'`, which spreadsheets read as "this is text" (OWASP's advice on CSV injection).

A large comparison's records never reach the parent: each worker writes its replication's
records to `records/VARIANT-REP.csv.gz` (`write_run`: the same header and cells, gzip, no
timestamp in the file so that the same run gives the same bytes) and records.csv is not written.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from sim.metrics.comparison import Comparison
from sim.metrics.records import FIELDS, MessageRecord
from sim.report.numbers import decimal_text
from sim.scenario.load import VARIANT_NAME

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("variant", "replication", *FIELDS, "latency")
RECORDS_FOLDER = "records"  # in a report folder: one file per replication when records.csv would be too large
RECORDS_FILE = re.compile(rf"(?P<variant>{VARIANT_NAME.pattern})-(?P<replication>\d{{1,5}})\.csv\.gz")


def write(c: Comparison, path: Path) -> None:
    """records.csv of the runs that kept their records (header only if none did)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        _write_rows(out, ((v, run.replication, run.records or ()) for v, runs in c.runs.items() for run in runs))


def write_run(folder: Path, variant: str, replication: int, records: Sequence[MessageRecord]) -> Path:
    """One replication's records as `folder/VARIANT-REP.csv.gz`; the name is checked to stay inside `folder`."""
    path = run_file(folder, variant, replication)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
        with io.TextIOWrapper(packed, encoding="utf-8", newline="") as out:
            _write_rows(out, [(variant, replication, records)])
    return path


def run_file(folder: Path, variant: str, replication: int) -> Path:
    """`folder/VARIANT-REP.csv.gz`, refused unless the variant is a valid name and the file lies in `folder`."""
    name = f"{variant}-{replication}.csv.gz"
    path = folder / name
    if not RECORDS_FILE.fullmatch(name) or replication < 0 or path.parent != folder or path.name != name:
        raise ValueError(f"{name[:100]!r} is not a safe records file name")
    return path


def _write_rows(out: TextIO, runs: Iterable[tuple[str, int, Sequence[MessageRecord]]]) -> None:
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for variant, replication, records in runs:
        for r in records:
            writer.writerow((text_cell(variant), replication, *row(r)))


def row(r: MessageRecord) -> list[str]:
    """A record's cells, in FIELDS order, then its latency."""
    return [cell(getattr(r, name)) for name in FIELDS] + [cell(r.latency)]


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # before the numbers: a bool is an int
        return "true" if value else "false"
    if isinstance(value, int | float):
        return decimal_text(value)
    if isinstance(value, tuple):
        return text_cell(";".join(map(str, value)))
    return text_cell(str(value))


def text_cell(text: str) -> str:
    """Text that no spreadsheet will run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
