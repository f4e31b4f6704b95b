"""`sim comment` (issue 23 item 9): the pull request's comment from report folders — the headline and the
thresholds as the report says them, plain text whatever a results.json holds, always under GitHub's
limit — and the example workflows that call it use only options `sim` has."""

import copy
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from sim.cli import build_parser, main
from sim.report import comment
from tests.helpers import MAGNA, ROOT

URL = "https://github.com/org/repo/actions/runs/1/artifacts/2"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """magna compared over 2 replications, one threshold that does not apply (not met)."""
    out = tmp_path_factory.mktemp("reports")
    args = ["compare", MAGNA, "--out", str(out), "--quiet", "--replications", "2", "--processes", "1"]
    assert main([*args, "--threshold", "change(after.failed) <= -50%"]) == 1
    return out


def test_the_comment_is_the_reports_first_screen_with_a_link_to_the_artifact(reports, capsys):
    assert main(["comment", str(reports), "--artifact-url", URL]) == 0
    body = capsys.readouterr().out
    lines = body.splitlines()
    assert lines[0] == comment.MARKER
    assert (
        lines[1]
        == "## sim compare: ✗ 1 of 1 scenario(s) failed (a threshold not met, a regression or a broken invariant)"
    )
    assert "### ✗ magna: 2 variant(s) × 2 replication(s), 1 of 5 threshold checks not met" in lines
    first = (reports / "magna" / "report.md").read_text().split("## What was simulated")[0]
    headline = next(line for line in first.splitlines() if line.startswith("**after vs before:**"))
    shown = next(line for line in lines if line.startswith("**after vs before:**"))
    assert shown == headline.replace("[", "\\[").replace("]", "\\]")  # the same words, brackets escaped
    assert "- ✗ change(after.failed) &lt;= -50% for after: not applicable: before.failed is 0 in every" in body
    assert f"Report: [magna/report.html and 10 plot(s)]({URL})" in body
    assert len(body) < comment.MAX_CHARS


def test_the_same_report_folder_given_directly_and_written_to_a_file(reports, tmp_path):
    out = tmp_path / "comment.md"
    assert main(["comment", str(reports / "magna"), "--out", str(out)]) == 0
    assert out.read_text().startswith(comment.MARKER) and "in this run's artifact" in out.read_text()


KEPT = ("format_version", "scenario", "replications", "passed", "invariant_violations", "regressions", "first_screen")


def hostile(folder: Path, base: dict, name: str, **changes) -> None:
    """A report folder whose results.json is `base` with `changes`: the keys sim comment reads, and two variants."""
    data = {k: copy.deepcopy(base[k]) for k in KEPT} | {"variants": {"before": {}, "after": {}}} | changes
    (folder / name).mkdir(parents=True)
    (folder / name / "results.json").write_text(json.dumps(data))


def test_every_text_from_a_results_json_shows_as_plain_text(reports, tmp_path):
    base = json.loads((reports / "magna" / "results.json").read_text())
    evil = "<img src=x onerror=alert(1)> @octocat [click](http://evil.example) `code` *bold* \x1b[2J\n# heading"
    first = copy.deepcopy(base["first_screen"])
    first["headlines"][0]["title"] = evil
    first["headlines"][0]["findings"] = [{"verdict": "worse", "text": "x" * 1_000}] * 10_000
    first["checks"] = [{"mark": "✓", "text": evil, "passed": True}]
    hostile(tmp_path, base, "evil", scenario=evil, first_screen=first)
    body = comment.render(comment.sections([str(tmp_path)]))
    assert "<img" not in body and "@octocat" not in body and "\x1b" not in body and "[click](http" not in body
    assert "&lt;img src=x onerror=alert(1)&gt; @\u200boctocat \\[click\\](http://evil.example) \\`code\\`" in body
    assert "\n# heading" not in body and "x" * (comment.MAX_TEXT + 1) not in body
    assert len(body) <= comment.MAX_CHARS


