"""Hostile command lines: every argument a user or a CI job can get wrong gives a documented exit
code, and a bad one gives exactly one line on stderr — never a traceback, never exit 4.

Values are drawn so that the *valid* ones stay cheap (a replication or two of a three-message
story), while the invalid ones roam: negative, huge, non-numeric, malformed, paths that are files
or devices.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.core.errors import ExitCode
from tests.helpers import MAGNA

DOCUMENTED = {ExitCode.OK, ExitCode.BREACHED, ExitCode.BAD_INPUT, ExitCode.BROKEN}

garbage = st.text(alphabet="-+.,=<>%:0123456789aesmhx_ \t", max_size=8)
seeds = st.one_of(st.integers(), garbage).map(str)
replications = st.one_of(st.integers(-3, 2), st.integers(10_001, 10**30), garbage).map(str)
metrics = st.sampled_from(["busy_rate", "latency_p95_s", "crm_calls", "lock_lost", "bogus", ""])
thresholds = st.one_of(
    garbage,
    st.builds(
        "{}{}{}{}".format,
        st.sampled_from(["", "after.", "before.", "nobody.", "."]),
        metrics,
        st.sampled_from(["<", "<=", ">", ">=", "==", "<<"]),
        st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), garbage),
    ),
)
grid_keys = st.sampled_from(["lock.timeout", "lock", "workers.count", "cache.ttl", "x.y.z", "lock.backoff.cap", ""])
grid_values = st.lists(st.sampled_from(["30s", "0s", "-1s", "1e400", "true", "", "5", "5", "lock"]), max_size=3)
grids = st.builds("{}={}".format, grid_keys, grid_values.map(",".join))


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def assert_documented(code: int, err: str) -> None:
    assert code in DOCUMENTED, (code, err)
    assert "Traceback" not in err
    if code == ExitCode.BAD_INPUT:
        lines = [line for line in err.splitlines() if not line.startswith("sim: warning:")]
        assert len(lines) == 1 and lines[0].startswith("sim"), err


def out_choices(base: Path) -> st.SearchStrategy[str]:
    a_file = base / "a-file"
    a_file.write_text("not a folder")
    return st.sampled_from([str(base / "out"), str(a_file), str(a_file / "below"), "/dev/null", "/dev/null/x", ""])


@settings(max_examples=40)
@given(data=st.data())
def test_compare_arguments_give_a_documented_exit_code_and_one_line(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("cli")
    argv = ["compare", MAGNA, "--quiet", "--processes", "1", "--out", data.draw(out_choices(base))]
    argv += ["--replications", data.draw(replications), "--seed", data.draw(seeds)]
    for expression in data.draw(st.lists(thresholds, max_size=2)):
        argv += ["--threshold", expression]
    code, err = run_cli(argv)
    event(f"exit {code}")
    assert_documented(code, err)
    left = {p.name for p in base.iterdir()}
    assert left <= {"a-file", "out"}, left  # nothing written beside --out


@settings(max_examples=30)
@given(data=st.data())
def test_sweep_grids_give_a_documented_exit_code_and_one_line(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("sweep")
    argv = ["sweep", MAGNA, "--variant", "after", "--quiet", "--processes", "1", "--replications", "1"]
    argv += ["--out", str(base)]
    for grid in data.draw(st.lists(grids, min_size=1, max_size=2)):
        argv += ["--grid", grid]
    code, err = run_cli(argv)
    event(f"exit {code}")
    assert_documented(code, err)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=12,
)


def mutated_results(real: dict, data: st.DataObject) -> object:
    """A real results.json with one value replaced somewhere along a random path."""
    document = json.loads(json.dumps(real))
    node, path = document, []
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        if not isinstance(node[key], (dict, list)):
            break
        node = node[key]
    if not path:
        return data.draw(json_values)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(json_values)
    return document


@pytest.mark.slow
@settings(max_examples=40)
@given(data=st.data())
def test_hostile_baseline_files_give_a_documented_exit_code_and_one_line(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("baseline")
    real = json.loads((Path(__file__).parents[1] / "report" / "expected" / "magna-results.json").read_text())
    document = mutated_results(real, data) if data.draw(st.booleans()) else data.draw(json_values)
    baseline = base / "results.json"
    baseline.write_text(json.dumps(document))
    argv = ["compare", MAGNA, "--quiet", "--processes", "1", "--replications", "2", "--out", str(base / "out")]
    code, err = run_cli([*argv, "--baseline", str(baseline)])
    event(f"exit {code}")
    assert_documented(code, err)
