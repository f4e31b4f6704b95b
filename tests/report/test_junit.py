"""junit.xml: one testcase per threshold outcome plus one for the invariants; it parses whatever
the names hold."""

import xml.etree.ElementTree as ET

from sim.metrics.comparison import Comparison
from sim.metrics.records import RunResult
from sim.metrics.thresholds import Op, Threshold, judge, parse_threshold
from sim.report import junit

HOSTILE = 'a"b<c>&d é ☃'  # quotes, markup, an ampersand, non-ASCII


def comparison(thresholds, per_replication, violations=(), scenario="s"):
    """A results model of `per_replication`; `thresholds` are expressions or Threshold records."""
    variants = list(per_replication)
    parsed = [parse_threshold(t, variants, variants[0]) if isinstance(t, str) else t for t in thresholds]
    outcomes = [o for t in parsed for o in judge(t, per_replication, variants[0])]
    runs = {v: [RunResult(variant=v, replication=0, records=(), commands_per_second={})] for v in variants}
    first = variants[0]
    runs[first] = [RunResult(variant=first, replication=0, records=(), commands_per_second={}, violations=violations)]
    return Comparison(
        scenario=scenario, seed=1, replications=len(per_replication[first]), baseline=first,
        descriptions={v: v for v in variants}, per_replication=per_replication, estimates={}, verdicts=[],
        thresholds=outcomes, runs=runs,
    )  # fmt: skip


def written(c, tmp_path):
    path = tmp_path / "junit.xml"
    junit.write(c, path)
    return ET.parse(path).getroot()


DATA = {
    "x": [{"busy_rate": x} for x in (0.3, 0.4, 0.35, 0.3)],
    "y": [{"busy_rate": x} for x in (0.0, 0.01, 0.0, 0.01)],
}


def test_one_testcase_per_outcome_and_one_for_the_invariants(tmp_path):
    c = comparison(["busy_rate < 5%", "change(y.busy_rate) <= -50%"], DATA)
    root = written(c, tmp_path)
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [(t.get("classname"), t.get("name")) for t in cases] == [
        ("s", "busy_rate < 5% [x]"),
        ("s", "busy_rate < 5% [y]"),
        ("s", "change(y.busy_rate) <= -50% [y]"),
        ("s", "invariants"),
    ]
    assert (suite.get("tests"), suite.get("failures"), root.get("tests"), root.get("failures")) == ("4", "1", "4", "1")
    [failure] = suite.iter("failure")
    assert failure.get("type") == "threshold" and failure.get("message").startswith("breached: busy_rate ≤ ")
    assert cases[0].find("failure") is failure and "upper 95 % bound" in failure.text


def test_broken_invariants_fail_their_testcase_listing_each(tmp_path):
    broken = ("reply sent twice for message 3", "lock held by two workers at t=5.0")
    root = written(comparison([], DATA, violations=broken), tmp_path)
    [case] = root.iter("testcase")
    failure = case.find("failure")
    assert case.get("name") == "invariants" and failure.get("message") == "2 invariant(s) broken"
    assert failure.text.splitlines() == [f"x #0: {text}" for text in broken]
    assert root.find("testsuite").get("failures") == "1"


def test_hostile_names_come_back_intact_and_control_characters_escaped(tmp_path):
    data = {HOSTILE: DATA["x"], "y": DATA["y"]}  # a name the loader refuses; the report must not depend on it
    threshold = Threshold(
        expression=f"{HOSTILE}.busy_rate < 1%", variant=HOSTILE, metric="busy_rate", op=Op.LT, limit=0.01
    )
    c = comparison([threshold], data, violations=(f"customer {HOSTILE}\x1b[2J\x00",), scenario=HOSTILE)
    root = written(c, tmp_path)
    raw = (tmp_path / "junit.xml").read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>") and b"\x1b" not in raw and b"\x00" not in raw
    suite = root.find("testsuite")
    assert suite.get("name") == HOSTILE
    cases = suite.findall("testcase")
    assert cases[0].get("classname") == HOSTILE and cases[0].get("name") == f"{HOSTILE}.busy_rate < 1% [{HOSTILE}]"
    assert cases[0].find("failure").text.startswith(f"{HOSTILE}.busy_rate < 1% for {HOSTILE}: busy_rate ≤ ")
    assert cases[1].find("failure").text == f"{HOSTILE} #0: customer {HOSTILE}\\x1b[2J\\x00"


def test_a_single_run_outcome_says_so(tmp_path):
    one = {"x": [{"busy_rate": 0.3}], "y": [{"busy_rate": 0.0}]}
    root = written(comparison(["y.busy_rate < 1%"], one), tmp_path)
    case = root.find("testsuite/testcase")
    assert case.find("failure") is None and case.findtext("system-out") == "judged on a single run"
