"""What the tutorials show is what `sim` does: their files exist, and the output they quote is regenerated
here and compared (a change of the tool that changes it fails until the quote is updated)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT, sim_process

DOCS = ROOT / "docs"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)


def test_every_file_a_page_includes_exists():
    for page in DOCS.rglob("*.md"):
        for included in SNIPPET.findall(page.read_text()):
            assert (ROOT / included).is_file(), f"{page.relative_to(ROOT)} includes {included}, which is missing"


@pytest.mark.slow
def test_the_own_bot_tutorials_headline_is_what_sim_compare_prints(tmp_path):
    """To update the quote: run this page's command in examples/your-own-bot and paste all but its last line."""
    done = sim_process("compare", "evening.toml", "--out", tmp_path, cwd=ROOT / "examples" / "your-own-bot")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()[:-1]  # the last line names the report's folder: this run's temporary one
    quoted = (DOCS / "tutorials" / "your-own-bot.headline.txt").read_text().splitlines()
    assert printed == quoted


@pytest.mark.slow
def test_the_first_comparisons_headline_is_what_sim_compare_prints(tmp_path):
    """The README and docs/tutorials/first-comparison.md quote it. To update the quote: run
    `sim compare magna --threshold 'change(after.busy_rate) <= -50%'` and paste all but its last line."""
    done = sim_process("compare", "magna", "--threshold", "change(after.busy_rate) <= -50%", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()[:-1]  # the last line names the report's folder: this run's temporary one
    quoted = (DOCS / "tutorials" / "first-comparison.headline.txt").read_text().splitlines()
    assert printed == quoted
    assert done.stdout.splitlines()[-1].startswith("magna: 2 variants × 10 replications, all 5 threshold checks passed")


def test_the_findings_page_quotes_magnas_p95_penalty_from_the_checked_headline():
    """The findings page once said +10.9 s [9.4, 12.4] after the headline had moved to another interval."""
    headline = (DOCS / "tutorials" / "first-comparison.headline.txt").read_text()
    low, high, change = re.search(r"p95 latency of answers \+([\d.]+) s \[\+([\d.]+), \+([\d.]+)\]", headline).group(
        2, 3, 1
    )
    findings = (DOCS / "explanation" / "findings.md").read_text()
    assert f"p95 latency is {change} s [{low}, {high}] worse" in findings
