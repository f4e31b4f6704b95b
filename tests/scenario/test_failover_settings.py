"""[redis]replicas, [lock]fencing and wait_replicas, [[faults]] failover: read, refused with one line naming
the key, described, shaded, recorded in results.json only when set, and refused by sim live."""

import pytest

from sim.core import distributions as d
from sim.live import check_live
from sim.metrics.context import Shaded, ShadeKind
from sim.scenario import ScenarioError
from sim.scenario.describe import context, setup
from sim.scenario.model import Failover
from tests.world.scenario_kit import MAGNA, scenario

REPLICATED = """
[redis]
replicas = 2
replication_lag = { dist = "exponential", mean = "20ms" }
[lock]
fencing = true
wait_replicas = 1
wait_timeout = "250ms"
[[faults]]
kind = "failover"
start = "5s"
detection = "3s"
"""


def test_replicas_fencing_wait_and_a_failover_are_read():
    s = scenario(MAGNA, REPLICATED)
    v = s.variants[0]
    assert (v.replicas.count, v.replicas.lag) == (2, d.Exponential(0.02))
    assert (v.lock.fencing, v.lock.wait_replicas, v.lock.wait_timeout) == (True, 1, 0.25)
    assert s.faults == (Failover(5.0, 3.0),)
    assert s.measures_lock_safety()


def test_replicas_default_to_none_and_their_lag_to_ten_milliseconds():
    assert scenario(MAGNA).variants[0].replicas is None
    assert scenario(MAGNA, "[redis]\nreplicas = 1\n").variants[0].replicas.lag == d.Exponential(0.01)
    assert scenario(MAGNA, "[redis]\nreplicas = 0\n").variants[0].replicas is None


@pytest.mark.parametrize(
    "extra, message",
    [
        ('[[faults]]\nkind = "failover"\nstart = "5s"\ndetection = "3s"',
         "[faults#1]kind: failover number 1 needs 1 replica(s) to promote, but variant 'default' has "
         "[redis]replicas = 0"),
        ('[redis]\nreplicas = 1\n[[faults]]\nkind = "failover"\nstart = "5s"\ndetection = "0s"',
         "[faults#1]detection: must be greater than zero"),
        ('[redis]\nreplicas = 1\n[[faults]]\nkind = "failover"\nstart = "5s"\ndetection = "3s"\n'
         '[[faults]]\nkind = "failover"\nstart = "20s"\ndetection = "3s"',
         "[faults#2]kind: failover number 2 needs 2 replica(s) to promote"),
        ('[redis]\nreplicas = 2\n[[faults]]\nkind = "failover"\nstart = "5s"\ndetection = "3s"\n'
         '[[faults]]\nkind = "redis_down"\nstart = "7s"\nduration = "10s"',
         "[faults#2]start: this redis_down overlaps the failover from 5 s to 8 s"),
        ('[redis]\nreplicas = 2\n[[faults]]\nkind = "failover"\nstart = "5s"\ndetection = "3s"\n'
         '[[faults]]\nkind = "redis_restart"\nstart = "5s"',
         "[faults#2]start: this redis_restart overlaps the failover"),
        ("[redis]\nreplicas = 9", "[redis]replicas: must be <= 8, got 9"),
        ("[redis]\nreplicas = -1", "[redis]replicas: must be >= 0, got -1"),
        ("[lock]\nwait_replicas = 1", "[lock]wait_replicas: must be at most [redis]replicas (0)"),
        ('[redis]\nreplicas = 1\n[lock]\nwait_replicas = 1\nwait_timeout = "0s"',
         "[lock]wait_timeout: must be greater than zero"),
        ("[lock]\nfair = true\nfencing = true", "[lock]fencing: works with the polling lock only: set fair = false"),
        ("[redis]\nreplicas = 1\n[lock]\nfair = true\nwait_replicas = 1",
         "[lock]wait_replicas: works with the polling lock only"),
        ("[variants.x]\nlock = { wait_replicas = 2 }\nredis = { replicas = 1 }",
         "[variants.x.lock]wait_replicas: must be at most [redis]replicas (1)"),
        ('[redis]\nreplication_lag = { dist = "uniform", low = "2s", high = "1s" }',
         "[redis.replication_lag]high: must be at least low"),
        ('[redis]\nreplicas = 1\nreplication_lag = "2m"', "[redis]replication_lag: its mean must be at most 60 s"),
        # Any fault's section is named as the file writes it (it read `[.faults#1]` before).
        ('[[faults]]\nkind = "redis_down"\nstart = "5s"\nduration = "0s"', "[faults#1]duration: must be greater"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_in_one_line_naming_the_key(extra, message):
    with pytest.raises(ScenarioError) as error:
        scenario(MAGNA, extra)
    text = str(error.value)
    assert "\n" not in text and text.startswith("inline.toml: ") and message in text


def test_a_failover_window_is_shaded_and_said_in_words():
    s = scenario(MAGNA, REPLICATED)
    c = context(s)
    assert Shaded(kind=ShadeKind.FAULT, label="failover", start=5.0, end=8.0) in c.shaded
    assert c.lock_safety
    words = "\n".join(c.workload)
    assert "the Redis primary dies at 5 s; after 3 s the most up-to-date replica is promoted" in words
    assert "2 replicas, each applying the primary's writes in order after exponential, mean 20 ms" in words
    assert s.variants[0].describe().endswith("; 2 Redis replicas; fencing tokens; WAIT 1 replica (250 ms)")


def test_a_variant_that_adds_replicas_says_so_in_words():
    s = scenario(MAGNA, "[variants.a]\n[variants.b]\nredis = { replicas = 2 }\n")
    assert context(s).workload[-1] == "**b:** as a, except replicas none → 2 (lag exponential, mean 10 ms)."


def test_results_json_records_the_new_settings_only_where_they_are_set():
    plain = setup(scenario(MAGNA))["variants"][0]
    assert "replicas" not in plain and not {"fencing", "wait_replicas", "wait_timeout"} & set(plain["lock"])
    data = setup(scenario(MAGNA, REPLICATED))
    variant = data["variants"][0]
    assert variant["replicas"] == {"count": 2, "lag": {"dist": "exponential", "mean": 0.02}}
    lock = variant["lock"]
    assert (lock["fencing"], lock["wait_replicas"], lock["wait_timeout"]) == (True, 1, 0.25)
    assert data["faults"] == [{"kind": "failover", "start": 5.0, "detection": 3.0}]


def test_fencing_beside_a_restart_warns_that_the_counter_starts_over():
    s = scenario(MAGNA, '[lock]\nfencing = true\n[[faults]]\nkind = "redis_restart"\nstart = "5s"\n')
    assert any("fencing with a redis_restart fault" in w for w in s.warnings)


@pytest.mark.parametrize(
    "extra, key",
    [("[redis]\nreplicas = 1", "[redis]replicas"), ("[lock]\nfencing = true", "[lock]fencing"),
     ("[redis]\nreplicas = 1\n[lock]\nwait_replicas = 1", "[redis]replicas, [lock]wait_replicas")],
)  # fmt: skip
def test_sim_live_refuses_lock_safety_settings_in_one_line(extra, key):
    with pytest.raises(ScenarioError) as error:
        check_live(scenario(MAGNA, extra))
    assert str(error.value) == (
        f"inline: variant 'default': {key}: simulated only (sim live drives no replica and no conversation "
        "store); run it with sim run"
    )
