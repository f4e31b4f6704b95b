"""Accepted but senseless settings: the scenario loads, and carries one warning line for each."""

import pytest

from sim.scenario import load_scenario
from tests.helpers import SCENARIOS, write_scenario

SCRIPT = """
[workload]
[[workload.script]]
customer = "a"
messages = ["0s"]
"""


def warnings_of(tmp_path, text):
    return load_scenario(write_scenario(tmp_path, text)).warnings


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.name)
def test_bundled_scenarios_give_no_warnings(path):
    assert load_scenario(path).warnings == ()


def test_a_lock_timeout_shorter_than_one_backoff_step_is_a_warning(tmp_path):
    found = warnings_of(tmp_path, SCRIPT + "[lock]\ntimeout = '50ms'\nbackoff = { kind = 'fixed', delay = '100ms' }\n")
    assert found == (
        "variant 'default': [lock]timeout 0.05 s is shorter than one backoff step (0.1 s): "
        "a waiter tries at most twice and the backoff never applies",
    )


def test_a_fair_lock_has_no_backoff_so_a_short_timeout_is_no_warning(tmp_path):
    text = SCRIPT + "[lock]\ntimeout = '50ms'\nfair = true\nbackoff = { kind = 'fixed', delay = '100ms' }\n"
    assert warnings_of(tmp_path, text) == ()


def test_a_lock_ttl_shorter_than_crm_plus_llm_means_is_a_warning_naming_every_variant(tmp_path):
    text = SCRIPT + "[lock]\nttl = '10s'\n[services]\ncrm = '4s'\nllm = '7s'\n[variants.a]\n[variants.b]\n"
    assert warnings_of(tmp_path, text) == (
        "variants 'a', 'b': [lock]ttl 10 s is shorter than a typical handling time (11 s, CRM + LLM means): "
        "the lock expires while its holder still works",
    )


def test_a_watchdog_extends_the_ttl_so_a_short_ttl_is_no_warning(tmp_path):
    text = SCRIPT + "[lock]\nttl = '10s'\nwatchdog = true\n[services]\ncrm = '4s'\nllm = '7s'\n"
    assert warnings_of(tmp_path, text) == ()


def test_a_zero_duration_with_a_rate_is_a_warning(tmp_path):
    text = "[scenario]\nduration = '0s'\n" + SCRIPT.replace("[workload]\n", "[workload]\ncustomers_per_hour = 60\n")
    found = warnings_of(tmp_path, text)
    assert found == ("[scenario]duration is 0 s: customers_per_hour > 0 adds no customers (only the script runs)",)


@pytest.mark.parametrize(
    "customer, population, surge, collides",
    [
        ("c3", 10, False, True),
        ("c10", 10, False, False),  # population ids are c0 … c9
        ("c03", 10, False, False),  # never generated: ids have no leading zeros
        ("c12345", 0, False, True),  # without a population every burst is a new c<n>
        ("s0", 10, True, True),
        ("s0", 10, False, False),
        ("magna", 10, True, False),
    ],
)
def test_a_scripted_customer_with_a_random_customers_id_is_a_warning(tmp_path, customer, population, surge, collides):
    text = f"""
    [scenario]
    duration = "1h"
    [workload]
    customers_per_hour = 60
    population = {population}
    [[workload.script]]
    customer = "{customer}"
    messages = ["0s"]
    """
    if surge:
        text += "[[workload.surge]]\nstart = '0s'\nduration = '10m'\nmultiplier = 3\n"
    found = warnings_of(tmp_path, text)
    expected = (
        f"[workload.script]customer {customer!r} is also the id of a random customer: their messages share one lock"
    )
    assert found == ((expected,) if collides else ())
