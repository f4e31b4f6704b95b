"""timeseries.csv: one row per variant × window × metric, clean cells."""

import csv
import math

from sim.metrics.comparison import Comparison
from sim.metrics.stats import Estimate
from sim.metrics.timeseries import TimeSeries
from sim.report import timeseries_csv


def comparison(ts):
    return Comparison(
        scenario="s", seed=1, replications=2, baseline="=base", descriptions={}, per_replication={}, estimates={},
        verdicts=[], thresholds=[], runs={}, timeseries=ts,
    )  # fmt: skip


def test_one_row_per_variant_window_and_metric_with_empty_cells_for_not_applicable(tmp_path):
    ts = TimeSeries(
        window_s=60.0,
        starts=(0.0, 60.0),
        values={
            "=base": {
                "busy_rate": (Estimate(0.25, 0.1, 0.4, 2), Estimate(math.nan, math.nan, math.nan, 0)),
                "messages": (Estimate(3.0, 3.0, 3.0, 2), Estimate(0.0, 0.0, 0.0, 2)),
            }
        },
    )
    path = tmp_path / "timeseries.csv"
    timeseries_csv.write(comparison(ts), path)
    rows = list(csv.reader(path.open()))
    assert rows == [
        ["variant", "metric", "window_start_s", "window_end_s", "mean", "low", "high"],
        ["'=base", "busy_rate", "0", "60", "0.25", "0.1", "0.4"],
        ["'=base", "busy_rate", "60", "120", "", "", ""],
        ["'=base", "messages", "0", "60", "3", "3", "3"],
        ["'=base", "messages", "60", "120", "0", "0", "0"],
    ]
