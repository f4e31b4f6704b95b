"""The SimPy engine: a worker pool in front of the real handler, on simulated time, against fakeredis."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import simpy
from fakeredis import FakeServer

from sim.metrics import invariants
from sim.metrics.columns import RecordColumns
from sim.metrics.records import RunResult, WorldCounts
from sim.run.assemble import build_handler
from sim.run.faults import FaultSchedule
from sim.run.serve import Serving, resolve_batches_in_place, serve_message, trace_label
from sim.run.services import Served
from sim.run.streams import Streams
from sim.run.workload import PlannedMessage, planned_messages
from sim.scenario.model import Scenario, Variant
from sim.sut.units import milliseconds
from sim.world import fakeredis_clock, internals
from sim.world import faults as world_faults
from sim.world.driver import SimDriver, Tally, TraceLine, sorted_trace
from sim.world.executors import EXECUTORS, Executor


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
    log: list[TraceLine] | None = [] if trace else None
    rng = Streams.of(scenario.seed, replication)
    faults = FaultSchedule(scenario.faults)
    served = Served()
    world = _World(
        env=env,
        driver=SimDriver(env, (executor or EXECUTORS[redis_path])(server), variant.redis_rtt, log, server),
        serving=Serving(
            handler=build_handler(variant, rng.jitter.random), services=variant.services, faults=faults, served=served
        ),
        workers=simpy.Resource(env, capacity=variant.workers),
        served=served,
    )
    world_faults.install(faults, env, server, world.driver.drop_blocked_clients)
    env.process(_arrive(world, planned_messages(scenario, variant.services, rng)))
    env.run()
    records = world.records
    records.sort_by_message()
    resolve_batches_in_place(records)
    events = internals.events_scheduled(env)
    counted = _world_counts(world, server)
    broken = invariants.check(
        records,
        expected=world.arrived,
        workers=variant.workers,
        lock_ttl=redis_ttl(variant.lock.ttl),
        lock_timeout=variant.lock.timeout,
        fair=variant.lock.fair,
        rtt=variant.redis_rtt,
        cache_ttl=redis_ttl(variant.cache.ttl) if variant.cache.enabled else None,
        restarts=faults.restarts(),
        world=counted,
    )
    return RunResult(
        variant=variant.name,
        replication=replication,
        records=records,
        commands_per_second=world.driver.commands_per_second,
        trace=sorted_trace(log or []),
        events=events,
        violations=tuple(broken),
        world=counted,
    )


def redis_ttl(seconds: float) -> float:
    """The TTL Redis really keeps for `seconds` (the lock and the cache send whole milliseconds). A scenario
    file is held to whole milliseconds; a config built in code may not be, and the invariants must judge
    the TTL that was set, not the one asked for."""
    return milliseconds(seconds) / 1000


def _world_counts(world: _World, server: FakeServer) -> WorldCounts:
    return WorldCounts(
        redis_commands=world.driver.commands_per_second.total(),
        crm_calls=world.served.crm,
        llm_calls=world.served.llm,
        succeeded_while_down=world.driver.succeeded_while_down,
        leftover_keys=leftover_keys(server, world.serving.handler.cache.prefix),
    )


def leftover_keys(server: FakeServer, cache_prefix: str) -> tuple[str, ...]:
    """Keys still live once every message is done, cache entries aside: locks, queues, grants, batches."""
    allowed = cache_prefix.encode()
    live = internals.live_keys(server)
    return tuple(sorted(key.decode(errors="replace") for key in live if not key.startswith(allowed)))


@dataclass(slots=True, kw_only=True)
class _World:
    env: simpy.Environment
    driver: SimDriver
    serving: Serving
    workers: simpy.Resource
    served: Served  # calls the CRM and the LLM received
    records: RecordColumns = field(default_factory=RecordColumns)  # compact: a run may hold millions
    arrived: int = 0  # messages the arrival process has let in: the plan is made one message at a time


def _arrive(world: _World, messages: Iterable[PlannedMessage]) -> Generator[simpy.Event, object, None]:
    env = world.env
    for planned in messages:
        if planned.at > env.now:
            yield env.timeout(planned.at - env.now)
        world.arrived += 1
        env.process(_serve(world, planned))


def _serve(world: _World, planned: PlannedMessage) -> Generator[simpy.Event, Any, None]:
    """A message waits for a worker, then is served by the step both engines share."""
    arrival = world.env.now
    with world.workers.request() as turn:
        yield turn
        tally = Tally()
        step = serve_message(world.serving, planned, arrival, tally)
        record, _ = yield from world.driver.run(step, trace_label(planned), tally)
    world.records.append(record)
