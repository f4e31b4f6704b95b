"""The SimPy engine: a worker pool in front of the real handler, on simulated time, against fakeredis."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from fakeredis import FakeServer

from sim.metrics import invariants
from sim.metrics.columns import RecordColumns
from sim.metrics.records import MessageRecord, RunResult, WorldCounts
from sim.run.assemble import build_handler
from sim.run.conversations import session_starts
from sim.run.faults import FaultSchedule
from sim.run.noise import Draws, TimerJitter
from sim.run.serve import Serving, resolve_batches_in_place, serve_message, trace_label
from sim.run.services import Served
from sim.run.store import FencedStore
from sim.run.streams import Streams
from sim.run.workload import Plan, PlannedMessage, planned_messages
from sim.scenario.model import Scenario, Variant, WorkerModel
from sim.sut.handler import MessageHandler
from sim.sut.units import milliseconds
from sim.world import fakeredis_clock, internals
from sim.world import faults as world_faults
from sim.world.code_engine import SIMULATED_EPOCH, CodeEngine
from sim.world.conversations import Conversing
from sim.world.driver import SimDriver, Tally, TraceLine, sorted_trace
from sim.world.executors import EXECUTORS, Executor
from sim.world.replication import Replicated, Replication


def simulate(
    scenario: Scenario,
    variant: Variant,
    replication: int,
    *,
    trace: bool = False,
    redis_path: str = "direct",
    executor: Callable[[FakeServer], Executor] | None = None,
    command_log: list[tuple[float, tuple[bytes, ...]]] | None = None,
) -> RunResult:
    """One run. `redis_path` is "direct" (fast) or "redis-py" (the client's own path): same results.
    `executor` overrides it (the benchmark records the built-in bot's command stream that way);
    `command_log` is where a team's handler's commands are recorded (their time, their fields)."""
    env = simpy.Environment()
    server = fakeredis_clock.clocked_server(lambda: env.now)
    log: list[TraceLine] | None = [] if trace else None
    rng = Streams.of(scenario.seed, replication)
    faults = FaultSchedule(scenario.faults)
    served = Served()
    talk = scenario.workload.conversations
    conversing = Conversing(env, talk, variant.services, seed=scenario.seed, replication=replication) if talk else None
    noise = Noise.of(variant, rng)
    plan = planned_messages(scenario, variant.services, rng)
    replicas = _replicas(variant, server, rng, env)
    redis_ = (executor or EXECUTORS[redis_path])(server)
    if replicas is not None:
        redis_ = Replicated(redis_, replicas)  # every write the primary executes reaches the replicas
    driver = SimDriver(env, redis_, noise.rtt, log, server, timers=noise.timers, replication=replicas)
    code = _code_engine(scenario, variant, env, server, rng, noise, faults, served, conversing, log, redis_path)
    if code is not None:
        code.command_log = command_log
    serving = None if code else _serving(scenario, variant, rng, noise, faults, served, conversing)
    world = _World(
        env=env,
        driver=driver,
        serving=serving,
        code=code,
        workers=simpy.Resource(env, capacity=variant.workers) if variant.worker_model is WorkerModel.POOL else None,
        served=served,
        conversations=conversing,
        records=RecordColumns(expected=plan.count),  # conversations' messages, unplanned, may add more
    )
    world_faults.install(
        faults,
        env,
        server,
        code.wire.break_connections if code else world.driver.drop_blocked_clients,
        replication=replicas,
        promoted=_epoch_publisher(redis_, serving.handler) if serving and variant.lock.fencing else lambda epoch: None,
    )
    env.process(_arrive(world, plan))
    if conversing is not None:
        _converse(world, conversing, plan, session_starts(scenario.workload, scenario.duration, rng.conversations))
    _run(env, code)
    records = world.records
    records.sort_by_message()
    resolve_batches_in_place(records)
    events = internals.events_scheduled(env)
    counted = _world_counts(world, server, failed_over=bool(faults.failovers()))
    rtt, rtt_spread = world.driver.round_trips()
    conversations = conversing.records() if conversing else ()
    broken = invariants.check(
        records,
        expected=world.arrived,
        workers=variant.workers if world.workers is not None else None,
        lock_ttl=redis_ttl(variant.lock.ttl),
        lock_timeout=variant.lock.timeout,
        fair=variant.lock.fair,
        rtt=rtt,
        rtt_spread=rtt_spread,
        hit_cost=noise.hit_cost.high if noise.hit_cost is not None else 0.0,
        cache_ttl=redis_ttl(variant.cache.ttl) if variant.cache.enabled else None,
        restarts=faults.restarts(),
        failovers=faults.failovers(),
        fencing=variant.lock.fencing,
        world=counted,
        dropped=conversing.dropped if conversing else 0,
        conversations=conversations,
        builtin=code is None,
    )
    return RunResult(
        variant=variant.name,
        replication=replication,
        records=records,
        commands_per_second=code.commands_per_second if code else world.driver.commands_per_second,
        trace=sorted_trace(log or []),
        events=events,
        violations=tuple(broken),
        world=counted,
        conversations=conversations,
    )


def _serving(
    scenario: Scenario,
    variant: Variant,
    rng: Streams,
    noise: Noise,
    faults: FaultSchedule,
    served: Served,
    conversing: Conversing | None,
) -> Serving:
    """What the built-in bot serves every message with."""
    return Serving(
        handler=build_handler(variant, rng.jitter.random, hit_cost=noise.hit_cost),
        services=variant.services,
        faults=faults,
        served=served,
        replied=conversing.replied if conversing else None,
        store=FencedStore(fencing=variant.lock.fencing) if scenario.measures_lock_safety() else None,
    )


def _code_engine(
    scenario: Scenario,
    variant: Variant,
    env: simpy.Environment,
    server: FakeServer,
    rng: Streams,
    noise: Noise,
    faults: FaultSchedule,
    served: Served,
    conversing: Conversing | None,
    log: list[TraceLine] | None,
    redis_path: str,
) -> CodeEngine | None:
    """A team's handler (`[code]`), its handler imported for this run; None for the built-in bot."""
    if variant.code is None:
        return None
    trace = scenario.workload.trace
    engine = CodeEngine(
        env,
        server,
        variant,
        seed=int(rng.code.integers(2**63)),
        round_trip=noise.rtt if isinstance(noise.rtt, Draws) else _constant(noise.rtt),
        jitter=noise.timers,
        faults=faults,
        served=served,
        epoch=trace.start if trace is not None else SIMULATED_EPOCH,
        heard=conversing.heard if conversing else None,
        trace=log,
        shortcut=redis_path == "direct",
    )
    return engine


def _constant(seconds: float) -> Callable[[], float]:
    return lambda: seconds


def _run(env: simpy.Environment, code: CodeEngine | None) -> None:
    """Run the world to its end; a team's handler's engine checks its own end, and gives back what it took."""
    if code is None:
        env.run()
        return
    code.start()
    try:
        env.run()
        code.finish()
    finally:
        code.stop()


def redis_ttl(seconds: float) -> float:
    """The TTL Redis really keeps for `seconds` (the lock and the cache send whole milliseconds). A scenario
    file is held to whole milliseconds; a config built in code may not be, and the invariants must judge
    the TTL that was set, not the one asked for."""
    return milliseconds(seconds) / 1000


def _replicas(variant: Variant, server: FakeServer, rng: Streams, env: simpy.Environment) -> Replication | None:
    """The variant's replicas of `server`, each write's lag drawn from the replication stream; None without."""
    if variant.replicas is None:
        return None
    lags = Draws(variant.replicas.lag, rng.replication)
    return Replication(server, variant.replicas.count, lags, lambda: env.now)


def _epoch_publisher(redis_: Executor, handler: MessageHandler) -> Callable[[int], None]:
    """What a failover's orchestration does for a fencing lock (Sentinel's configuration epoch, published on the
    new primary before clients reach it): every grant after the promotion gets a larger fence than any before."""
    key = handler.lock.epoch_key()

    def publish(epoch: int) -> None:
        redis_.command(("SET", key, epoch))

    return publish


def _world_counts(world: _World, server: FakeServer, failed_over: bool) -> WorldCounts:
    code = world.code
    if code is not None:  # a team's handler: its keys are its own business, not a check of the simulator's
        return WorldCounts(
            redis_commands=code.commands_per_second.total(),
            crm_calls=world.served.crm,
            llm_calls=world.served.llm,
            late_commands=code.late_commands,
            orphan_commands=code.orphan_commands,
        )
    assert world.serving is not None
    store = world.serving.store
    lock = world.serving.handler.lock
    return WorldCounts(
        redis_commands=world.driver.commands_per_second.total(),
        crm_calls=world.served.crm,
        llm_calls=world.served.llm,
        succeeded_while_down=world.driver.succeeded_while_down,
        leftover_keys=leftover_keys(
            server,
            world.serving.handler.cache.prefix,
            meant_to_stay=(lock.fence_key(), lock.epoch_key()),
            expiring_allowed=failed_over,
        ),
        store_writes=store.writes if isinstance(store, FencedStore) else 0,
        store_refused=store.refused if isinstance(store, FencedStore) else 0,
    )


def leftover_keys(
    server: FakeServer, cache_prefix: str, meant_to_stay: tuple[str, ...] = (), *, expiring_allowed: bool = False
) -> tuple[str, ...]:
    """Keys still live once every message is done, cache entries aside: locks, queues, grants, batches.

    `meant_to_stay`: keys that never expire by design (the fencing counter and epoch). `expiring_allowed`:
    after a failover, a key whose deletion the promoted replica never received is back, with its TTL; only a
    key without one is left behind for good."""
    allowed = cache_prefix.encode()
    stay = {key.encode() for key in meant_to_stay}
    live = internals.persistent_keys(server) if expiring_allowed else internals.live_keys(server)
    return tuple(
        sorted(key.decode(errors="replace") for key in live if not key.startswith(allowed) and key not in stay)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Noise:
    """A variant's timing noise for one run, each source on its own stream; None where it is off."""

    rtt: float | Draws  # one constant round trip, or each one drawn
    timers: TimerJitter | None
    hit_cost: Draws | None

    @classmethod
    def of(cls, variant: Variant, rng: Streams) -> Noise:
        rtt, jitter, hit = variant.redis_rtt, variant.timers.jitter, variant.cache.hit_cost
        return cls(
            rtt=rtt if isinstance(rtt, float) else Draws(rtt, rng.rtt),
            timers=TimerJitter(jitter, rng.timers) if jitter > 0 else None,
            hit_cost=Draws(hit, rng.hits) if hit is not None and variant.cache.enabled else None,
        )


@dataclass(slots=True, kw_only=True)
class _World:
    env: simpy.Environment
    driver: SimDriver
    serving: Serving | None  # the built-in bot's; None when a team's handler serves (`code`)
    code: CodeEngine | None  # a team's handler (`[code]`); None: the built-in bot
    workers: simpy.Resource | None  # None: the async model, where a waiting message holds no worker
    served: Served  # calls the CRM and the LLM received
    records: RecordColumns = field(default_factory=RecordColumns)  # compact: a run may hold millions
    arrived: int = 0  # messages the arrival process has let in: the plan is made one message at a time
    conversations: Conversing | None = None  # customers who wait for answers; None: the workload has none


def _arrive(world: _World, messages: Iterable[PlannedMessage]) -> Generator[simpy.Event, object, None]:
    env = world.env
    for planned in messages:
        if planned.at > env.now:
            yield env.timeout(planned.at - env.now)
        world.arrived += 1
        env.process(_serve(world, planned))
    if world.code is not None:
        world.code.arrived_all()


def _converse(world: _World, conversing: Conversing, plan: Plan, starts: np.ndarray) -> None:
    """Open the conversations beside the open-loop arrivals: their messages and bursts are numbered after
    the plan's, and each is let in as its customer sends it."""

    def let_in(planned: PlannedMessage) -> None:
        world.arrived += 1
        world.env.process(_serve(world, planned))

    conversing.start(starts, first_id=plan.count, first_burst=len(plan.arrivals.bursts), send=let_in)


def _serve(world: _World, planned: PlannedMessage) -> Generator[simpy.Event, Any, None]:
    """A message waits for a worker (the pool model; the async model starts it at once),
    then is served by the step both engines share."""
    arrival = world.env.now
    if world.workers is None:
        record = yield from _handle(world, planned, arrival)
    else:
        with world.workers.request() as turn:
            yield turn
            record = yield from _handle(world, planned, arrival)
    if record is not None:
        world.records.append(record)


def _handle(
    world: _World, planned: PlannedMessage, arrival: float
) -> Generator[simpy.Event, Any, MessageRecord | None]:
    if world.conversations is not None and world.conversations.drops(planned):
        return None  # its customer has left: the bot drops it at no cost, and it has no record
    if world.code is not None:
        return (yield from world.code.serve(planned, arrival))
    assert world.serving is not None
    tally = Tally()
    step = serve_message(world.serving, planned, arrival, tally)
    record, _ = yield from world.driver.run(step, trace_label(planned), tally)
    return record
