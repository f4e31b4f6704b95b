"""records.csv: one row per message, every variant and replication, for anyone who wants to dig."""

from __future__ import annotations

import csv
from pathlib import Path

from sim.metrics.comparison import Comparison
from sim.metrics.records import FIELDS


def write(c: Comparison, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("variant", "replication", *FIELDS, "latency"))
        for variant, runs in c.runs.items():
            for run in runs:
                for r in run.records:
                    writer.writerow(
                        (variant, run.replication, *(_cell(getattr(r, f)) for f in FIELDS), _cell(r.latency))
                    )


def _cell(value: object) -> object:
    return round(value, 6) if isinstance(value, float) else value
