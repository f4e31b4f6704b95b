"""`sim compare --precision`: replications in batches until the targets are met, the same stop anywhere."""

import dataclasses
import json
import re

import pytest

from sim.cli import main
from sim.experiment import run_replications, run_until_precise
from sim.metrics.precision import Reason, Status, parse_targets
from sim.scenario import ScenarioError, load_scenario
from tests.helpers import MAGNA, write_scenario

# On magna the answered p95's paired difference has a 95 % half-width of 3.1 s after 5
# replications and 1.5 s after 10: a 2 s target needs one batch after the first stage.
TWO_SECONDS = parse_targets("latency_answered_p95_s=2s")
WORKLOAD = "[workload]\ncustomers_per_hour = 10\n"


def _magna(**changes):
    return dataclasses.replace(load_scenario(MAGNA), thresholds=(), **changes)


@pytest.mark.slow
def test_the_same_scenario_and_seed_stop_at_the_same_count_on_one_and_on_two_processes():
    scenario = _magna(precision=TWO_SECONDS)
    one = run_until_precise(scenario, processes=1)
    two = run_until_precise(scenario, processes=2)
    assert one.stopping is not None and two.stopping is not None
    assert one.replications == two.replications == 10
    assert one.stopping == two.stopping
    assert repr(one.per_replication) == repr(two.per_replication)  # repr: NaN (not applicable) equals itself


def test_batches_give_the_replications_a_fixed_count_would_and_say_why_they_stopped():
    scenario = _magna(precision=TWO_SECONDS)
    batches = []
    precise = run_until_precise(scenario, on_batch=batches.append)
    assert batches == [5, 10]
    fixed = run_replications(dataclasses.replace(scenario, replications=10))
    # batch by batch, each replication keeps its seeds (repr: a NaN, not applicable, equals itself)
    assert repr(precise.per_replication) == repr(fixed.per_replication)
    assert precise.stopping is not None and precise.stopping.reason is Reason.MET
    assert [w.status for w in precise.stopping.watched] == [Status.MET]


def test_the_maximum_stops_it_and_the_report_names_the_metric_still_too_wide():
    scenario = _magna(precision=parse_targets("latency_answered_p95_s=10ms"), max_replications=7)
    c = run_until_precise(scenario)
    assert c.replications == 7 and c.stopping is not None
    assert c.stopping.reason is Reason.MAXIMUM
    assert [(w.variant, w.metric) for w in c.stopping.still_open] == [("after", "latency_answered_p95_s")]


