"""What the report's plots draw, read from the figures' Axes (lines, patches, labels), never from pixels."""

import warnings

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from sim.metrics.comparison import compare
from sim.metrics.context import RunContext, Shaded, ShadeKind
from sim.metrics.records import MessageRecord, RunResult
from sim.metrics.summary import out_of_order as counted_out_of_order
from sim.report import burst_plot, plots, sweep, time_plots
from sim.report.figures import plt
from sim.report.timeline import SHADE_ALPHA

DAY = 86400.0


def record(message, arrival=0.0, reply=None, **changes):
    reply = arrival + 1.0 if reply is None else reply
    fields = dict(
        message=message, customer="c", index=0, arrival=arrival, queue_wait=0.0, lock_wait=0.0, lock_attempts=1,
        outcome="answered", source="off", crm_s=0.0, llm_s=0.0, reply_at=reply, lock_lost=False, done_at=reply,
        redis_commands=0, cache_errors=0, lock_errors=0, started_at=arrival,
    )  # fmt: skip
    return MessageRecord(**{**fields, **changes})


def comparison(per_variant, context=None, replications=1):
    """`per_variant`: variant → its records, or a list of records per replication."""
    runs = {}
    for variant, records in per_variant.items():
        reps = records if records and isinstance(records[0], list) else [records] * replications
        runs[variant] = [
            RunResult(variant=variant, replication=i, records=tuple(rs), commands_per_second={0: 1, 10: 2})
            for i, rs in enumerate(reps)
        ]
    return compare("test", 1, next(iter(per_variant)), {v: v for v in per_variant}, runs, context=context)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_a_variant_without_a_cache_gets_no_hit_ratio_line_and_is_named_in_the_title():
    cached = [record(i, i * 10.0, source="hit" if i % 2 else "miss") for i in range(20)]
    uncached = [record(i, i * 10.0, source="off") for i in range(20)]
    fig = time_plots.cache_hit_ratio(comparison({"no-cache": uncached, "cached": cached}))
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["cached"]
    assert "no cache: no-cache" in ax.get_title()
    ratios = ax.get_lines()[0].get_ydata()
    assert np.nanmin(ratios) >= 0 and np.nanmax(ratios) <= 1 and not np.all(ratios == 0)


def test_with_no_cached_variant_the_hit_ratio_plot_says_so_and_draws_no_line():
    fig = time_plots.cache_hit_ratio(comparison({"a": [record(0, source="off")], "b": [record(0, source=None)]}))
    ax = fig.axes[0]
    assert ax.get_lines() == []
    assert any("no variant has a cache" in t.get_text() for t in ax.texts)


def shaded_spans(ax):
    spans = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_alpha() == SHADE_ALPHA]
    return sorted((p.get_x(), p.get_x() + p.get_width(), p.get_facecolor()[:3]) for p in spans)


WINDOWS = (
    Shaded(kind=ShadeKind.FAULT, label="redis down", start=600.0, end=900.0),
    Shaded(kind=ShadeKind.SURGE, label="surge ×5", start=1200.0, end=1800.0),
    Shaded(kind=ShadeKind.FAULT, label="redis restart", start=2400.0, end=2401.0),
)


@pytest.mark.parametrize("plot", ["cache_hit_ratio", "redis_load", "workers"])
def test_every_time_plot_shades_the_context_windows_exactly_one_colour_per_kind(plot):
    records = [record(i, i * 30.0, source="hit") for i in range(120)]  # an hour: the axis is in minutes
    fig = getattr(time_plots, plot)(comparison({"a": records}, RunContext(duration=3600.0, shaded=WINDOWS)))
    for ax in fig.axes:
        spans = shaded_spans(ax)
        assert [(start, end) for start, end, _ in spans] == [(w.start / 60, w.end / 60) for w in WINDOWS]
        colours = {w.kind: colour for w, (_, _, colour) in zip(WINDOWS, spans, strict=True)}
        assert len(set(colours.values())) == 2
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels.count("fault: redis down, redis restart") == 1 and labels.count("surge ×5") == 1
    assert fig.axes[-1].get_xlabel() == "minutes from the start of the run"


def test_a_day_long_run_reads_as_hours_of_the_day():
    records = [record(i, i * 600.0) for i in range(144)]
    fig = time_plots.redis_load(comparison({"a": records}, RunContext(duration=DAY)))
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    labels = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert labels[:3] == ["00:00", "03:00", "06:00"]
    assert all(len(label.split()[0]) == 5 and label[2] == ":" for label in labels)
    assert "time of day" in ax.get_xlabel()


def test_a_short_run_keeps_seconds_with_a_clear_label():
    fig = time_plots.redis_load(comparison({"a": [record(0, 1.0)]}, RunContext(duration=30.0)))
    assert fig.axes[0].get_xlabel() == "seconds from the start of the run"


