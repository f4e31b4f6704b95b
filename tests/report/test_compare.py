"""`sim compare`: the report folder, its formats, atomic writes and exit codes."""

import base64
import json
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.report import plots

ROOT = Path(__file__).parents[2]
MAGNA = str(ROOT / "scenarios" / "magna.toml")
FILES = {
    "report.md", "report.html", "results.json", "records.csv", "latency_cdf.png", "busy_rate.png", "lock_wait.png",
    "lock_attempts.png", "cache_hit_ratio.png", "redis_load.png", "workers.png", "busiest_customer.png",
}  # fmt: skip


def compare(tmp_path, *extra):
    return main(["compare", MAGNA, "--out", str(tmp_path), "--quiet", "--replications", "3", *extra])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    assert compare(out) == 0
    return out / "magna"


def test_report_folder_holds_every_file(report):
    assert {p.name for p in report.iterdir()} == FILES


def test_pngs_are_real_images(report):
    for name in FILES:
        if name.endswith(".png"):
            assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_is_self_contained_with_every_plot_inline(report):
    page = (report / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 8
    assert base64.b64decode(images[0])[:4] == b"\x89PNG"
    assert "http://" not in page and "https://" not in page
    assert "<td>busy_rate</td>" in page


def test_results_json_keeps_its_documented_shape(report):
    data = json.loads((report / "results.json").read_text())
    assert data["format_version"] == 1
    assert (data["scenario"], data["seed"], data["replications"], data["baseline"]) == ("magna", 20251027, 3, "before")
    assert data["seeds"] == [[20251027, 0], [20251027, 1], [20251027, 2]]
    after = data["variants"]["after"]
    assert len(after["replications"]) == 3
    assert set(after["summary"]["busy_rate"]) == {"mean", "low", "high"}
    busy = next(d for d in data["differences"] if d["metric"] == "busy_rate")
    assert (busy["variant"], busy["baseline"], busy["verdict"]) == ("after", "before", "better")
    assert data["passed"] is True and data["baseline_diff"] is None


def test_markdown_shows_summary_verdicts_and_variants(report):
    text = (report / "report.md").read_text()
    assert "| busy_rate | 0.333 [0.333, 0.333] | 0.000 [0.000, 0.000] |" in text
    assert "| busy_rate | -0.333 [-0.333, -0.333] | -100.0 % | better |" in text
    assert "before (baseline)" in text


def test_records_csv_has_one_row_per_message_per_variant_and_replication(report):
    lines = (report / "records.csv").read_text().splitlines()
    assert lines[0].startswith("variant,replication,message,customer")
    assert len(lines) == 1 + 2 * 3 * 3


def test_breached_threshold_exits_1_and_is_reported(tmp_path, capsys):
    assert compare(tmp_path, "--threshold", "before.busy_rate<0.1") == 1
    assert "breached: before.busy_rate<0.1 for before" in capsys.readouterr().out
    data = json.loads((tmp_path / "magna" / "results.json").read_text())
    assert data["passed"] is False
    assert "BREACHED" in (tmp_path / "magna" / "report.md").read_text()


def test_met_thresholds_exit_0(tmp_path):
    assert compare(tmp_path, "--threshold", "after.busy_rate<0.01", "--threshold", "crm_calls<=2") == 0


def test_unknown_metric_in_a_threshold_exits_2_before_running(tmp_path, capsys):
    assert compare(tmp_path, "--threshold", "busy_rat<0.01") == 2
    assert "unknown metric 'busy_rat'" in capsys.readouterr().err
    assert not (tmp_path / "magna").exists()


def test_thresholds_in_the_scenario_file_are_judged(tmp_path):
    scenario = tmp_path / "s.toml"
    text = Path(MAGNA).read_text()
    scenario.write_text(re.sub(r"(?m)^thresholds = .*$", 'thresholds = ["before.busy<0.5"]', text))
    assert main(["compare", str(scenario), "--out", str(tmp_path / "out"), "--quiet", "--replications", "2"]) == 1


def test_an_interrupted_run_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    assert compare(tmp_path) == 0
    before = (tmp_path / "magna" / "results.json").read_bytes()

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setitem(plots.PLOTTERS, "workers.png", crash)
    assert compare(tmp_path, "--seed", "5") == 130
    assert (tmp_path / "magna" / "results.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".magna.lock", "magna"]  # no staging folder left behind


def test_baseline_diff_lists_old_new_and_significance(tmp_path):
    assert compare(tmp_path / "old") == 0
    old = tmp_path / "old" / "magna" / "results.json"
    assert compare(tmp_path / "new", "--baseline", str(old), "--seed", "8") == 0
    data = json.loads((tmp_path / "new" / "magna" / "results.json").read_text())
    busy = next(c for c in data["baseline_diff"] if c["variant"] == "after" and c["metric"] == "busy_rate")
    assert (busy["old"], busy["new"], busy["significant"]) == (0.0, 0.0, False)
    assert "Changes against the previous run" in (tmp_path / "new" / "magna" / "report.md").read_text()


def test_bad_baseline_file_exits_2(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{}")
    assert compare(tmp_path, "--baseline", str(tmp_path / "bad.json")) == 2
    assert "format_version must be 1" in capsys.readouterr().err


def test_report_is_appended_to_the_github_step_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert compare(tmp_path / "out") == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n# magna: 2 variant(s) compared")


def test_two_scenarios_with_one_name_are_refused(tmp_path, capsys):
    assert main(["compare", MAGNA, MAGNA, "--out", str(tmp_path), "--quiet"]) == 2
    assert "two scenarios are named 'magna'" in capsys.readouterr().err
