"""What `sim compare` says first (terminal, job summary) and what results.json keeps to re-run a report."""

import json

import pytest

import sim
from sim.cli import main
from sim.report.json_report import PACKAGES
from tests.helpers import MAGNA


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """magna over 2 replications, with a job summary file as GitHub Actions gives one; (folder, stdout, summary)."""
    out = tmp_path_factory.mktemp("content")
    summary = out / "summary.md"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        capture = out / "stdout.txt"
        with capture.open("w") as stdout, pytest.MonkeyPatch.context() as streams:
            streams.setattr("sys.stdout", stdout)
            assert main(["compare", MAGNA, "--out", str(out), "--quiet", "--replications", "2"]) == 0
    return out / "magna", capture.read_text(), summary.read_text()


def test_sim_compare_prints_the_headline_and_the_thresholds_before_the_reports_path(run):
    _, stdout, _ = run
    lines = stdout.splitlines()
    assert lines[0] == "after vs before:"
    assert lines[1].startswith("  better   busy apologies −100 % [−100, −100] (1.0 → 0.0 per run)")
    assert "thresholds:" in lines and "  ✓ after.busy_rate<0.01 for after: busy_rate ≤ 0 % (upper 95 % bound)" in lines
    assert lines[-1].startswith("magna: 2 variants × 2 replications, all 4 threshold checks passed → ")


def test_the_job_summary_has_the_headline_thresholds_and_tables_but_no_image_links(run):
    _, _, summary = run
    assert summary.startswith("# magna: 2 variant(s) compared\n")
    assert "**after vs before:** busy apologies −100 %" in summary
    assert "- ✓ after.crm_calls<=1 for after: crm_calls ≤ 1 (upper 95 % bound)" in summary
    assert "| busy_rate | -0.333 [-0.333, -0.333] | 99.74 % | -100.0 % | 0.00333 | better |" in summary
    assert "## What was simulated" in summary
    assert "](" not in summary and ".png" not in summary and "## Plots" not in summary


def test_results_json_keeps_the_setup_and_the_versions_to_rerun_the_report(run):
    folder, _, _ = run
    data = json.loads((folder / "results.json").read_text())
    assert list(data["versions"]) == list(PACKAGES)
    assert data["versions"]["sim"] == sim.__version__
    assert all(v and v != "not installed" for v in data["versions"].values())  # the test needs all of them
    setup = data["setup"]
    assert (setup["name"], setup["seed"], setup["replications"], setup["path"]) == ("magna", 20251027, 2, "magna.toml")
    assert [v["name"] for v in setup["variants"]] == ["before", "after"]
    assert setup["variants"][1]["lock"]["backoff"] == {"kind": "exponential", "base": 0.1, "factor": 2.0, "cap": 2.0}
    assert setup["workload"]["scripted"][0]["at"] == [0.0, 12.0, 14.0]
