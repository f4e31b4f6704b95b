"""Hostile input: random and mutated scenario files give a clean one-line error or a valid run.

Never a traceback, never a half-read scenario. Budgets are bounded (max_examples)
so the suite stays fast in CI; valid mutants run a short slice of themselves.
"""

import copy
import dataclasses
import tomllib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.experiment import run_replications
from sim.report.folder import write_report
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.load import parse_scenario
from sim.world.model import simulate
from tests.helpers import BUNDLED as SCENARIOS

TEXTS = [p.read_text() for p in SCENARIOS]
DATA = [tomllib.loads(t) for t in TEXTS]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([10**400, -(10**400), 2**1024, 10**308, 2**63]),  # past float range: float() overflows
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=5e-324, max_value=1e-6, exclude_max=True),  # durations the clock cannot add
    st.sampled_from(["0s", "-5s", "5 minutos", "1h", "100ms", "1e3", "fixed", "lognormal", "", "∞"]),
    st.lists(st.integers(min_value=-3, max_value=5), max_size=3),
    st.dictionaries(st.sampled_from(["dist", "kind", "value", "mean", "bogus"]), st.integers(-2, 5), max_size=2),
)


def paths(table, prefix=()):
    for key, value in table.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from paths(value, (*prefix, key))


def set_path(table, path, value):
    for key in path[:-1]:
        table = table[key]
    table[path[-1]] = value


def assert_clean_error(error: ScenarioError, file: str) -> None:
    message = str(error)
    assert message.startswith(f"{file}: ") and "\n" not in message and "Traceback" not in message


def run_a_slice(scenario) -> None:
    """A valid scenario must run: its first simulated minute, lock waits capped, one replication."""
    scenario = dataclasses.replace(scenario, duration=min(scenario.duration, 60.0))
    variant = scenario.variants[0]
    lock = dataclasses.replace(variant.lock, timeout=min(variant.lock.timeout, 30.0))
    run = simulate(scenario, dataclasses.replace(variant, lock=lock), 0)
    assert run.violations == ()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_values_give_a_clean_error_or_a_valid_scenario(data):
    index = data.draw(st.integers(0, len(DATA) - 1))
    document = copy.deepcopy(DATA[index])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(paths(document))))
        if data.draw(st.booleans()):
            set_path(document, path, data.draw(values))
        else:
            set_path(document, (*path[:-1], data.draw(st.sampled_from(["bogus", "timout", "dist"]))), 1)
        if not isinstance(document, dict):
            break
    try:
        scenario = parse_scenario(document, "fuzz.toml")
    except ScenarioError as error:
        assert_clean_error(error, "fuzz.toml")
        event("rejected")
        return
    event("valid, ran")
    run_a_slice(scenario)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mangled_text_gives_a_clean_error_or_a_valid_scenario(tmp_path, data):
    text = data.draw(st.sampled_from(TEXTS))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 5))
        insert = data.draw(st.text(alphabet='[]="{}.,#\n-0123456789abcsmh ', max_size=4))
        text = text[:at] + insert + text[at + cut :]
    path = tmp_path / "mangled.toml"
    path.write_text(text)
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        assert_clean_error(error, str(path))
        event("rejected")
        return
    event("valid, ran")
    run_a_slice(scenario)


def test_scenario_files_are_data_nothing_in_them_is_executed(tmp_path):
    path = tmp_path / "evil.toml"
    path.write_text(
        "[scenario]\nname = \"__import__('os').system('touch pwned')\"\n[workload]\ncustomers_per_hour = \"1+1\"\n"
    )
    with pytest.raises(ScenarioError, match=r"\[workload\]customers_per_hour: expected a number >= 0, got '1\+1'"):
        load_scenario(path)
    assert not (tmp_path / "pwned").exists()


def test_binary_garbage_is_a_clean_error(tmp_path):
    path = tmp_path / "garbage.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert_clean_error(error.value, str(path))


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(st.data())
def test_every_valid_mutant_gets_a_complete_report(tmp_path_factory, data):
    """A report never fails on a valid scenario, however extreme its values (a 0 s CRM, LLM and
    round trip included): every variant, two replications of a short slice, all files written."""
    document = copy.deepcopy(DATA[data.draw(st.integers(0, len(DATA) - 1))])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(paths(document))))
        set_path(document, path, data.draw(st.one_of(values, st.sampled_from(["0s", 0, "1ms", "1000d"]))))
    try:
        scenario = parse_scenario(document, "fuzz.toml")
    except ScenarioError:
        return
    event("valid, reported")
    short = [dataclasses.replace(v, lock=dataclasses.replace(v.lock, timeout=min(v.lock.timeout, 30.0)))
             for v in scenario.variants]  # fmt: skip
    scenario = dataclasses.replace(scenario, duration=min(scenario.duration, 60.0), replications=2,
                                   variants=tuple(short))  # fmt: skip
    out = tmp_path_factory.mktemp("report")
    folder = write_report(run_replications(scenario), out, scenario.name)
    names = {p.name for p in folder.iterdir()}
    assert {"report.md", "report.html", "results.json", "records.csv"} <= names
    assert len([n for n in names if n.endswith(".png")]) >= 8
