"""One simulation run: a worker pool in front of the real handler, on simulated time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import simpy
from fakeredis import FakeServer

from sim.metrics import invariants
from sim.metrics.records import MessageRecord, RunResult, WorldCounts
from sim.scenario.model import Scenario, Variant
from sim.sut.cache import OutageCache
from sim.sut.handler import Handled, HandlerOptions, Message, MessageHandler
from sim.sut.lock import LockConfig, ThreadLock
from sim.world import fakeredis_clock
from sim.world.driver import SimDriver, sorted_trace
from sim.world.executors import EXECUTORS, Executor
from sim.world.faults import FaultSchedule
from sim.world.services import PlannedCrm, PlannedLlm, Served
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
    log: list | None = [] if trace else None
    faults = FaultSchedule(scenario.faults)
    world = _World(
        env, SimDriver(env, (executor or EXECUTORS[redis_path])(server), variant.redis_rtt, log, server),
        build_handler(variant, streams(scenario.seed, replication)["jitter"].random),
        simpy.Resource(env, capacity=variant.workers), variant, faults, [], Served(),
    )  # fmt: skip
    faults.install(env, server, world.driver.drop_blocked_clients)
    messages = plan(arrivals(scenario, replication), variant.services, scenario.seed, replication)
    env.process(_arrive(world, messages))
    env.run()
    records = resolve_batches(sorted(world.records, key=lambda r: r.message))
    events = next(env._eid)  # SimPy's running count of scheduled events
    counted = _world_counts(world, server)
    broken = invariants.check(
        records, expected=len(messages), workers=variant.workers, lock_ttl=variant.lock.ttl,
        lock_timeout=variant.lock.timeout, fair=variant.lock.fair, rtt=variant.redis_rtt,
        cache_ttl=variant.cache.ttl if variant.cache.enabled else None, restarts=faults.restarts(), world=counted,
    )  # fmt: skip
    return RunResult(
        variant.name, replication, tuple(records), dict(world.driver.commands_per_second), sorted_trace(log or []),
        events, tuple(broken), counted,
    )  # fmt: skip


def _world_counts(world: _World, server: FakeServer) -> WorldCounts:
    return WorldCounts(
        redis_commands=sum(world.driver.commands_per_second.values()),
        crm_calls=world.served.crm,
        llm_calls=world.served.llm,
        succeeded_while_down=world.driver.succeeded_while_down,
        leftover_keys=leftover_keys(server, world.handler.cache.prefix),
    )


def leftover_keys(server: FakeServer, cache_prefix: str) -> tuple[str, ...]:
    """Keys still live once every message is done, cache entries aside: locks, queues, grants, batches."""
    database = server.dbs[0]
    allowed = cache_prefix.encode()
    live = [key for key in list(database) if key in database]  # `in` drops a key whose TTL ran out
    return tuple(sorted(key.decode(errors="replace") for key in live if not key.startswith(allowed)))


def build_handler(variant: Variant, rand: Callable[[], float], namespace: str = "") -> MessageHandler:
    """The system under test configured as the variant says; `rand` feeds jitter and XFetch;
    `namespace` goes before every Redis key it uses (`sim live` gives each run its own)."""
    lock, cache = variant.lock, variant.cache
    config = LockConfig(lock.ttl, lock.timeout, lock.backoff.policy(rand), lock.log_every, lock.fair, lock.watchdog)
    outage_cache = OutageCache(
        cache.ttl if cache.enabled else None,
        single_flight=cache.single_flight,
        xfetch_beta=cache.xfetch_beta,
        rand=rand,
        namespace=namespace,
    )
    options = HandlerOptions(variant.handler.outage_notice_skips_llm, variant.handler.debounce)
    return MessageHandler(ThreadLock(config, namespace), outage_cache, options, namespace)


@dataclass(slots=True)
class _World:
    env: simpy.Environment
    driver: SimDriver
    handler: MessageHandler
    workers: simpy.Resource
    variant: Variant
    faults: FaultSchedule
    records: list[MessageRecord]
    served: Served  # calls the CRM and the LLM received


def _arrive(world: _World, messages: list[PlannedMessage]):  # type: ignore[no-untyped-def]
    env = world.env
    for planned in messages:
        if planned.at > env.now:
            yield env.timeout(planned.at - env.now)
        env.process(_serve(world, planned))


def _serve(world: _World, planned: PlannedMessage):  # type: ignore[no-untyped-def]
    env, services = world.env, world.variant.services
    arrival = env.now
    message = Message(f"thread_{planned.customer}", planned.tax_id, f"message {planned.index + 1}", f"msg-{planned.id}")
    crm = PlannedCrm(planned.crm_latency, planned.points, planned.in_outage, services.crm_timeout, world.faults,
                     planned.fault_draw, world.served)  # fmt: skip
    llm = PlannedLlm(planned.llm_latency, services.llm_timeout, world.faults, world.served)
    with world.workers.request() as turn:
        yield turn
        started = env.now
        step = world.handler.handle(message, crm, llm)
        handled, commands = yield from world.driver.run(step, f"msg#{planned.id} {message.thread_id}:")
    world.records.append(to_record(planned, arrival, started, handled, commands, env.now, calls=(crm.calls, llm.calls)))


def to_record(
    p: PlannedMessage, arrival: float, started: float, h: Handled, commands: int, done_at: float,
    *, calls: tuple[int, int],
) -> MessageRecord:  # fmt: skip
    """The flat record of one handled message (a merged one is completed by `resolve_batches`);
    `calls` are the CRM and LLM calls its services counted, failed ones included."""
    crm_calls, llm_calls = calls
    return MessageRecord(
        message=p.id, customer=p.customer, index=p.index, arrival=arrival,
        queue_wait=started - arrival, lock_wait=h.lock_wait, lock_attempts=h.lock_attempts,
        outcome=h.outcome, source=h.source, crm_s=h.crm_s, llm_s=h.llm_s, reply_at=h.replied_at,
        lock_lost=h.lock_lost, done_at=done_at, redis_commands=commands,
        cache_errors=h.cache_errors, lock_errors=h.lock_errors, llm_called=h.llm_called,
        batch=tuple(int(t.removeprefix("msg-")) for t in h.batch), acquired_at=h.acquired_at,
        started_at=started, lock_asked_at=h.lock_asked_at, lock_refreshed_at=h.lock_refreshed_at,
        released_at=h.released_at, tax_id=p.tax_id, cache_checked_at=h.checked_at,
        crm_calls=crm_calls, llm_calls=llm_calls,
    )  # fmt: skip


def resolve_batches(records: list[MessageRecord]) -> list[MessageRecord]:
    """A debounced message gets the outcome and reply time of the message that answered its batch.

    One whose batch vanished (Redis restarted or failed between its push and the
    leader's take) was never answered: it is `failed`, at the time its worker moved on.
    """
    leader_of = {member: r for r in records for member in r.batch}
    resolved = []
    for r in records:
        if r.outcome == "merged":
            leader = leader_of.get(r.message)
            if leader is None:
                r = dataclasses.replace(r, outcome="failed", reply_at=r.done_at)
            else:
                r = dataclasses.replace(r, outcome=leader.outcome, reply_at=leader.reply_at, merged_into=leader.message)
        resolved.append(r)
    return resolved
