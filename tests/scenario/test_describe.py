"""What the results model records of a scenario: the workload in words and the whole setup as plain data."""

import dataclasses
import json

from sim.scenario import load_scenario
from sim.scenario.describe import context, seconds, setup
from sim.scenario.model import Variant
from tests.helpers import SCENARIOS
from tests.helpers import write_scenario as write

EVERYTHING = """
[scenario]
name = "everything"
duration = "2h"
replications = 3

[workload]
customers_per_hour = 120
population = 900
burst_size = { dist = "uniform", low = 1, high = 4 }

[[workload.surge]]
start = "30m"
duration = "10m"
multiplier = 5

[services]
crm = { dist = "empirical", file = "crm.csv" }
llm = { dist = "mixture", components = [
  { weight = 98, dist = "lognormal", median = "10s", p95 = "20s" },
  { weight = 2, dist = "fixed", value = "30s" },
] }
llm_timeout = "45s"

[[faults]]
kind = "redis_down"
start = "1h"
duration = "90s"

[[faults]]
kind = "crm_errors"
start = "10m"
duration = "5m"
rate = 0.25

[variants.old]
[variants.new]
workers = { count = 20 }
handler = { debounce = "500ms" }
"""


def test_magna_is_told_in_words_with_the_variant_as_its_differences():
    lines = context(load_scenario(SCENARIOS / "magna.toml")).workload
    assert lines == (
        "**Run:** bursts start for 14 s, then the run drains; 10 replication(s), seed 20251027.",
        "**Arrivals:** no random customers (scripted messages only).",
        "**Scripted customers:** magna (tax id 123.456.789-00): 3 message(s) at 0 s, 12 s, 14 s.",
        "**Services** (as in before): CRM uniform 8 s–10 s (no timeout); LLM uniform 15 s–20 s (no timeout); "
        "installation points per customer 2; Redis round trip 1 ms.",
        "**Faults:** none.",
        "**before (baseline):** lock wait 30 s, fixed 100 ms, TTL 120 s; no cache; 4 workers.",
        "**after:** as before, except lock.timeout 30 s → 60 s; lock.backoff fixed 100 ms → exponential "
        "100→2000 ms ×2; cache.enabled off → on.",
    )


def test_surges_faults_timeouts_and_every_distribution_kind_are_told(tmp_path):
    (tmp_path / "crm.csv").write_text("seconds\n8\n9\n13\n")
    lines = context(load_scenario(write(tmp_path, EVERYTHING))).workload
    assert lines[1] == (
        "**Arrivals:** Poisson bursts at 120 per hour, from a population of 900 customers; burst size uniform 1–4, "
        "gap between a burst's messages exponential, mean 5 s; a surge ×5 from 30 min for 10 min."
    )
    assert lines[2] == (
        "**Services** (as in old): CRM 3 observations from crm.csv (mean 10 s) (no timeout); LLM mixture of "
        "98% lognormal, median 10 s, p95 20 s, 2% 30 s (abandoned after 45 s); installation points per customer "
        "uniform 1–3; Redis round trip 1 ms."
    )
    assert lines[3] == "**Faults:** Redis down from 1 h for 90 s; 25% of CRM calls fail from 10 min for 5 min."
    assert lines[-1] == "**new:** as old, except workers 10 → 20; handler.debounce 0 s → 500 ms."


def test_the_setup_is_every_field_of_the_scenario_as_json_ready_data(tmp_path):
    (tmp_path / "crm.csv").write_text("8\n9\n13\n")
    scenario = load_scenario(write(tmp_path, EVERYTHING))
    data = json.loads(json.dumps(setup(scenario)))  # plain data: survives a JSON round trip unchanged
    assert data == setup(scenario)
    assert data["path"] == "s.toml"  # the file's name, not where it lay on this machine
    unused = {f.name for f in dataclasses.fields(Variant) if f.metadata}  # left out when not set (replicas)
    for variant in data["variants"]:
        assert set(variant) == {f.name for f in dataclasses.fields(Variant)} - unused
    new = data["variants"][1]
    assert (new["name"], new["workers"], new["handler"]["debounce"]) == ("new", 20, 0.5)
    assert new["lock"]["backoff"] == {"kind": "fixed", "delay": 0.1}
    crm = new["services"]["crm"]
    assert (crm["dist"], crm["file"], crm["observations"], crm["mean"]) == ("empirical", "crm.csv", 3, 10.0)
    assert len(crm["sha256"]) == 64
    assert new["services"]["llm"]["components"][1] == {"weight": 2.0, "dist": "fixed", "value": 30.0}
    assert new["services"]["installation_points"] == {"dist": "uniform", "low": 1, "high": 3}
    assert data["faults"][1] == {"kind": "crm_errors", "start": 600.0, "duration": 300.0, "rate": 0.25}
    assert data["workload"]["surges"] == [{"start": 1800.0, "duration": 600.0, "multiplier": 5.0}]


def test_durations_read_as_people_say_them():
    cases = {0: "0 s", 0.1: "100 ms", 14: "14 s", 90: "90 s", 600: "10 min", 3600: "1 h", 5400: "1 h 30 min"}
    assert {s: seconds(s) for s in cases} == cases
    assert seconds(86400) == "1 d"
