"""junit.xml: the compare verdicts as JUnit test results, which CI systems list per test.

One <testsuite> per scenario (a report folder holds one): a <testcase> per threshold outcome
(classname the scenario, name the expression and the variant), failed with the judged value
when breached, failed as "not applicable" with the reason when the claim cannot be judged
(skipped instead when the threshold allows it, `or n/a`), and one <testcase> for the
simulator's invariants, failed with the broken ones.

ElementTree escapes `<`, `&` and quotes; characters XML 1.0 cannot hold at all (control
characters) are written escaped as `\\x1b`, so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from sim.metrics.comparison import Comparison
from sim.metrics.thresholds import Status, ThresholdOutcome

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # outside XML 1.0's Char


def write(c: Comparison, path: Path) -> None:
    tree = ET.ElementTree(build(c))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def build(c: Comparison) -> ET.Element:
    cases = [_threshold_case(c.scenario, t) for t in c.thresholds] + [_invariants_case(c)]
    failures = sum(1 for case in cases if case.find("failure") is not None)
    skipped = sum(1 for case in cases if case.find("skipped") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "sim compare", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _text(c.scenario), **counts})
    suite.extend(cases)
    return root


def _threshold_case(scenario: str, t: ThresholdOutcome) -> ET.Element:
    case = _case(scenario, f"{t.expression} [{t.variant}]")
    if t.status is Status.NOT_APPLICABLE:
        kind = "skipped" if t.passed else "failure"
        ET.SubElement(case, kind, {"message": _text(t.judged), **({} if t.passed else {"type": "not applicable"})})
        return case
    if not t.passed:
        failure = ET.SubElement(case, "failure", {"message": _text(f"breached: {t.judged}"), "type": "threshold"})
        failure.text = _text(f"{t.expression} for {t.variant}: {t.judged}")
    if t.single_run:
        ET.SubElement(case, "system-out").text = _text(t.note)
    return case


def _invariants_case(c: Comparison) -> ET.Element:
    case = _case(c.scenario, "invariants")
    broken = c.violations
    if broken:
        failure = ET.SubElement(case, "failure", {"message": f"{len(broken)} invariant(s) broken", "type": "invariant"})
        failure.text = _text("\n".join(broken))
    return case


def _case(scenario: str, name: str) -> ET.Element:
    return ET.Element("testcase", {"classname": _text(scenario), "name": _text(name)})


def _text(text: str) -> str:
    """`text` with what XML 1.0 cannot hold escaped (`\\x00`, `\\x1b`, a lone surrogate)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
