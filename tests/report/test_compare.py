"""`sim compare`: the report folder, its formats, atomic writes and exit codes."""

import base64
import json
import os
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.commands import compare as report_commands
from sim.metrics.catalog import METRICS
from sim.report import plots
from tests.helpers import MAGNA

FILES = {
    ".sim-report", "report.md", "report.html", "results.json", "records.csv", "timeseries.csv", "junit.xml",
    "latency_cdf.png",
    "busy_rate.png", "lock_wait.png", "lock_attempts.png", "cache_hit_ratio.png", "redis_load.png", "workers.png",
    "busiest_customer.png", "busy_by_window.png", "p95_by_window.png",
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
    assert len(images) == 10
    assert base64.b64decode(images[0])[:4] == b"\x89PNG"
    assert "http://" not in page and "https://" not in page
    assert "<td>busy_rate</td>" in page


def test_results_json_keeps_its_documented_shape(report):
    data = json.loads((report / "results.json").read_text())
    assert data["format_version"] == 3
    assert (data["scenario"], data["seed"], data["replications"], data["baseline"]) == ("magna", 20251027, 3, "before")
    assert data["seeds"] == [[20251027, 0], [20251027, 1], [20251027, 2]]
    after = data["variants"]["after"]
    assert len(after["replications"]) == 3
    assert set(after["summary"]["busy_rate"]) == {"mean", "low", "high"}
    busy = next(d for d in data["differences"] if d["metric"] == "busy_rate")
    assert (busy["variant"], busy["baseline"], busy["verdict"]) == ("after", "before", "better")
    assert data["passed"] is True and data["baseline_diff"] is None
    # format 3: each verdict's interval is at the level Holm tested it at, with its minimal meaningful effect
    assert 0.95 <= busy["confidence"] < 1 and busy["margin"] == pytest.approx(0.01 / 3, abs=1e-6)
    assert data["meaningful"]["latency_p95_s"] == {"value": 0.1, "relative": False}
    assert data["meaningful"]["busy_rate"] == {"value": 0.01, "relative": True}
    first_reply = next(d for d in data["differences"] if d["metric"] == "first_reply_p95_s")
    assert first_reply["significant"] and first_reply["verdict"] == "no meaningful difference"  # +2 ms, every run


def test_headline_tables_and_results_json_show_one_interval_per_verdict(report):
    """Whatever a verdict is, the interval beside it in report.md is results.json's, and holds 0 unless significant."""
    data = json.loads((report / "results.json").read_text())
    text = (report / "report.md").read_text()
    for d in data["differences"]:
        if d["verdict"] == "not applicable" or d["metric"] in data["constant_metrics"]:  # no row: not shown
            continue
        row = next(line for line in text.splitlines() if line.startswith(f"| {d['metric']} "))
        shown = re.search(r"\[([^,\]]+), ([^\]]+)\]", row.split(" | ")[1]).groups()
        low, high = (float(x.replace(",", "").removesuffix(" s").removesuffix(" ms")) for x in shown)
        scale = 1000 if shown[0].endswith(" ms") else 1
        assert (low, high) == pytest.approx((d["low"] * scale, d["high"] * scale), abs=0.06 * scale or 0.06)
        assert d["significant"] == (d["low"] > 0 or d["high"] < 0)
    # The headline's finding shows that interval too, as a share of the baseline (cut at −100 %)
    redis = next(d for d in data["differences"] if d["metric"] == "redis_commands")
    before = data["variants"]["before"]["summary"]["redis_commands"]["mean"]
    share = [max(100 * x / before, -100) for x in (redis["mean"], redis["low"], redis["high"])]
    assert "Redis commands −{:.0f} % [−{:.0f}, −{:.0f}]".format(*(-x for x in share)) in text


def test_markdown_shows_summary_verdicts_and_variants(report):
    text = (report / "report.md").read_text()
    assert "| busy_rate | 0.333 [0.333, 0.333] | 0.000 [0.000, 0.000] |" in text
    assert "| busy_rate | -0.333 [-0.333, -0.333] | 99.74 % | -100.0 % | 0.00333 | better |" in text
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
    assert compare(tmp_path, "--seed", "5") == 130  # sim.cli.main turns Ctrl-C into its exit code
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


def baseline_from(report, tmp_path, edit) -> Path:
    """A copy of the fixture's results.json, changed by `edit`."""
    data = json.loads((report / "results.json").read_text())
    edit(data)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    return path


def test_a_run_compared_with_its_own_results_shows_no_difference(report, tmp_path):
    assert compare(tmp_path, "--baseline", str(report / "results.json"), "--fail-on-regression", "busy_rate") == 0
    data = json.loads((tmp_path / "magna" / "results.json").read_text())
    assert len(data["baseline_diff"]) == 2 * len(METRICS)
    applicable = [c for c in data["baseline_diff"] if c["verdict"] != "not applicable"]
    not_applicable = [c["metric"] for c in data["baseline_diff"] if c not in applicable]
    assert not_applicable == ["cache_hit_ratio"]  # before has no cache
    assert [c for c in applicable if c["significant"] or c["difference_mean"] != 0] == []
    assert (data["baseline_not_compared"], data["regressions"]) == ([], [])


def test_per_replication_metrics_are_stored_at_full_precision(report):
    data = json.loads((report / "results.json").read_text())
    assert data["variants"]["before"]["replications"][0]["busy_rate"] == 1 / 3


def test_a_baseline_folder_is_read_at_its_scenario_results(report, tmp_path):
    assert compare(tmp_path, "--baseline", str(report.parent)) == 0
    assert json.loads((tmp_path / "magna" / "results.json").read_text())["baseline_diff"]


def test_a_baseline_of_another_scenario_exits_2_before_running(report, tmp_path, capsys):
    old = baseline_from(report, tmp_path, lambda d: d.update(scenario="peak-hour"))
    assert compare(tmp_path, "--baseline", str(old)) == 2
    assert (
        capsys.readouterr().err == f"sim: error: --baseline {old}: the results of scenario 'peak-hour', not 'magna'\n"
    )
    assert not (tmp_path / "magna").exists()


def test_a_baseline_folder_without_the_scenarios_results_exits_2(tmp_path, capsys):
    (tmp_path / "old" / "other").mkdir(parents=True)
    assert compare(tmp_path, "--baseline", str(tmp_path / "old")) == 2
    assert (
        capsys.readouterr().err == f"sim: error: --baseline {tmp_path / 'old'}: a folder without magna/results.json\n"
    )


def test_a_scenario_new_to_a_baseline_folder_is_compared_without_one_and_said_on_stderr(report, tmp_path, capsys):
    """A pull request that adds a scenario: main's reports have the others' results, not its own."""
    new = tmp_path / "magna-new.toml"
    new.write_text(Path(MAGNA).read_text().replace('name = "magna"', 'name = "magna-new"'))
    args = ["compare", MAGNA, str(new), "--out", str(tmp_path / "out"), "--quiet", "--replications", "2"]
    assert main([*args, "--baseline", str(report.parent)]) == 0
    assert f"sim: warning: --baseline {str(report.parent)!r}: no magna-new/results.json, so magna-new is " \
        "compared without a baseline (a new scenario?)\n" in capsys.readouterr().err  # fmt: skip
    results = {n: json.loads((tmp_path / "out" / n / "results.json").read_text()) for n in ("magna", "magna-new")}
    assert results["magna"]["baseline_diff"] and results["magna-new"]["baseline_diff"] is None


def test_a_variant_new_to_the_baseline_is_said_on_stderr_and_in_the_report(report, tmp_path, capsys):
    old = baseline_from(report, tmp_path, lambda d: d["variants"].update(renamed=d["variants"].pop("after")))
    assert compare(tmp_path, "--baseline", str(old)) == 0
    err = capsys.readouterr().err
    assert "sim: warning: magna: baseline has no variant 'after': no comparison for it\n" in err
    assert "sim: warning: magna: baseline variant 'renamed' is not in this run: no comparison for it\n" in err
    text = (tmp_path / "magna" / "report.md").read_text()
    assert "Not compared: baseline has no variant 'after': no comparison for it;" in text
    assert "before: 3 replication(s) in the baseline, 3 in this run" in text


def test_a_metric_missing_from_the_baseline_is_said_on_stderr(report, tmp_path, capsys):
    def drop_lock_polls(data):
        for rep in data["variants"]["before"]["replications"]:
            del rep["lock_polls"]

    assert compare(tmp_path, "--baseline", str(baseline_from(report, tmp_path, drop_lock_polls))) == 0
    assert "baseline has no metric 'lock_polls' for variant 'before': no comparison for it" in capsys.readouterr().err


def _busy_rate_was_zero(data):
    for rep in data["variants"]["before"]["replications"]:
        rep["busy_rate"] = 0.0


def test_a_significant_regression_of_a_watched_metric_exits_1(report, tmp_path, capsys):
    old = baseline_from(report, tmp_path, _busy_rate_was_zero)
    assert compare(tmp_path, "--baseline", str(old), "--fail-on-regression", "latency_p95_s,busy_rate") == 1
    assert (
        "\n  regressed: before.busy_rate 0 → 0.3333 (significantly worse than the baseline)\n"
        in capsys.readouterr().out
    )
    data = json.loads((tmp_path / "magna" / "results.json").read_text())
    assert data["regressions"] == ["before.busy_rate"]
    assert "**REGRESSED against the previous run:** before.busy_rate" in (tmp_path / "magna" / "report.md").read_text()


def test_a_regression_of_an_unwatched_metric_does_not_fail_the_run(report, tmp_path):
    old = baseline_from(report, tmp_path, _busy_rate_was_zero)
    assert compare(tmp_path, "--baseline", str(old)) == 0
    assert compare(tmp_path, "--baseline", str(old), "--fail-on-regression", "latency_p95_s") == 0


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("busy_rate,busy_rat", "unknown metric 'busy_rat'"),
        ("messages", "'messages' has no better or worse direction"),
        ("", "unknown metric ''"),
    ],
)
def test_a_bad_fail_on_regression_metric_exits_2(report, tmp_path, capsys, metrics, message):
    # an argparse error, before anything is read or run
    assert compare(tmp_path, "--baseline", str(report / "results.json"), "--fail-on-regression", metrics) == 2
    assert f"sim compare: error: argument --fail-on-regression: {message}" in capsys.readouterr().err
    assert not (tmp_path / "magna").exists()


