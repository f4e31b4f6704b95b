"""The report's "By segment" and "Over time" sections and the per-window plots."""

import dataclasses
import math

import numpy as np
import pytest

from sim.cli import main
from sim.metrics.context import RunContext, Shaded, ShadeKind
from sim.metrics.segments import Grouping, Segment
from sim.metrics.stats import Estimate
from sim.metrics.timeseries import SERIES, TimeSeries
from sim.report import document, markdown, window_plots
from sim.report.figures import plt
from tests.helpers import SCENARIOS
from tests.report.test_plots import comparison, record, shaded_spans


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def estimates(messages, busy, p95, failed, n=3):
    spread = 0.0 if n < 2 else 0.01
    return {
        "messages": Estimate(messages, messages, messages, n),
        "busy_rate": Estimate(busy, max(busy - spread, 0.0), busy + spread, n),
        "latency_answered_p95_s": Estimate(p95, p95 - 1, p95 + 1, n) if p95 else Estimate(math.nan, 0.0, 0.0, 0),
        "failed_share": Estimate(failed, failed, failed, n),
    }  # fmt: skip


def with_segments():
    c = comparison({"before": [record(0)], "after": [record(0)]})
    fault = {"before": estimates(10.0, 0.5, 30.0, 0.1), "after": estimates(10.0, 0.0, 12.5, 0.0)}
    outside = {"before": estimates(90.5, 0.02, 4.0, 0.0), "after": estimates(90.5, 0.0, None, 0.0, n=1)}
    segments = (
        Segment(grouping=Grouping.FAULT, side="arrived during a fault", inside=True, estimates=fault),
        Segment(grouping=Grouping.FAULT, side="arrived outside faults", inside=False, estimates=outside),
    )
    return dataclasses.replace(c, segments=segments)


def test_the_segment_table_has_a_row_per_side_and_variant_with_each_metric_in_its_unit():
    text = markdown.render(document.segment_blocks(with_segments()))
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert "### Arrived during a fault vs outside" in text
    assert table == [
        "| segment | variant | messages | busy_rate | latency_answered_p95_s | failed_share |",
        "| --- | --- | --- | --- | --- | --- |",
        "| arrived during a fault | before | 10.0 [10.0, 10.0] | 0.500 [0.490, 0.510] | 30.00 s [29.00 s, 31.00 s] "
        "| 0.100 [0.100, 0.100] |",
        "| arrived during a fault | after | 10.0 [10.0, 10.0] | 0.000 [0.000, 0.010] | 12.50 s [11.50 s, 13.50 s] "
        "| 0.000 [0.000, 0.000] |",
        "| arrived outside faults | before | 90.5 [90.5, 90.5] | 0.020 [0.010, 0.030] | 4.00 s [3.00 s, 5.00 s] "
        "| 0.000 [0.000, 0.000] |",
        "| arrived outside faults | after | 90.5 | 0.000 | not applicable | 0.000 |",
    ]


def test_the_report_places_segments_after_the_verdicts_and_before_the_summary_and_omits_them_when_none():
    c = with_segments()
    text = markdown.render(document.build(c, plots=False))
    assert text.index("## after vs before") < text.index("## By segment") < text.index("## Summary")
    assert "By segment" not in markdown.render(document.build(dataclasses.replace(c, segments=()), plots=False))


def series(count, window_s=900.0):
    ones = tuple(Estimate(0.25 * (k % 2), 0.0, 0.5, 2) for k in range(count))
    p95 = tuple(Estimate(k + 0.5, k, k + 1.0, 2) for k in range(count))
    metrics = {m: ones for m in SERIES} | {"latency_answered_p95_s": p95}
    return TimeSeries(window_s=window_s, starts=tuple(k * window_s for k in range(count)), values={"a": metrics})


def test_a_short_series_is_a_table_of_means_by_clock_window_and_a_long_one_a_pointer():
    text = markdown.render(document.over_time(series(3), ["a"]))
    assert [line for line in text.splitlines() if line.startswith("|")][2:] == [
        "| 00:00–00:15 | 0.000 | 0.50 s |",
        "| 00:15–00:30 | 0.250 | 1.50 s |",
        "| 00:30–00:45 | 0.000 | 2.50 s |",
    ]
    assert "a busy_rate | a latency_answered_p95_s" in text and "15 min" in text
    long = markdown.render(document.over_time(series(25, 5.0), ["a"]))
    assert "25 windows of 5 s" in long and "timeseries.csv" in long and "|" not in long
    assert markdown.render(document.over_time(series(2, 5.0), ["a"])).count("| 0:05–0:10 |") == 1


CONTEXT = RunContext(
    duration=3600.0,
    shaded=(
        Shaded(kind=ShadeKind.FAULT, label="redis down", start=600.0, end=900.0),
        Shaded(kind=ShadeKind.SURGE, label="surge ×5", start=1200.0, end=1800.0),
    ),
)


@pytest.mark.parametrize("plot", ["busy_by_window", "p95_by_window"])
def test_the_window_plots_draw_a_line_and_band_per_variant_and_shade_the_context(plot):
    one = [record(i, i * 30.0, 31.0 + i * 30.0, outcome="busy" if i % 3 == 0 else "answered") for i in range(120)]
    two = [record(i, i * 30.0, 5.0 + i * 30.0) for i in range(120)]
    c = comparison({"short": [one, two], "long": [two, two]}, CONTEXT)
    ax = getattr(window_plots, plot)(c).axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["short", "long"]
    assert len(ax.collections) == 2  # one 95 % band per variant
    assert [(start, end) for start, end, _ in shaded_spans(ax)] == [(10.0, 15.0), (20.0, 30.0)]  # minutes
    metric = "busy_rate" if plot == "busy_by_window" else "latency_answered_p95_s"
    means = [e.mean for e in c.timeseries.values["short"][metric]]
    assert np.allclose(lines[0].get_ydata(), means, equal_nan=True)
    assert ax.get_xlabel() == "minutes from the start of the run"
    if plot == "busy_by_window":
        assert np.nanmax(lines[0].get_ydata()) > 0 and np.nanmax(lines[1].get_ydata()) == 0


def test_a_day_of_windows_reads_by_hour_of_day():
    c = comparison({"a": [record(i, i * 600.0) for i in range(144)]}, RunContext(duration=86400.0))
    fig = window_plots.busy_by_window(c)
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    labels = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert labels[:3] == ["00:00", "03:00", "06:00"] and "time of day" in ax.get_xlabel()


@pytest.mark.slow
def test_a_scenario_with_a_fault_reports_its_segments_and_window_plots(tmp_path):
    scenario = SCENARIOS / "redis-restart.toml"
    assert main(["compare", str(scenario), "--out", str(tmp_path), "--quiet", "--replications", "2"]) == 0
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    text = (folder / "report.md").read_text()
    assert "## By segment" in text and "### Arrived during a fault vs outside" in text
    assert "## Over time" in text
    for name in ("busy_by_window.png", "p95_by_window.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in text