def test_compare_reports_the_count_and_why_in_every_format(tmp_path, capsys):
    # 10 ms on the answered p95 is far too narrow, but its threshold is decided at once
    code = main(
        [
            "compare", MAGNA, "--out", str(tmp_path), "--quiet", "--processes", "1",
            "--precision", "busy_rate=0.2%,latency_answered_p95_s=10ms",
            "--threshold", "after.latency_answered_p95_s<120s",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 variants × 5 replications" in printed
    assert "5 run (first stage 5, then batches of 5, at most 100); stopped: every precision target met or its " \
        "threshold decided" in printed  # fmt: skip
    report = (tmp_path / "magna" / "report.md").read_text()
    assert "Replications until the answer is sure (Chow–Robbins fixed-width sequential, t-based): 5 run" in report
    assert "| after | latency_answered_p95_s | ±0.01 s |" in report
    assert "threshold decided" in (tmp_path / "magna" / "report.html").read_text()
    stopping = json.loads((tmp_path / "magna" / "results.json").read_text())["stopping"]
    assert stopping["replications"] == 5 and stopping["still_open"] == []
    assert stopping["reason"] == "every precision target met or its threshold decided"
    watched = {(w["variant"], w["metric"]): w for w in stopping["watched"]}
    assert watched["after", "latency_answered_p95_s"]["status"] == "threshold decided"
    assert watched["after", "busy_rate"] == {
        "variant": "after", "metric": "busy_rate", "target_half_width": 0.002, "half_width": 0.0, "status": "target met"
    }  # fmt: skip
    # Issue 22 item 12: one count everywhere, never the file's 10 beside the 5 the rule ran
    counts = set(re.findall(r"(\d+) replication\(s\)", report))
    assert counts == {"5"}, counts
    data = json.loads((tmp_path / "magna" / "results.json").read_text())
    assert data["replications"] == data["setup"]["replications"] == 5


def test_a_fixed_count_report_has_no_stopping_section():
    from sim.report import document, json_report, markdown

    fixed = run_replications(_magna(replications=2))
    assert fixed.stopping is None
    assert "stopping" not in json.loads(json_report.render(fixed))
    assert "until the answer is sure" not in markdown.render(document.build(fixed))


@pytest.mark.slow
def test_the_scenario_key_sets_the_precision_and_replications_on_the_command_line_override_it(tmp_path, capsys):
    text = (tmp_path / "m.toml").write_text(
        open(MAGNA).read().replace('replications = 10', 'replications = 2\nprecision = { busy_rate = "0.2%" }\n'
                                   "max_replications = 6")
    )  # fmt: skip
    assert text
    assert main(["compare", str(tmp_path / "m.toml"), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert "× 5 replications" in capsys.readouterr().out
    assert (
        main(["compare", str(tmp_path / "m.toml"), "--out", str(tmp_path / "b"), "--quiet", "--replications", "2"]) == 0
    )
    assert "× 2 replications" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--precision", "nonsense=1"], "unknown metric 'nonsense'"),
        (["--precision", "busy_rate=0"], "above 0"),
        (["--precision", "busy_rate=-1%"], "above 0"),
        (["--precision", "busy_rate=1%", "--max-replications", "1"], "from 2 to 10,000"),
        (["--precision", "busy_rate=1%", "--max-replications", "1000000000"], "from 2 to 10,000"),
        (["--precision", "busy_rate=1%", "--replications", "3"], "give one of them"),
        (["--max-replications", "50"], "--max-replications needs --precision"),
    ],
)
def test_bad_precision_options_are_one_line_and_exit_2_before_anything_runs(tmp_path, capsys, args, says):
    assert main(["compare", MAGNA, "--out", str(tmp_path), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert not (tmp_path / "magna").exists()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('precision = "busy_rate=0"', "[scenario]precision: busy_rate: the target half-width must be"),
        ("precision = { nonsense = 1 }", "[scenario]precision: unknown metric 'nonsense'"),
        ("precision = { busy_rate = true }", "a target is a finite number or a string"),
        ("precision = { busy_rate = nan }", "a target is a finite number or a string"),
        ("precision = 3", "expected a table"),
        ("max_replications = 1", "[scenario]max_replications: must be >= 2"),
        ("max_replications = 10001", "[scenario]max_replications: must be <= 10000"),
        ("max_replications = 2.5", "expected a whole number"),
    ],
)
def test_bad_precision_keys_name_the_file_and_key(tmp_path, line, says):
    path = write_scenario(tmp_path, f"[scenario]\n{line}\n[workload]\ncustomers_per_hour = 10\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert says in str(error.value) and str(path) in str(error.value)


def test_a_precision_key_reads_as_a_string_or_a_table(tmp_path):
    head = '[scenario]\nduration = "1h"\n'
    as_text = write_scenario(tmp_path, head + 'precision = "busy_rate=0.2%,latency_p95_s=1s"\n' + WORKLOAD, "a.toml")
    table = 'precision = { busy_rate = 0.002, latency_p95_s = "1s" }\nmax_replications = 40\n'
    a, b = load_scenario(as_text), load_scenario(write_scenario(tmp_path, head + table + WORKLOAD, "b.toml"))
    assert a.precision == b.precision
    assert [(t.metric, t.half_width) for t in b.precision] == [("busy_rate", 0.002), ("latency_p95_s", 1.0)]
    assert (a.max_replications, b.max_replications) == (100, 40)
