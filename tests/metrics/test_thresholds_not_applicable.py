"""A claim that cannot be judged is "not applicable", never met by default (issue 23 item 1, issue 22
item 7): a change from 0, a ratio to 0, a metric that applies to no replication. It says so in the
terminal, report.md, junit.xml and results.json, with no `nan` anywhere, and `or n/a` lets it pass."""

import json
import math
import xml.etree.ElementTree as ET

import pytest

from sim.cli import main
from sim.metrics.thresholds import SINGLE_RUN, Status, ThresholdError, judge, parse_threshold
from tests.helpers import MAGNA

VARIANTS = ["before", "after"]
NONE_BUSY = {"before": [{"busy_rate": 0.0}] * 4, "after": [{"busy_rate": 0.0}] * 4}


def outcome(expression, data):
    [found] = judge(parse_threshold(expression, VARIANTS, "before"), data, "before")
    return found


def test_halving_nothing_is_not_applicable_and_not_met():
    # Both variants sent 0 busy replies: "after at least halves before" was never shown.
    found = outcome("change(after.busy_rate) <= -50%", NONE_BUSY)
    assert (found.status, found.passed, found.applicable) == (Status.NOT_APPLICABLE, False, False)
    assert not found.single_run
    assert math.isnan(found.value)
    assert found.judged == ("not applicable: before.busy_rate is 0 in every replication: a change from 0 is undefined")
    assert found.verdict == "NOT MET (not applicable)"


def test_a_ratio_to_zero_is_not_applicable_whatever_the_variant_does():
    data = {"before": [{"busy_rate": 0.0}] * 3, "after": [{"busy_rate": x} for x in (0.0, 0.03, 0.0)]}
    found = outcome("after.busy_rate <= 0.05 * before.busy_rate", data)
    assert found.status is Status.NOT_APPLICABLE and not found.passed
    assert found.judged.endswith("a ratio to 0 is undefined")


def test_or_na_lets_a_claim_that_does_not_apply_pass_and_says_so():
    threshold = parse_threshold("change(after.busy_rate) <= -50% or n/a", VARIANTS, "before")
    assert threshold.allow_not_applicable and threshold.expression == "change(after.busy_rate) <= -50% or n/a"
    [found] = judge(threshold, NONE_BUSY, "before")
    assert (found.status, found.passed) == (Status.NOT_APPLICABLE, True)
    assert found.verdict == "not applicable, allowed (or n/a)"
    # A claim that applies is judged as without the suffix
    data = {"before": [{"busy_rate": x} for x in (0.2, 0.3, 0.25)], "after": [{"busy_rate": 0.3}] * 3}
    [judged] = judge(threshold, data, "before")
    assert (judged.status, judged.passed) == (Status.BREACHED, False)


def test_a_metric_that_applies_to_no_replication_is_not_applicable_not_a_single_run():
    no_cache = {"before": [{"cache_hit_ratio": math.nan}] * 4, "after": [{"cache_hit_ratio": 0.6}] * 4}
    found = outcome("before.cache_hit_ratio > 50%", no_cache)
    assert (found.status, found.single_run, found.note) == (Status.NOT_APPLICABLE, False, "")
    assert found.judged == (
        "not applicable: cache_hit_ratio applies to no replication of before "
        "(no outage check asked a cache: the cache is off)"
    )
    change = outcome("change(after.cache_hit_ratio) >= +10%", no_cache)
    assert change.status is Status.NOT_APPLICABLE and "of before" in change.judged
    # One replication where it applies is a single run, and says so
    one = {"before": [{"cache_hit_ratio": math.nan}] * 3 + [{"cache_hit_ratio": 0.6}], "after": NONE_BUSY["after"]}
    single = outcome("before.cache_hit_ratio > 50%", one)
    assert single.single_run and single.passed and single.judged.endswith(f"({SINGLE_RUN})")


@pytest.mark.parametrize("expression", ["busy_rate < 1% or", "busy_rate < 1% or n/a or n/a", "or n/a"])
def test_a_malformed_suffix_is_refused_in_one_line(expression):
    with pytest.raises(ThresholdError) as error:
        parse_threshold(expression, VARIANTS, "before")
    assert "\n" not in str(error.value)


def test_not_applicable_claims_in_every_output_of_sim_compare(tmp_path, capsys):
    """magna: `before` has no cache, and neither variant ever fails a message."""
    out = tmp_path / "out"
    args = ["compare", MAGNA, "--out", str(out), "--quiet", "--processes", "1", "--replications", "2"]
    na = ["before.cache_hit_ratio>50%", "change(after.failed) <= -50%", "change(after.failed) <= -50% or n/a"]
    assert main([*args, *(x for t in na for x in ("--threshold", t))]) == 1
    terminal = capsys.readouterr().out
    assert "nan" not in terminal.lower() and "single run" not in terminal
    assert (
        "✗ before.cache_hit_ratio>50% for before: not applicable: cache_hit_ratio applies to no replication of "
        "before (no outage check asked a cache: the cache is off) NOT MET (not applicable)"
    ) in terminal
    assert "– change(after.failed) <= -50% or n/a for after: not applicable: before.failed is 0 in every " in terminal
    assert "2 of 7 threshold checks BREACHED" in terminal
    assert "\n  not met: change(after.failed) <= -50% for after: not applicable: before.failed is 0" in terminal

    folder = out / "magna"
    report = (folder / "report.md").read_text()
    assert "nan" not in report.lower().replace("nanosecond", "")
    assert "- ✗ change(after.failed) <= -50% for after: not applicable:" in report
    data = json.loads((folder / "results.json").read_text())
    by_expression = {t["expression"]: t for t in data["thresholds"]}
    assert by_expression["before.cache_hit_ratio>50%"] | {"judged": ""} == {
        "expression": "before.cache_hit_ratio>50%", "variant": "before", "metric": "cache_hit_ratio",
        "bound": "lower", "value": None, "passed": False, "status": "not applicable", "judged": "",
    }  # fmt: skip
    assert by_expression["change(after.failed) <= -50% or n/a"]["passed"] is True
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    failure = cases["before.cache_hit_ratio>50% [before]"].find("failure")
    assert failure.get("type") == "not applicable" and failure.get("message").startswith("not applicable: ")
    assert cases["change(after.failed) <= -50% or n/a [after]"].find("skipped") is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("2", "1")