def test_fail_on_regression_without_a_baseline_exits_2(tmp_path, capsys):
    assert compare(tmp_path, "--fail-on-regression", "busy_rate") == 2
    assert capsys.readouterr().err == "sim: error: --fail-on-regression needs --baseline RESULTS to compare against\n"


def _hostile_baseline(tmp_path, kind: str) -> Path | str:
    variant = '{"format_version": 1, "scenario": "magna", "variants": {"after": {"replications": [{"busy_rate": %s}]}}}'
    texts = {
        "list": "[]",
        "variants-list": '{"format_version": 1, "scenario": "magna", "variants": []}',
        "non-numeric": variant % '"high"',
        "no-replications": '{"format_version": 1, "scenario": "magna", "variants": {"after": {}}}',
        "nan": variant % "NaN",
        "infinity": variant % "Infinity",
        "huge": variant % "1e999",
        "deep": "[" * 100_000 + "]" * 100_000,
    }
    path = tmp_path / f"{kind}.json"
    if kind in texts:
        path.write_text(texts[kind])
    elif kind == "non-utf8":
        path.write_bytes(b'{"scenario": "\xe9t\xe9"}')
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dev-zero":
        return Path("/dev/zero")
    elif kind == "empty-path":
        return ""
    elif kind == "name-too-long":
        return tmp_path / ("a" * 5000)
    return path


HOSTILE_KINDS = {
    "empty-path": "--baseline: an empty path",
    "name-too-long": "File name too long",
    "list": "expected a JSON object, got a list",
    "variants-list": "variants must be an object, got a list",
    "non-numeric": "variants.after.replications[0].busy_rate is not a finite number",
    "no-replications": "variants.after.replications is missing",
    "nan": "NaN is not a number a results.json holds",
    "infinity": "Infinity is not a number a results.json holds",
    "huge": "number '1e999' is too large",
    "deep": "nested too deeply to be a results.json",
    "non-utf8": "not UTF-8 text",
    "fifo": "not a regular file",
    "folder": "a folder without magna/results.json",
    "dev-zero": "not a regular file",
}


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_a_hostile_baseline_exits_2_in_one_line_before_any_simulation(tmp_path, capsys, monkeypatch, kind):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a replication ran before the baseline was checked")

    monkeypatch.setattr(report_commands, "run_replications", must_not_run)
    path = _hostile_baseline(tmp_path, kind)
    assert compare(tmp_path / "out", "--baseline", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("sim: error: --baseline") and str(path)[:200] in err and err.count("\n") == 1
    assert HOSTILE_KINDS[kind] in err
