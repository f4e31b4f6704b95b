"""The numbers the docs state about the tool are the tool's (issue 23 item 7): generated blocks are up to
date, a new axis or metric makes them stale, and the decision-times table's replication counts and
reasons are what `sim compare --precision` does (its timings are measured, never tested)."""

import re

import pytest

from sim import docs
from sim.cli import main
from sim.metrics import catalog
from sim.sensitivity import axes
from sim.sensitivity.axes import Axis, Case

SENSITIVITY = docs.ROOT / "docs" / "how-to" / "sensitivity.md"
THRESHOLDS = docs.ROOT / "docs" / "reference" / "thresholds.md"
PRECISION = docs.ROOT / "docs" / "explanation" / "precision.md"


def test_every_generated_block_of_the_docs_is_up_to_date():
    assert docs.stale() == []  # else: python -m sim.docs, and review the diff
    assert docs.main(["--check"]) == 0


def test_the_docs_name_every_axis_case_and_metric_the_tool_has():
    text = SENSITIVITY.read_text() + THRESHOLDS.read_text()
    for axis in axes.AXES.values():
        assert f"| `{axis.key}` |" in text and all(f"*{case.name}*" for case in axis.cases)
    cases = 1 + sum(len(a.cases) for a in axes.AXES.values())
    assert f"{len(axes.AXES)} axes." in text and f"{cases} cases with every axis" in text
    listed = re.search(r"Metrics a threshold may name \((\d+)\): (.*?)\. Operators", text).groups()
    assert int(listed[0]) == len(catalog.ALL_METRICS) and set(re.findall(r"`([a-z0-9_]+)`", listed[1])) == set(
        catalog.ALL_METRICS
    )


def test_a_new_axis_or_metric_leaves_the_docs_stale_until_they_are_regenerated(monkeypatch, tmp_path):
    extra = Axis(key="new-axis", name="a new axis", words="something", cases=(Case(name="x", words="y", transform=id),))
    monkeypatch.setitem(axes.AXES, "new-axis", extra)
    assert docs.stale() == ["docs/how-to/sensitivity.md: sensitivity-axes"]
    monkeypatch.setitem(catalog.METRICS, "new_metric", catalog.Metric("new_metric", None, catalog.Unit.COUNT, "new"))
    monkeypatch.setattr(catalog, "ALL_METRICS", catalog.METRICS | catalog.CONVERSATION_METRICS)
    monkeypatch.setattr(docs, "ALL_METRICS", catalog.ALL_METRICS)
    assert docs.stale() == [
        "docs/how-to/sensitivity.md: sensitivity-axes",
        "docs/reference/thresholds.md: threshold-metrics",
    ]
    copy = tmp_path / "sensitivity.md"
    copy.write_text(docs.regenerated(SENSITIVITY.read_text(), docs.SECTIONS))
    assert "| `new-axis` | something | *x*: y |" in copy.read_text() and "9 axes." in copy.read_text()
    assert "`new_metric`" in docs.regenerated(THRESHOLDS.read_text(), docs.SECTIONS)


def decision_rows():
    """(scenario, precision, replications, reason) of each row of the precision page's decision-times table."""
    block = re.search(r"<!-- sim docs: decision-times -->\n(.*?)<!-- /sim docs -->", PRECISION.read_text(), re.DOTALL)
    rows = re.findall(r"^\| ([a-z-]+) \| [^|]+ \| `([^`]+)`: [^|]+ \| (\d+) \| ([^|]+) \|$", block.group(1), re.M)
    return [(scenario, precision, int(count), reason.strip()) for scenario, precision, count, reason in rows]


def test_the_decision_times_table_is_generated_and_lists_every_timing():
    assert [(s, p) for s, p, _, _ in decision_rows()] == [(t.scenario, t.precision) for t in docs.TIMINGS]


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=f"{row[0]} {row[1]}", marks=[pytest.mark.slow] if row[0] != "magna" else [])
        for row in decision_rows()
    ],
)
def test_the_replications_each_precision_chose_are_what_sim_compare_does(tmp_path, capsys, row):
    scenario, precision, count, reason = row
    assert main(["compare", scenario, "--precision", precision, "--out", str(tmp_path), "--quiet"]) in (0, 1)
    out = capsys.readouterr().out
    assert f"× {count} replications" in out and f"stopped: {reason}" in out
