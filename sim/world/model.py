"""One simulation run: a worker pool in front of the real handler, on simulated time."""

from __future__ import annotations

from collections.abc import Callable

import simpy
from fakeredis import FakeServer

from sim.metrics import invariants
from sim.metrics.records import MessageRecord, RunResult
from sim.scenario.model import Scenario, Variant
from sim.sut.cache import OutageCache
from sim.sut.handler import Handled, Message, MessageHandler
from sim.sut.lock import LockConfig, ThreadLock
from sim.world import fakeredis_clock
from sim.world.driver import SimDriver
from sim.world.executors import EXECUTORS, Executor
from sim.world.services import PlannedCrm, PlannedLlm
from sim.world.workload import PlannedMessage, arrivals, plan, streams


def simulate(
    scenario: Scenario,
    variant: Variant,
    replication: int,
    *,
    trace: bool = False,
    redis_path: str = "direct",
    executor: Callable[[FakeServer], Executor] | None = None,
) -> RunResult:
    """One run. `redis_path` is "direct" (fast) or "redis-py" (the client's own path): same results.
    `executor` overrides it (the benchmark records the command stream that way)."""
    env = simpy.Environment()
    server = fakeredis_clock.clocked_server(lambda: env.now)
    log: list[str] | None = [] if trace else None
    driver = SimDriver(env, (executor or EXECUTORS[redis_path])(server), variant.redis_rtt, log)
    handler = _handler(variant, scenario.seed, replication)
    workers = simpy.Resource(env, capacity=variant.workers)
    messages = plan(arrivals(scenario, replication), variant.services, scenario.seed, replication)
    records: list[MessageRecord] = []
    env.process(_arrive(env, messages, workers, driver, handler, records))
    env.run()
    records.sort(key=lambda r: r.message)
    events = next(env._eid)  # SimPy's running count of scheduled events
    broken = invariants.check(records, expected=len(messages), workers=variant.workers, lock_ttl=variant.lock.ttl)
    return RunResult(
        variant.name, replication, tuple(records), dict(driver.commands_per_second), tuple(log or ()), events,
        tuple(broken),
    )  # fmt: skip


def _handler(variant: Variant, seed: int, replication: int) -> MessageHandler:
    jitter = streams(seed, replication)["jitter"]
    policy = variant.lock.backoff.policy(jitter.random)
    lock = ThreadLock(LockConfig(variant.lock.ttl, variant.lock.timeout, policy, variant.lock.log_every))
    cache = OutageCache(variant.cache.ttl if variant.cache.enabled else None)
    return MessageHandler(lock, cache)


def _arrive(env, messages, workers, driver, handler, records):  # type: ignore[no-untyped-def]
    for planned in messages:
        if planned.at > env.now:
            yield env.timeout(planned.at - env.now)
        env.process(_serve(env, planned, workers, driver, handler, records))


def _serve(env, planned: PlannedMessage, workers, driver: SimDriver, handler: MessageHandler, records):  # type: ignore[no-untyped-def]
    arrival = env.now
    message = Message(f"thread_{planned.customer}", planned.tax_id, f"message {planned.index + 1}", f"msg-{planned.id}")
    with workers.request() as turn:
        yield turn
        started = env.now
        step = handler.handle(message, PlannedCrm(planned.crm_latency, planned.points), PlannedLlm(planned.llm_latency))
        handled, commands = yield from driver.run(step, f"msg#{planned.id} {message.thread_id}:")
    records.append(_record(planned, arrival, started, handled, commands, env.now))


def _record(
    p: PlannedMessage, arrival: float, started: float, h: Handled, commands: int, done_at: float
) -> MessageRecord:
    return MessageRecord(
        message=p.id, customer=p.customer, index=p.index, arrival=arrival,
        queue_wait=started - arrival, lock_wait=h.lock_wait, lock_attempts=h.lock_attempts,
        outcome=h.outcome, source=h.source, crm_s=h.crm_s, llm_s=h.llm_s, reply_at=h.replied_at,
        lock_lost=h.lock_lost, done_at=done_at, redis_commands=commands,
        cache_errors=h.cache_errors, lock_errors=h.lock_errors,
    )  # fmt: skip
