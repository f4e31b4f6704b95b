"""report.md and results.json of a fixed run, byte for byte against expected files.

After an intended change of the numbers or the layout, regenerate them with
`SIM_UPDATE_GOLDEN=1 python -m pytest tests/report/test_golden.py` and review the diff.
"""

import os
import re
from pathlib import Path

import pytest

from sim.cli import main
from tests.helpers import MAGNA

EXPECTED = Path(__file__).parent / "expected"
# results.json records the installed packages' versions: they differ between machines, not between layouts.
VERSIONS = re.compile(r'"versions": \{[^}]*\}')


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    assert main(["compare", MAGNA, "--out", str(out), "--replications", "3", "--quiet", "--processes", "1"]) == 0
    return out / "magna"


@pytest.mark.parametrize("name", ["report.md", "results.json"])
def test_report_matches_the_expected_file(folder, name):
    produced = (folder / name).read_text()
    expected = EXPECTED / f"magna-{name}"
    if os.environ.get("SIM_UPDATE_GOLDEN"):
        expected.write_text(produced)
    assert VERSIONS.sub('"versions": …', produced) == VERSIONS.sub('"versions": …', expected.read_text())
