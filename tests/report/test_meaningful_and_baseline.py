"""Minimal meaningful effects (issue 23 item 3) set in the scenario and by flag, and changes against
`--baseline` on the terminal and in report.md's headline whenever a baseline is given (item 4)."""

import json
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.metrics.meaningful import Margin, MarginError, parse_margins
from sim.scenario import ScenarioError, load_scenario
from tests.helpers import MAGNA, write_scenario


def magna_with(tmp_path: Path, line: str) -> Path:
    """magna with one more line in its [scenario] section."""
    text = Path(MAGNA).read_text().replace("seed = 20251027\n", f"seed = 20251027\n{line}\n", 1)
    return write_scenario(tmp_path, text, "magna.toml")


def test_margins_read_in_the_metrics_units_or_relative_to_the_baseline():
    assert parse_margins("latency_p95_s=500ms,busy_rate=0.1%,crm_calls=5% relative,lock_polls=100") == (
        Margin(metric="latency_p95_s", value=0.5),
        Margin(metric="busy_rate", value=0.001),  # a share in points, as a threshold writes it
        Margin(metric="crm_calls", value=0.05, relative=True),
        Margin(metric="lock_polls", value=100.0),
    )
    assert Margin(metric="crm_calls", value=0.05, relative=True).of(1000.0) == 50.0


@pytest.mark.parametrize(
    "text, says",
    [
        ("latency_p95_s", "expected METRIC=MARGIN"),
        ("busy_rat=1%", "unknown metric 'busy_rat'"),
        ("crm_calls=5ms", "a duration fits a metric in seconds"),
        ("latency_p95_s=-1s", "expected a duration such as"),
        ("crm_calls=-3", "a margin is a finite number of 0 or more"),
        ("crm_calls=1e999", "is not a finite number"),
        ("crm_calls=1,crm_calls=2", "crm_calls has two margins"),
    ],
)
def test_a_bad_margin_is_one_line_naming_it(text, says):
    with pytest.raises(MarginError) as error:
        parse_margins(text)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_the_scenario_sets_margins_as_a_table_or_a_string(tmp_path):
    scenario = load_scenario(magna_with(tmp_path, 'meaningful = { first_reply_p95_s = "1ms", crm_calls = 2 }'))
    assert scenario.meaningful == (Margin(metric="first_reply_p95_s", value=0.001), Margin(metric="crm_calls", value=2))
    with pytest.raises(ScenarioError, match=r"\[scenario\]meaningful.*unknown metric 'nope'"):
        load_scenario(magna_with(tmp_path, 'meaningful = "nope=1"'))
    with pytest.raises(ScenarioError, match=r"\[scenario\]meaningful.*a margin is a number or a string"):
        load_scenario(magna_with(tmp_path, "meaningful = { crm_calls = true }"))


def test_a_margin_from_the_flag_puts_a_2_ms_change_back_on_the_headline(tmp_path, capsys):
    """magna's first reply is 2 ms later in every replication: real, and under the default 100 ms."""
    args = ["compare", MAGNA, "--quiet", "--processes", "1", "--replications", "2"]
    assert main([*args, "--out", str(tmp_path / "default")]) == 0
    default = capsys.readouterr().out
    assert "time to first reply +2.0 ms" not in default
    assert re.search(r"no meaningful difference in [^\n]*p95 time to first reply", default)
    assert main([*args, "--out", str(tmp_path / "strict"), "--meaningful", "first_reply_p95_s=1ms"]) == 0
    assert "  worse    p95 time to first reply +2.0 ms [+2.0, +2.0] (28.005 → 28.007 s)" in capsys.readouterr().out
    data = json.loads((tmp_path / "strict" / "magna" / "results.json").read_text())
    assert data["meaningful"]["first_reply_p95_s"] == {"value": 0.001, "relative": False}
    assert main([*args, "--out", str(tmp_path / "x"), "--meaningful", "first_reply_p95_s=1"]) == 0  # seconds
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "y"), "--meaningful", "first_reply_p95_s=1%"]) == 2


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """magna's results.json over 2 replications, with `before` said to have sent no busy reply."""
    folder = tmp_path_factory.mktemp("previous")
    assert main(["compare", MAGNA, "--out", str(folder), "--quiet", "--processes", "1", "--replications", "2"]) == 0
    path = folder / "magna" / "results.json"
    data = json.loads(path.read_text())
    for rep in data["variants"]["before"]["replications"]:
        rep.update(busy=0, busy_rate=0.0, answered=rep["answered"] + 1)
    path.write_text(json.dumps(data))
    return path


def test_a_change_against_the_baseline_is_on_the_terminal_and_the_headline_without_fail_on_regression(
    tmp_path, previous, capsys
):
    args = ["compare", MAGNA, "--out", str(tmp_path), "--quiet", "--processes", "1", "--replications", "2"]
    assert main([*args, "--baseline", str(previous)]) == 0  # nothing watched: reported, not failed
    out = capsys.readouterr().out
    assert "before vs the previous run:\n  worse    busy apologies +1.0 per run [+1.0, +1.0] (0.0 → 1.0)\n" in out
    assert "after vs the previous run:\n  no meaningful difference in 12 metrics\n" in out
    report = (tmp_path / "magna" / "report.md").read_text()
    first_screen = report.split("## What was simulated")[0]
    assert "**before vs the previous run:** busy apologies +1.0 per run [+1.0, +1.0] (0.0 → 1.0) worse" in first_screen
    data = json.loads((tmp_path / "magna" / "results.json").read_text())
    busy = next(ch for ch in data["baseline_diff"] if (ch["variant"], ch["metric"]) == ("before", "busy"))
    assert (busy["verdict"], busy["significant"]) == ("worse", True) and data["baseline_family_size"] > 1
    # watched, the same change fails the run, and says so under the headline too
    assert main([*args, "--baseline", str(previous), "--fail-on-regression", "busy_rate"]) == 1
    assert "regressed: before.busy_rate 0 → 0.3333" in capsys.readouterr().out
