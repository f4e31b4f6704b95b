"""A failover on simulated time, checked against a hand computation, and what fencing and WAIT change.

The scripted case (`HAND`): customer "a" writes at 9.8 s and 12.5 s; every command's round trip is
0 s; the CRM takes 9 s, the LLM 17 s, and an LLM call starting in [18 s, 20 s) stalls 20 s more;
the lock retries every 1 s for up to 60 s. Two replicas apply each write 0.4 s after the primary.
The primary dies at 10 s; the first replica is promoted at 15.3 s.

Plain lock, by hand:
- 9.8 s: message 0 takes the lock (its SET reaches the replicas at 10.2 s: after the death, so the
  promoted replica never has it). CRM 9.8 → 18.8 s; its LLM call starts in the stall: 18.8 → 55.8 s.
- 12.5, 13.5, 14.5 s: message 1's attempts fail (Redis is down); 15.5 s: the new primary has no lock,
  message 1 takes it. CRM → 24.5 s, LLM → 41.5 s: it writes its answer to the store and releases.
- 55.8 s: message 0 writes its answer — older than message 1's, which is already there: a stale write
  — and its release finds no lock (`lock_lost`).
So both holds ([9.8, 55.8] and [15.5, 41.5]) overlap: 2 overlapping holders, 1 stale write.
Commands: message 0 a SET and a release; message 1 four SETs (three refused by the dead primary) and a
release.

Fenced: message 0's fence is (epoch 0, counter 1); the counter's increment is lost with its SET, and
message 1's is (epoch 1, counter 1): the failover published epoch 1 on the new primary. At 55.8 s the
store refuses message 0's fence 1 (older than 2⁴⁰ + 1): 1 fenced write, no stale write.

WAIT 1 (timeout 1 s): message 0's WAIT would end at 10.2 s but the primary dies at 10.0 s: the
connection breaks, the lock is let go (the release fails too: Redis is down), and it retries at 11 … 15 s
(errors), then 16 … 41 s (refused: message 1 took the lock at 15.5 s; its WAIT ends at 15.9 s when the
remaining replica has it). Message 1 answers at 41.9 s and releases; message 0 takes the lock at 42 s,
holds it from 42.4 s (its WAIT), and answers at 68.4 s. No overlap, no stale write; message 0 waited
32.6 s and sent 33 SETs, 2 WAITs and 2 releases.
"""

from __future__ import annotations

import dataclasses

import pytest
import redis
import simpy

from sim.metrics.lock_safety import lock_safety_metrics
from sim.run.faults import FaultSchedule
from sim.scenario.model import Failover, RedisDown
from sim.sut.effects import BlockingPop, WaitReplicas
from sim.sut.lock import FENCE_EPOCH
from sim.world import fakeredis_clock, model
from sim.world.driver import SimDriver
from sim.world.executors import DirectExecutor
from sim.world.faults import install
from sim.world.model import simulate
from sim.world.replication import Replicated, Replication
from tests.world.scenario_kit import scenario

HAND = """
[scenario]
seed = 1
[workload]
[[workload.script]]
customer = "a"
messages = ["9.8s", "12.5s"]
[services]
crm = "9s"
llm = "17s"
[workers]
count = 4
[redis]
rtt = "0s"
replicas = 2
replication_lag = "400ms"
[lock]
timeout = "60s"
backoff = { kind = "fixed", delay = "1s" }
[[faults]]
kind = "failover"
start = "10s"
detection = "5.3s"
[[faults]]
kind = "stall"
start = "18s"
duration = "2s"
extra = "20s"
[variants.plain]
[variants.fenced]
lock = { fencing = true }
[variants.wait]
lock = { wait_replicas = 1, wait_timeout = "1s" }
"""


def hand_run(variant: str, **options):
    s = scenario(HAND)
    return simulate(s, s.variant(variant), 0, trace=True, **options)


def rows(run):
    return [
        (r.message, r.outcome, r.acquired_at, r.released_at, r.reply_at, r.stored, r.lock_lost, r.redis_commands)
        for r in run.records
    ]


def test_the_plain_lock_loses_its_lock_at_the_failover_and_the_older_answer_lands_last():
    run = hand_run("plain")
    assert run.violations == ()
    assert rows(run) == [
        (0, "answered", 9.8, 55.8, 55.8, "accepted", True, 2),
        (1, "answered", 15.5, 41.5, 41.5, "accepted", False, 5),
    ]
    assert [r.lock_errors for r in run.records] == [0, 3]
    assert lock_safety_metrics(run.records) == {"overlapping_holders": 2, "stale_writes": 1, "fenced_writes": 0}
    assert (run.world.store_writes, run.world.store_refused, run.world.redis_commands) == (2, 0, 7)


