"""timeseries.csv: the time windows of a comparison, one row per variant × window × metric.

Columns: variant, metric, window start and end (seconds from the start of the run), and the
mean and 95 % band across replications (`sim.metrics.timeseries`). Cells as in records.csv:
plain decimals, a variant name that starts like a formula gets a leading `'`, and a value
that does not apply to the window (no message arrived, none answered) is an empty cell.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from sim.metrics.comparison import Comparison
from sim.report.records_csv import cell, text_cell

HEADER = ("variant", "metric", "window_start_s", "window_end_s", "mean", "low", "high")


def write(c: Comparison, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        ts = c.timeseries
        if ts is None:
            return
        for variant, metrics in ts.values.items():
            for metric, estimates in metrics.items():
                for start, e in zip(ts.starts, estimates, strict=True):
                    window = (cell(start), cell(start + ts.window_s))
                    writer.writerow((text_cell(variant), metric, *window, _cell(e.mean), _cell(e.low), _cell(e.high)))


def _cell(value: float) -> str:
    return "" if math.isnan(value) else cell(value)
