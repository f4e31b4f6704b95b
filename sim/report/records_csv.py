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
"""

from __future__ import annotations

import csv
from pathlib import Path

from sim.metrics.comparison import Comparison
from sim.metrics.records import FIELDS, MessageRecord
from sim.report.numbers import decimal_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write(c: Comparison, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("variant", "replication", *FIELDS, "latency"))
        for variant, runs in c.runs.items():
            for run in runs:
                for r in run.records:
                    writer.writerow((text_cell(variant), run.replication, *row(r)))


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