def test_fencing_refuses_the_older_holders_answer_thanks_to_the_epoch():
    run = hand_run("fenced")
    assert run.violations == ()
    assert rows(run) == [
        (0, "answered", 9.8, 55.8, 55.8, "refused", True, 2),
        (1, "answered", 15.5, 41.5, 41.5, "accepted", False, 5),
    ]
    assert lock_safety_metrics(run.records) == {"overlapping_holders": 2, "stale_writes": 0, "fenced_writes": 1}
    assert (run.world.store_writes, run.world.store_refused) == (2, 1)
    assert "00:00:55.800 msg#0 thread_a: Conversation store refused the answer to thread_a: fence 1 is too old" in (
        run.trace
    )
    assert FENCE_EPOCH + 1 > 1  # message 1's fence: epoch 1, counter 1 (its counter went back with the failover)


def test_fencing_without_the_epoch_lets_the_stale_write_through_and_the_invariant_says_so(monkeypatch):
    # Break it on purpose: the failover no longer publishes its epoch, so the counter, which lost message 0's
    # increment, hands message 1 the same fence (0, 1); the store takes message 0's equal fence last.
    monkeypatch.setattr(model, "_epoch_publisher", lambda redis_, handler: lambda epoch: None)
    run = hand_run("fenced")
    assert lock_safety_metrics(run.records)["stale_writes"] == 1
    assert run.violations == ("1 stale writes reached the conversation store although the lock fences them",)


def test_wait_keeps_a_lock_the_failover_would_lose_at_the_cost_of_time_and_commands():
    run = hand_run("wait")
    assert run.violations == ()
    assert rows(run) == [
        (0, "answered", pytest.approx(42.4), pytest.approx(68.4), pytest.approx(68.4), "accepted", False, 37),
        (1, "answered", pytest.approx(15.9), pytest.approx(41.9), pytest.approx(41.9), "accepted", False, 6),
    ]
    first = run.records[0]
    assert (first.lock_attempts, first.lock_errors, first.lock_wait) == (33, 6, pytest.approx(32.6))
    assert lock_safety_metrics(run.records) == {"overlapping_holders": 0, "stale_writes": 0, "fenced_writes": 0}
    assert "00:00:10.000 msg#0 thread_a: Lock for thread_a reached 0 of 1 replicas: letting it go" in run.trace


def test_the_hand_case_is_the_same_on_redis_pys_own_path():
    for variant in ("plain", "fenced", "wait"):
        assert hand_run(variant).records == hand_run(variant, redis_path="redis-py").records


def test_a_store_that_counts_other_than_the_records_breaks_conservation(monkeypatch):
    original = model._world_counts

    def miscounted(world, server, failed_over):
        return dataclasses.replace(original(world, server, failed_over), store_refused=0)

    monkeypatch.setattr(model, "_world_counts", miscounted)
    run = hand_run("fenced")
    assert run.violations == (
        "the records show 2 writes to the conversation store (1 refused) but the store counted 2 (0 refused)",
    )


# -- the driver's side: WAIT and broken connections ------------------------------------------------


def replicated_world(replicas: int = 1, lag: float = 0.5):
    env = simpy.Environment()
    server = fakeredis_clock.clocked_server(lambda: env.now)
    replication = Replication(server, replicas, lambda: lag, lambda: env.now) if replicas else None
    executor = DirectExecutor(server) if replication is None else Replicated(DirectExecutor(server), replication)
    driver = SimDriver(env, executor, rtt=0.0, server=server, replication=replication)
    return env, server, replication, driver


def test_wait_blocks_until_a_replica_has_the_write_and_replies_how_many_do():
    env, _, _, driver = replicated_world(replicas=2, lag=0.5)
    seen = []

    def step():
        from sim.sut.effects import Command

        yield Command(("SET", "k", "v"))
        seen.append((yield WaitReplicas(1, 2.0)))
        seen.append(env.now)
        seen.append((yield WaitReplicas(2, 0.1)))  # both have it already: at once
        seen.append(env.now)

    env.process(driver.run(step()))
    env.run()
    assert seen == [2, 0.5, 2, 0.5]  # both replicas applied it at 0.5 s
    assert sum(driver.commands_per_second.values()) == 3


