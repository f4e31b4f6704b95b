"""The README is a front page that stays true, and the docs name only files that exist.

The site itself is built by `.ci/run` with `mkdocs build --strict` (a broken link, a page missing from
the menu or a missing included file fails it); these tests hold what MkDocs cannot see."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
SETUP = [
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/sim compare magna --out reports",
    ".venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest",
]
# A path in backticks that names the repository's own files: `sim/metrics/precision.py`, `tests/fit/`.
REPO_PATH = re.compile(r"`((?:sim|tests|scenarios|examples|docs|\.github|\.ci)/[A-Za-z0-9_./-]*)`")


def test_the_readme_is_a_front_page_of_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_the_readme_opens_with_the_two_set_up_commands():
    text = README.read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None and first_block.group(1).splitlines() == SETUP
    assert text.index("```sh") < text.index("\n## ")  # before any section


def test_the_readme_quotes_the_headline_the_tests_regenerate():
    """tests/docs/test_tutorials.py reruns the command and compares its output with this file."""
    quoted = (DOCS / "tutorials" / "first-comparison.headline.txt").read_text()
    assert f"```text\n{quoted}```" in README.read_text()


def test_every_link_of_the_readme_names_a_file_of_the_repository():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text()):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README.md links to {target}, which is missing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_a_page_names_exists(page):
    for path in REPO_PATH.findall(page.read_text()):
        assert (ROOT / path.rstrip(".")).exists(), f"{page.relative_to(ROOT)} names {path}, which is missing"


def test_the_commands_reference_lists_every_command():
    from sim.cli import COMMANDS

    page = (DOCS / "reference" / "commands.md").read_text()
    readme = README.read_text()
    for name in COMMANDS:
        assert f"| `sim {name}" in page, f"sim {name} is missing from docs/reference/commands.md"
        assert f"| `sim {name}" in readme, f"sim {name} is missing from the README's commands"


def test_the_scenario_schema_file_for_editors_is_what_sim_schema_prints():
    """To update it: `sim schema > scenario.schema.json` (.taplo.toml points editors at it)."""
    from sim.scenario.schema import json_text

    assert (ROOT / "scenario.schema.json").read_text() == json_text()
    assert 'path = "scenario.schema.json"' in (ROOT / ".taplo.toml").read_text()
