"""`sim compare --sensitivity` from the command line: files, exit codes, bounds, determinism."""

import json

import pytest

from sim.cli import main
from tests.helpers import write_scenario

SMALL = """
    [scenario]
    name = "small"
    seed = 3
    duration = "10m"
    replications = 2
    thresholds = ["after.busy_rate<0.5"]

    [workload]
    customers_per_hour = 60
    population = 40
    burst_size = { dist = "choice", values = [1, 2, 3], weights = [0.4, 0.4, 0.2] }
    burst_gap = { dist = "exponential", mean = "6s" }

    [services]
    crm = { dist = "lognormal", median = "9s", p95 = "14s" }
    llm = { dist = "lognormal", median = "17s", p95 = "28s" }

    [workers]
    count = 4

    [variants.before]
    lock = { timeout = "30s", backoff = { kind = "fixed", delay = "100ms" } }
    cache = { enabled = false }

    [variants.after]
    lock = { timeout = "60s", backoff = { kind = "exponential", base = "100ms", factor = 2, cap = "2s" } }
    cache = { enabled = true, ttl = "300s" }
"""


def sensitivity(tmp_path, *extra, out="reports"):
    scenario = write_scenario(tmp_path, SMALL)
    return main(["compare", str(scenario), "--out", str(tmp_path / out), "--quiet", "--processes", "1", *extra])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    code = sensitivity(folder, "--sensitivity", "--axes", "burst-mix,workers", "--claims", "seed")
    return code, folder / "reports" / "small"


def test_the_usual_report_and_the_study_are_written_side_by_side(study):
    code, folder = study
    assert code == 0
    assert {"report.md", "results.json", "sensitivity.md", "sensitivity.json"} <= {p.name for p in folder.iterdir()}
    data = json.loads((folder / "sensitivity.json").read_text())
    names = [c["name"] for c in data["cases"]]
    assert names == ["as written", "light burst mix", "dialog pacing", "half the workers", "double the workers"]
    assert all(c["replications"] == 2 for c in data["cases"])
    # the case "as written" is the usual comparison itself
    results = json.loads((folder / "results.json").read_text())
    assert data["cases"][0]["summary"]["after"]["busy_rate"] == results["variants"]["after"]["summary"]["busy_rate"]
    # the light mix sends fewer messages than the scenario as written, with the same customers' arrivals
    messages = [c["summary"]["after"]["messages"]["mean"] for c in data["cases"]]
    assert messages[1] < messages[0]
    row = next(r for r in data["rows"] if r["metric"] == "busy_rate")
    assert set(row["verdicts"]) == set(names) and row["holds"] == (row["flips_under"] == [])
    claims = {c["claim"] for c in data["cases"][0]["claims"]}
    assert claims == {"fewer apologies (95 %+ fewer)", "lock failures < 1 %", "cache hit ratio ~80 % (≥ 75 %)",
                      "CRM calls −99 %"}  # fmt: skip
    assert all(c["state"] in {"holds", "fails", "not shown", "not applicable"} for c in data["cases"][2]["claims"])


def test_the_markdown_says_which_verdicts_hold_and_judges_thresholds_per_case(study):
    text = (study[1] / "sensitivity.md").read_text()
    for heading in ("## Cases", "## Which verdicts hold", "## Claims", "## Verdicts: after vs before",
                    "## Thresholds per case"):  # fmt: skip
        assert heading in text
    assert "holds in every case" in text or "flips under:" in text
    assert "after.busy_rate<0.5 (after)" in text


def test_the_study_is_deterministic(tmp_path, study):
    assert sensitivity(tmp_path, "--sensitivity", "--axes", "burst-mix,workers", "--claims", "seed") == 0
    again = (tmp_path / "reports" / "small" / "sensitivity.json").read_text()
    assert again == (study[1] / "sensitivity.json").read_text()


def test_the_scenario_as_written_decides_the_exit_code(tmp_path, capsys):
    # a threshold that holds as written (4 workers) and breaks with half the workers still exits 0 …
    code = sensitivity(tmp_path, "--sensitivity", "--axes", "workers", "--threshold", "after.busy_rate<=0.9")
    assert code == 0
    # … and one breached as written exits 1, whatever the other cases say
    assert sensitivity(tmp_path, "--sensitivity", "--axes", "workers", "--threshold", "after.messages<1") == 1
    assert "sensitivity (one-at-a-time, 3 cases)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sensitivity", "full"], None),  # thousands of cases: refused
        (["--sensitivity", "--axes", "nope"], "--axes"),
        (["--axes", "workers"], "need --sensitivity"),
        (["--claims", "seed"], "need --sensitivity"),
        (["--sensitivity", "--claims", "team"], "--claims 'team'"),
        (["--sensitivity", "sideways"], "invalid choice"),
    ],
)
def test_bad_sensitivity_options_exit_2_before_any_run(tmp_path, capsys, extra, message):
    assert sensitivity(tmp_path, *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and (message or "axes; the limit is 64") in err
    assert not (tmp_path / "reports" / "small").exists()


def test_claims_about_variants_a_scenario_lacks_exit_2(tmp_path, capsys):
    other = write_scenario(tmp_path, SMALL.replace("variants.after", "variants.later").replace("after.", "later."))
    code = main(["compare", str(other), "--out", str(tmp_path), "--quiet", "--sensitivity", "--claims", "seed"])
    assert code == 2 and "--claims seed: small:" in capsys.readouterr().err
