"""Closed sets are enums that still read and serialise as the plain strings of the files."""

import json

import pytest

from sim.metrics.catalog import METRICS, Unit
from sim.metrics.records import RESOLVED, Outcome, Source
from sim.metrics.stats import Estimate
from sim.report.document import fmt_estimate, fmt_value
from sim.report.records_csv import cell


def test_outcomes_and_sources_serialise_as_the_strings_results_files_hold():
    assert json.dumps([Outcome.ANSWERED, Outcome.MERGED, Source.HIT, None]) == '["answered", "merged", "hit", null]'
    assert (cell(Outcome.BUSY), cell(Source.FALLBACK), cell(None)) == ("busy", "fallback", "")
    assert f"Replied {Outcome.FAILED} to t" == "Replied failed to t"  # the production log line
    assert Outcome.MERGED not in RESOLVED and set(RESOLVED) == set(Outcome) - {Outcome.MERGED}


def test_every_metric_declares_its_unit():
    assert {m.unit for m in METRICS.values()} == set(Unit)
    assert all(name == m.name for name, m in METRICS.items())
    seconds = {name for name, m in METRICS.items() if m.unit is Unit.SECONDS}
    assert seconds == {
        *("latency_p50_s", "latency_p95_s", "latency_p99_s"),
        *("latency_answered_p50_s", "latency_answered_p95_s", "latency_answered_p99_s"),
        *("first_reply_p50_s", "first_reply_p95_s"),
    }
    assert all(m.label and "\n" not in m.label for m in METRICS.values())


@pytest.mark.parametrize(
    "metric, value, shown",
    [
        ("latency_p95_s", 12.345, "12.35 s"),
        ("busy_rate", 0.12345, "0.123"),
        ("cache_hit_ratio", -0.0001, "0.000"),  # not "-0.000": a sign that rounding left behind
        ("redis_commands", 1234.56, "1,234.6"),
        ("latency_p95_s", 0.002, "2.0 ms"),  # not "0.00 s": a real 2 ms difference
        ("latency_p95_s", 0.0, "0.00 s"),
        ("latency_p95_s", 0.1, "0.10 s"),
    ],
)
def test_the_report_formats_a_value_by_its_metrics_unit(metric, value, shown):
    assert fmt_value(metric, value) == shown


def test_a_signed_difference_keeps_its_unit():
    e = Estimate(mean=-1.5, low=-2.0, high=-1.0, n=3)
    assert fmt_estimate("latency_p50_s", e, signed=True) == "-1.50 s [-2.00 s, -1.00 s]"


def test_an_interval_reads_in_its_means_unit():
    e = Estimate(mean=0.002, low=0.0015, high=0.12, n=3)
    assert fmt_estimate("latency_p50_s", e, signed=True) == "+0.00 s [0.00 s, 0.12 s]"
    small = Estimate(mean=0.002, low=-0.0005, high=0.0045, n=3)
    assert fmt_estimate("latency_p50_s", small, signed=True) == "+2.0 ms [-0.5 ms, 4.5 ms]"
