"""The HTML report as a user sees it: rendered by headless Chromium from disk, no network."""

import shutil
import subprocess

import pytest

from sim.cli import main
from tests.helpers import MAGNA

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_headless_chromium_renders_the_tables_and_decodes_every_plot(tmp_path):
    assert main(["compare", MAGNA, "--out", str(tmp_path), "--quiet", "--replications", "2"]) == 0
    page = tmp_path / "magna" / "report.html"
    # Chromium runs the script after load: it reports how many images decoded to a real size.
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.read_text().replace(
            "</body>",
            "<script>window.onload = () => { document.title = 'decoded:' + "
            "[...document.images].filter(i => i.naturalWidth > 100).length; };</script></body>",
        )
    )
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert "<title>decoded:8</title>" in dom
    assert "<td>busy_rate</td>" in dom and "magna: 2 variant(s) compared" in dom