def test_wait_without_replicas_times_out_with_none_and_wait_for_none_replies_at_once():
    env, _, _, driver = replicated_world(replicas=0)
    seen = []

    def step():
        seen.append(((yield WaitReplicas(1, 0.25)), env.now))
        seen.append(((yield WaitReplicas(0, 5.0)), env.now))

    env.process(driver.run(step()))
    env.run()
    assert seen == [(0, 0.25), (0, 0.25)]


@pytest.mark.parametrize(
    "fault", [Failover(start=0.2, detection=1.0), RedisDown(start=0.2, duration=1.0)], ids=lambda f: f.kind
)
def test_a_failover_cuts_blocked_clients_and_refuses_commands_until_the_promotion(fault):
    env, server, replication, driver = replicated_world(replicas=1, lag=0.5)
    install(FaultSchedule([fault]), env, server, driver.drop_blocked_clients, replication=replication)
    seen = []

    def waiter(effect):
        from sim.sut.effects import Command

        yield Command(("SET", "k", "v"))
        try:
            yield effect
        except redis.ConnectionError:
            seen.append((type(effect).__name__, env.now))
        try:
            yield WaitReplicas(1, 0.1)
        except redis.ConnectionError:
            seen.append(("refused", env.now))

    env.process(driver.run(waiter(WaitReplicas(1, 5.0))))
    env.process(driver.run(waiter(BlockingPop("q", 5.0))))
    env.run()
    assert sorted(seen) == [("BlockingPop", 0.2), ("WaitReplicas", 0.2), ("refused", 0.2), ("refused", 0.2)]
    assert driver.succeeded_while_down == 0


def test_the_failover_publishes_its_epoch_only_for_a_fencing_lock(monkeypatch):
    servers = []
    original = model.fakeredis_clock.clocked_server

    def kept(clock):
        servers.append(original(clock))
        return servers[-1]

    monkeypatch.setattr(model.fakeredis_clock, "clocked_server", kept)
    for variant, keys in (("plain", set()), ("fenced", {b"lock:epoch", b"lock:fence"})):
        s = scenario(HAND)
        simulate(s, s.variant(variant), 0)
        client = fakeredis_clock.client(servers[-1])
        assert set(client.keys("lock:*")) == keys  # the fence and epoch stay; every lock is gone
        if keys:
            assert client.get("lock:epoch") == b"1"


# -- every kind of lock keeps the simulator's invariants through a failover -------------------------

FAILING_OVER = """
[scenario]
seed = 5
duration = "10m"
[workload]
customers_per_hour = 900
population = 300
burst_size = { dist = "choice", values = [1, 2, 3], weights = [0.4, 0.3, 0.3] }
burst_gap = { dist = "exponential", mean = "3s" }
[services]
crm = { dist = "uniform", low = "2s", high = "6s" }
llm = { dist = "uniform", low = "5s", high = "12s" }
[workers]
count = 30
[redis]
replicas = 2
replication_lag = { dist = "lognormal", median = "300ms", p95 = "3s" }
[lock]
ttl = "30s"
timeout = "40s"
backoff = { kind = "exponential", base = "100ms", factor = 2, cap = "2s" }
[cache]
enabled = true
[[faults]]
kind = "failover"
start = "3m"
detection = "8s"
[[faults]]
kind = "stall"
start = "5m"
duration = "30s"
extra = "40s"
[[faults]]
kind = "failover"
start = "7m"
detection = "3s"
[variants.plain]
[variants.fenced]
lock = { fencing = true }
[variants.wait]
redis = { replicas = 3 }
lock = { wait_replicas = 1, wait_timeout = "500ms" }
[variants.fair]
lock = { fair = true }
[variants.watchdog]
lock = { watchdog = true, fencing = true }
[variants.debounce]
handler = { debounce = "2s" }
cache = { single_flight = true }
"""


@pytest.mark.parametrize("variant", ["plain", "fenced", "wait", "fair", "watchdog", "debounce"])
def test_every_lock_keeps_the_invariants_through_two_failovers_and_a_stall(variant):
    s = scenario(FAILING_OVER)
    run = simulate(s, s.variant(variant), 0)
    assert run.violations == ()
    assert run.world.store_writes == sum(r.stored is not None for r in run.records) > 0
    if s.variant(variant).lock.fencing:
        assert lock_safety_metrics(run.records)["stale_writes"] == 0


def test_the_same_seed_gives_the_same_failover_run():
    s = scenario(FAILING_OVER)
    first, again = (simulate(s, s.variant("wait"), 3) for _ in range(2))
    assert first.records == again.records
    assert first.commands_per_second == again.commands_per_second