def test_a_comment_always_fits_githubs_limit_saying_less_per_scenario_then_counting_the_rest(reports, tmp_path):
    base = json.loads((reports / "magna" / "results.json").read_text())
    long_first = copy.deepcopy(base["first_screen"])
    long_first["headlines"][0]["findings"] = [{"verdict": "worse", "text": "y" * 300}] * 30
    for k in range(60):  # full detail: about a million characters
        hostile(tmp_path / "some", base, f"s{k:04}", first_screen=long_first)
    body = comment.render(comment.sections([str(tmp_path / "some")]))
    assert len(body) <= comment.MAX_CHARS and body.count("### ") == 60  # every scenario, in less detail
    for k in range(3000):
        hostile(tmp_path / "many", base, f"s{k:04}", first_screen=long_first, scenario=f"scenario {k:04} " + "z" * 300)
    body = comment.render(comment.sections([str(tmp_path / "many")]))
    assert len(body) <= comment.MAX_CHARS
    shown = body.count("### ")
    assert 0 < shown < 3000 and f"… and {3000 - shown} more scenario(s)" in body


@pytest.mark.parametrize(
    "args, says",
    [
        (["nowhere"], "sim comment: 'nowhere': not a report folder or a folder of them"),
        (["EMPTY"], "sim comment: no report of sim compare (OUT/<name>/results.json) in"),
        (["BROKEN"], "not a results.json of sim compare, format 3 (first_screen is missing)"),
        (["TUNE"], "the report of a sweep or a tune, not of sim compare"),
        (["EMPTY", "--artifact-url", "javascript:alert(1)"], "expected an http(s) URL"),
        (["EMPTY", "--artifact-url", "https://x.example/a)(b"], "expected an http(s) URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, says):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text('{"format_version": 2, "scenario": "x"}')
    (tmp_path / "tune").mkdir()
    (tmp_path / "tune" / "results.json").write_text('{"kind": "tune"}')
    folders = {"EMPTY": tmp_path / "empty", "BROKEN": tmp_path / "broken", "TUNE": tmp_path / "tune"}
    assert main(["comment", *(str(folders.get(a, a)) for a in args)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


WORKFLOWS = ROOT / "examples" / "ci"


def sim_calls(workflow: dict) -> list[list[str]]:
    """Every `sim SUBCOMMAND …` line of the workflow's run steps, as arguments (variables kept as text)."""
    calls = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                if line.strip().startswith("sim "):
                    calls.append(shlex.split(re.sub(r"\$\{[^}]*\}", "", line))[1:])
    return calls


def test_the_example_workflows_call_sim_with_options_it_has_and_agree_with_each_other():
    compare_flow = yaml.safe_load((WORKFLOWS / "sim-compare.yml").read_text())
    comment_flow = yaml.safe_load((WORKFLOWS / "sim-comment.yml").read_text())
    calls = sim_calls(compare_flow)
    assert [c[0] for c in calls] == ["compare", "comment"]
    commands = {a.dest: a for a in build_parser()._subparsers._group_actions}  # noqa: SLF001 - the parser's own
    parsers = commands["command"].choices
    for call in calls:
        known = {option for action in parsers[call[0]]._actions for option in action.option_strings}  # noqa: SLF001
        assert {arg for arg in call if arg.startswith("--")} <= known, call
    # part 2 runs after part 1 by its name, reads the artifact part 1 writes, and finds the comment by its marker
    on = comment_flow[True]  # YAML 1.1 reads the key `on` as true
    assert on["workflow_run"]["workflows"] == [compare_flow["name"]]
    assert any(step.get("with", {}).get("name") == "sim-comment" for step in comment_flow["jobs"]["comment"]["steps"])
    assert comment.MARKER in (WORKFLOWS / "sim-comment.yml").read_text()
    assert "checkout" not in (WORKFLOWS / "sim-comment.yml").read_text()  # never runs the pull request's code
