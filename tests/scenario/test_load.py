"""Scenario files: defaults, variants as overrides, and one-line errors naming file and key."""

import pytest

from sim.core import distributions as d
from sim.scenario import ScenarioError, load_scenario
from tests.helpers import SCENARIOS
from tests.helpers import write_scenario as write

MINIMAL = """
[workload]
[[workload.script]]
customer = "a"
messages = ["0s", "2s"]
"""


def test_magna_variants_are_exactly_the_seed_configurations():
    s = load_scenario(SCENARIOS / "magna.toml")
    before, after = s.variant("before"), s.variant("after")
    assert (before.lock.timeout, before.lock.backoff.kind, before.lock.backoff.delay) == (30.0, "fixed", 0.1)
    assert (after.lock.timeout, after.lock.backoff.kind) == (60.0, "exponential")
    assert (after.lock.backoff.base, after.lock.backoff.factor, after.lock.backoff.cap) == (0.1, 2.0, 2.0)
    assert before.lock.ttl == after.lock.ttl == 120.0
    assert (before.cache.enabled, after.cache.enabled, after.cache.ttl) == (False, True, 300.0)
    assert s.workload.scripted[0].at == (0.0, 12.0, 14.0)
    assert s.baseline == "before"


def test_defaults_fill_what_a_minimal_file_leaves_out(tmp_path):
    s = load_scenario(write(tmp_path, MINIMAL))
    (v,) = s.variants
    assert (v.name, v.workers, v.redis_rtt, v.lock.ttl) == ("default", 10, 0.001, 120.0)
    assert v.services.crm == d.Uniform(8.0, 10.0)
    assert (s.duration, s.replications, s.name) == (2.0, 10, "s")


def test_a_variant_inherits_everything_it_does_not_name(tmp_path):
    s = load_scenario(
        write(
            tmp_path,
            MINIMAL
            + """
        [lock]
        ttl = "90s"
        [variants.a]
        [variants.b.lock]
        timeout = "45s"
        """,
        )
    )
    a, b = s.variants
    assert (a.lock.ttl, b.lock.ttl, a.lock.timeout, b.lock.timeout) == (90.0, 90.0, 30.0, 45.0)


def test_lognormal_is_given_by_median_and_p95(tmp_path):
    s = load_scenario(
        write(
            tmp_path,
            MINIMAL
            + """
        [services]
        llm = { dist = "lognormal", median = "17s", p95 = "28s" }
        """,
        )
    )
    assert s.variants[0].services.llm == d.LogNormal(17.0, 28.0)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            "[lock]\ntimout = '30s'",
            "[lock]timout: unknown key (allowed here: ttl, timeout, backoff, log_every, fair, watchdog, fencing, "
            "wait_replicas, wait_timeout)",
        ),
        ("[lock]\ntimeout = '5 minutos'", "[lock]timeout: expected a duration such as '100ms'"),
        ("[lock]\ntimeout = '-5s'", "[lock]timeout: expected a duration"),
        ("[lock]\ntimeout = -5", "[lock]timeout: must be zero or more, got -5"),
        ("[workers]\ncount = 'many'", "[workers]count: expected a whole number >= 1, got 'many'"),
        ("[workers]\ncount = 0", "[workers]count: must be >= 1, got 0"),
        ("[services]\ncrm = { dist = 'pareto', mean = '9s' }", "[services.crm]dist: expected one of fixed, uniform"),
        ("[lock.backoff]\nkind = 'linear'", "[lock.backoff]kind: expected one of fixed, exponential"),
        ("[variants.x.lock]\nttl = true", "[variants.x.lock]ttl: expected a duration"),
        ("[variants.x]\nworkload = {}", "[variants.x]workload: unknown key"),
        ("[scenario]\nbaseline = 'nope'", "[scenario]baseline: expected one of default, got 'nope'"),
        ("[bogus]\nx = 1", ": bogus: unknown key (allowed here: scenario, workload, lock"),
    ],
)
def test_bad_input_names_file_section_key_and_what_is_allowed(tmp_path, extra, expected):
    path = write(tmp_path, MINIMAL + "\n" + extra + "\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_and_broken_toml_are_one_line_errors(tmp_path):
    with pytest.raises(ScenarioError, match=r"nope\.toml: no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match=r"s\.toml: invalid TOML: .*line 2"):
        load_scenario(write(tmp_path, "[workload]\ncustomers_per_hour = = 3\n"))


def test_an_open_workload_requires_a_duration(tmp_path):
    with pytest.raises(ScenarioError, match=r"\[scenario\]duration: is required"):
        load_scenario(write(tmp_path, "[workload]\ncustomers_per_hour = 60\n"))


def test_an_empty_workload_is_rejected(tmp_path):
    with pytest.raises(ScenarioError, match=r"\[workload\]customers_per_hour: the workload is empty"):
        load_scenario(write(tmp_path, "[scenario]\nseed = 1\n"))


@pytest.mark.parametrize(
    "name",
    ["../victim", "", ".", "..", "/some/abs/dir", "../../etc", "a/b", "a\\b", ".hidden", "tab\there", "é", "x" * 101],
)
def test_a_name_that_is_not_a_plain_file_name_is_refused(tmp_path, name):
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\nname = """' + name.replace("\\", "\\\\") + '"""\n' + MINIMAL)
    with pytest.raises(ScenarioError, match=r"\[scenario\]name: .* cannot be a report folder name: use letters"):
        load_scenario(path)


@pytest.mark.parametrize("name", ["magna", "peak-hour", "v1.2_final", "-x", "_", "x" * 100])
def test_a_plain_file_name_is_a_valid_name(tmp_path, name):
    path = tmp_path / "s.toml"
    path.write_text(f'[scenario]\nname = "{name}"\n' + MINIMAL)
    assert load_scenario(path).name == name


def test_a_file_stem_that_cannot_be_a_folder_name_asks_for_a_name(tmp_path):
    path = tmp_path / "..toml"
    path.write_text(MINIMAL)
    with pytest.raises(ScenarioError, match=r"the file name '\.\.toml' cannot be used .*; set \[scenario\]name$"):
        load_scenario(path)
    path.write_text('[scenario]\nname = "fine"\n' + MINIMAL)
    assert load_scenario(path).name == "fine"


def test_a_very_long_name_is_reported_by_its_length_not_echoed(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'[scenario]\nname = "{"x" * 100_000}"\n' + MINIMAL)
    with pytest.raises(ScenarioError, match="a name of 100,000 characters cannot be a report folder name") as error:
        load_scenario(path)
    assert len(str(error.value)) < 300
