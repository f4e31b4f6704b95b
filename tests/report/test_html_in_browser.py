"""The HTML report as a user sees it: rendered by headless Chromium from disk, no network, at 1400×900."""

import json
import re
import shutil
import subprocess

import pytest

from sim.cli import main
from tests.helpers import MAGNA

CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome")  # Debian; a GitHub runner has Chrome
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,900",
]  # fmt: skip
# After load, the page writes what a user would see into its title: the viewport, where the headlines and
# the thresholds end, and how many images there are and how many decoded to a real size.
PROBE = """<script>window.onload = () => {
  const bottom = (e) => Math.ceil(e.getBoundingClientRect().bottom);
  document.title = 'probe:' + JSON.stringify({
    viewport: [window.innerWidth, window.innerHeight],
    headlines: [...document.querySelectorAll('.headline')].map(bottom),
    thresholds: bottom(document.getElementById('thresholds')),
    images: document.images.length,
    decoded: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
  });
};</script></body>"""


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    """What Chromium saw of the magna report (2 replications)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    out = tmp_path_factory.mktemp("browser")
    assert main(["compare", MAGNA, "--out", str(out), "--quiet", "--replications", "2"]) == 0
    probe = out / "probe.html"
    probe.write_text((out / "magna" / "report.html").read_text().replace("</body>", PROBE))
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={out / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    title = re.search(r"<title>probe:(.*?)</title>", dom)
    assert title, dom[:500]
    return json.loads(title.group(1).replace("&quot;", '"')), dom


def test_the_headline_and_the_thresholds_are_on_the_first_screen_at_1400x900(seen):
    probe, _ = seen
    width, height = probe["viewport"]  # a 1400×900 window; its page area is shorter by the browser's own bars
    first_screen = min(900, height)
    assert width == 1400 and height > 600
    assert len(probe["headlines"]) == 1  # magna compares one variant with its baseline
    assert all(0 < bottom <= first_screen for bottom in probe["headlines"])
    assert 0 < probe["thresholds"] <= first_screen


def test_every_plot_decodes(seen):
    probe, _ = seen
    assert probe["images"] == 10
    assert probe["decoded"] == probe["images"]


def test_the_page_shows_the_headline_thresholds_and_the_tables(seen):
    _, dom = seen
    assert "after vs before:" in dom and "busy apologies" in dom and "✓ after.busy_rate&lt;0.01 for after" in dom
    assert "<td>busy_rate</td>" in dom and "What was simulated" in dom
