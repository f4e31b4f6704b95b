"""`sim compare` of customers who wait for answers: their metrics reach every report, exactly as the
runs counted them, and the same seed gives the same numbers on any number of processes."""

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.metrics.catalog import CONVERSATION_METRICS
from sim.metrics.conversations import conversation_metrics
from sim.scenario import load_scenario
from sim.world.model import simulate

SCENARIO = Path(__file__).with_name("waiting-customers.toml")
THRESHOLDS = ("after.abandon_rate <= before.abandon_rate", "after.nudges_per_intent < 1")


def compare(out, *extra):
    args = ["compare", str(SCENARIO), "--out", str(out), "--quiet", *extra]
    return main([*args, *(a for t in THRESHOLDS for a in ("--threshold", t))])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    assert compare(out, "--replications", "3") == 0
    return out / "waiting-customers"


def results(folder):
    return json.loads((folder / "results.json").read_text())


def test_results_json_holds_each_replications_conversation_metrics_as_the_runs_counted_them(report):
    data = results(report)
    scenario = load_scenario(SCENARIO)
    assert data["metrics"]["abandon_rate"] == {
        "label": CONVERSATION_METRICS["abandon_rate"].label,
        "unit": "ratio",
        "better": "lower",
    }
    for variant in ("before", "after"):
        for r, rep in enumerate(data["variants"][variant]["replications"]):
            expected = conversation_metrics(simulate(scenario, scenario.variant(variant), r).conversations)
            assert {m: rep[m] for m in CONVERSATION_METRICS} == pytest.approx(expected, nan_ok=True)
        assert set(CONVERSATION_METRICS) <= set(data["variants"][variant]["summary"])
    compared = {(d["variant"], d["metric"]) for d in data["differences"]}
    assert {("after", m) for m in CONVERSATION_METRICS} <= compared
    # The scenario's customers leave less often with twenty workers than with one, in every replication.
    before, after = (data["variants"][v]["replications"] for v in ("before", "after"))
    assert all(a["abandon_rate"] < b["abandon_rate"] for a, b in zip(after, before, strict=True))


def test_markdown_and_html_list_the_conversation_metrics_and_the_thresholds_on_them(report):
    text = (report / "report.md").read_text()
    for metric in CONVERSATION_METRICS:
        assert text.count(f"| {metric} |") == 2  # the verdict table and the summary table
    assert "✓ after.abandon_rate <= before.abandon_rate for after: after.abandon_rate ≤" in text
    assert "✓ after.nudges_per_intent < 1 for after: nudges_per_intent ≤" in text
    assert "each conversation's messages sent are its records plus its dropped ones" in text
    page = (report / "report.html").read_text()
    assert all(f"<td>{metric}</td>" in page for metric in CONVERSATION_METRICS)


def test_the_terminal_shows_the_thresholds_on_conversation_metrics(tmp_path, capsys):
    assert main(["compare", str(SCENARIO), "--out", str(tmp_path), "--replications", "2", "--threshold",
                 "after.abandon_rate < 1%"]) == 1  # fmt: skip
    printed = capsys.readouterr().out
    assert "✗ after.abandon_rate < 1% for after: abandon_rate ≤" in printed


def test_a_conversation_metric_on_a_scenario_without_conversations_is_refused_before_running(tmp_path, capsys):
    assert main(["compare", "magna", "--out", str(tmp_path), "--threshold", "abandon_rate < 1%"]) == 2
    assert "abandon_rate needs customers who wait for answers" in capsys.readouterr().err
    assert not (tmp_path / "magna").exists()


def test_precision_on_a_conversation_metric_on_two_processes_gives_the_fixed_counts_numbers(report, tmp_path):
    # The stopping rule's first stage is 5 replications; its first 3 are the fixed run's, number for number.
    assert compare(tmp_path, "--precision", "abandon_rate=50%", "--processes", "2") == 0
    stopped = results(tmp_path / "waiting-customers")
    assert stopped["replications"] == 5
    assert [w["metric"] for w in stopped["stopping"]["watched"]][:1] == ["abandon_rate"]
    for variant in ("before", "after"):
        assert stopped["variants"][variant]["replications"][:3] == results(report)["variants"][variant]["replications"]


def test_sim_run_prints_the_conversation_metrics_only_for_a_scenario_with_conversations(capsys):
    assert main(["run", str(SCENARIO), "--json"]) == 0
    after = json.loads(capsys.readouterr().out)["variants"]["after"]
    assert list(after)[-len(CONVERSATION_METRICS) :] == list(CONVERSATION_METRICS)
    assert main(["run", "magna", "--json"]) == 0
    assert not set(CONVERSATION_METRICS) & set(json.loads(capsys.readouterr().out)["variants"]["after"])


def test_a_headline_finding_on_a_count_per_intent_shows_its_own_decimals_and_not_per_run():
    from sim.metrics.comparison import BETTER, Verdict
    from sim.metrics.stats import Estimate
    from sim.report.headline import finding_text

    less = Estimate(-0.3, -0.35, -0.25, 5)
    v = Verdict(variant="after", baseline="before", metric="nudges_per_intent", difference=less, verdict=BETTER)
    old, new = {"nudges_per_intent": Estimate(0.42, 0.4, 0.44, 5)}, {"nudges_per_intent": Estimate(0.12, 0.1, 0.14, 5)}
    assert finding_text(v, old, new) == "nudges per intent −71 % [−83, −60] (0.420 → 0.120)"