def test_the_worker_plot_averages_every_replication_and_ticks_whole_workers():
    one_busy = [record(0, 0.0, 100.0)]
    three_busy = [record(i, 0.0, 100.0, customer=f"c{i}") for i in range(3)]
    fig = time_plots.workers(comparison({"a": [one_busy, three_busy]}))
    busy_ax, queue_ax = fig.axes
    assert busy_ax.get_shared_x_axes().joined(busy_ax, queue_ax)
    (mean,) = busy_ax.get_lines()
    assert np.allclose(mean.get_ydata(), 2.0)  # the mean of 1 and 3 busy workers, not replication 0's 1
    band = busy_ax.collections[0].get_paths()[0].vertices[:, 1]
    half = 12.706205 * np.sqrt(2) / np.sqrt(2)  # t(0.975, 1) · s / √n of the replications' 1 and 3 busy workers
    assert band.min() == pytest.approx(0.0) and band.max() == pytest.approx(2.0 + half)  # the 95 % band, cut at 0
    for ax in (busy_ax, queue_ax):
        ticks = ax.get_yticks()
        assert np.all(ticks == np.round(ticks)), ticks


def test_the_busiest_burst_marks_each_out_of_order_answer():
    burst = [
        record(0, 0.0, 50.0),
        record(1, 1.0, 20.0, index=1),  # before msg 1's answer: out of order
        record(2, 2.0, 60.0, index=2),
        record(3, 3.0, 55.0, index=3),  # before msg 3's answer: out of order
        record(4, 4.0, 30.0, index=4, outcome="busy", lock_wait=26.0),  # an apology, not an answer
    ]
    assert counted_out_of_order(burst) == 2
    fig = burst_plot.busiest_customer(comparison({"a": burst, "b": burst}))
    for ax in fig.axes:
        (markers,) = [line for line in ax.get_lines() if line.get_label() == burst_plot.OUT_OF_ORDER]
        assert len(markers.get_xdata()) == 2
        assert list(markers.get_ydata()) == [1, 3]  # the rows of msg 2 and msg 4
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[1])


def test_the_cdf_marks_each_lock_timeout_and_each_variants_p50_and_p95():
    busy = [record(i, 0.0, 30.001, lock_wait=30.001, outcome="busy", customer=f"c{i}") for i in range(10)]
    quick = [record(i, 0.0, 5.0, customer=f"q{i}") for i in range(10)]
    fig = plots.latency_cdf(comparison({"short": busy + quick, "none": quick}))
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == [30.0]
    assert any(t.get_text().strip() == "lock timeout 30 s: busy apologies (short)" for t in ax.texts)
    labels = ax.get_legend_handles_labels()[1]
    p95 = float(labels[0].split("p95 ")[1].split(" s")[0])
    assert labels[0].startswith("short (p50 ") and p95 == pytest.approx(30.001, rel=0.01)  # the sketch's 1 %
    assert "1% relative error" in ax.get_title()


def test_the_lock_wait_histograms_are_small_multiples_on_the_backoff_grid():
    waits = [record(i, 0.0, 40.0, lock_wait=w, customer=f"c{i}") for i, w in enumerate([0.1, 3.1, 5.1, 7.1, 31.0])]
    fig = plots.lock_wait(comparison({"a": waits, "b": waits[:2]}))
    first, second = fig.axes
    assert first.get_shared_x_axes().joined(first, second) and first.get_shared_y_axes().joined(first, second)
    (histogram,) = first.patches
    counts, edges, _ = histogram.get_data()
    assert edges[0] == 0 and np.allclose(np.diff(edges), 2.0)
    assert list(counts[:5]) == [1, 1, 1, 1, 0]  # one backoff step per bin: 0.1, 3.1, 5.1, 7.1
    assert "2 s bins" in fig.get_suptitle()


def test_bars_label_every_value_a_zero_included():
    fig = plots.busy_rate(comparison({"a": [record(0)], "a much longer variant name": [record(1)]}))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.000", "0.000"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "a much longer variant name"]


def test_every_plot_of_an_empty_run_draws_without_a_warning(tmp_path):
    empty = comparison({"a": [], "b": []}, RunContext(duration=DAY, shaded=WINDOWS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.write_all(empty, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(plots.PLOTTERS)


def test_a_sweep_heatmap_has_one_number_format_and_says_which_way_is_better():
    axes = [("lock.timeout", ("30s", "60s")), ("workers.count", ("1", "2"))]
    fig = sweep._heatmap(np.array([0.5, 0.25, 0.125, 0.0]), axes, "busy_rate", "Busy-apology rate")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.500", "0.250", "0.125", "0.000"]
    assert ax.get_title().endswith("better ↓")
    assert ax.get_images()[0].get_cmap().name == "viridis_r"  # the lowest, best, value yellow
    fig = sweep._heatmap(np.array([1234.5, 2.0, 3.0, 4.0]), axes, "redis_commands", "Redis commands per run")
    assert [t.get_text() for t in fig.axes[0].texts] == ["1,234.5", "2.0", "3.0", "4.0"]
