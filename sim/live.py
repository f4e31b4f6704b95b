"""`sim live`: the same handler, lock and cache in real time against a real Redis server.

Every duration of the scenario — arrivals, CRM and LLM latencies, lock TTL,
lock timeout, backoff waits, cache TTL — is multiplied by `time_scale`, so a
minute of the story can play in seconds. Results are divided back into
scenario seconds, and summarised exactly like `sim run`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis

from sim.metrics.records import MessageRecord, RunResult
from sim.scenario.model import Backoff, Scenario, Variant
from sim.sut.blocking import BlockingDriver
from sim.sut.handler import Handled, Message, MessageHandler
from sim.world.model import build_handler, resolve_batches, to_record
from sim.world.services import PlannedCrm, PlannedLlm
from sim.world.workload import PlannedMessage, arrivals, plan, streams


def run_live(scenario: Scenario, variant: Variant, url: str, time_scale: float, replication: int = 0) -> RunResult:
    if scenario.faults:
        raise ValueError("faults are injected only on simulated time; run this scenario with sim run")
    client = redis.Redis.from_url(url)
    client.ping()  # fail fast, before any thread starts, if the server is not there
    namespace = f"sim-live-{os.getpid()}-{time.monotonic_ns()}"  # never touches keys of other runs
    scaled = _scaled(variant, time_scale)
    handler = _handler(scaled, scenario.seed, replication)
    messages = plan(arrivals(scenario, replication), variant.services, scenario.seed, replication)
    scale = _Scale(time.monotonic(), time_scale)
    records: list[MessageRecord] = []

    def serve(planned: PlannedMessage, arrived: float) -> None:
        driver = BlockingDriver(client)
        started = time.monotonic()
        message = Message(f"{namespace}:thread_{planned.customer}", f"{namespace}:{planned.tax_id}",
                          f"message {planned.index + 1}", f"msg-{planned.id}")  # fmt: skip
        crm = PlannedCrm(
            planned.crm_latency * time_scale, planned.points, planned.in_outage, scaled.services.crm_timeout
        )
        llm = PlannedLlm(planned.llm_latency * time_scale, scaled.services.llm_timeout)
        handled = driver.run(handler.handle(message, crm, llm))
        records.append(scale.record(planned, arrived, started, handled, time.monotonic(), driver.commands))

    with ThreadPoolExecutor(max_workers=variant.workers) as pool:  # its FIFO queue is the worker queue
        served = []
        for planned in messages:
            time.sleep(max(0.0, scale.start + planned.at * time_scale - time.monotonic()))
            served.append(pool.submit(serve, planned, time.monotonic()))
        for future in served:
            future.result()  # a handler that raised fails the run instead of losing a record
    ordered = resolve_batches(sorted(records, key=lambda r: r.message))
    return RunResult(variant.name, replication, tuple(ordered), {}, ())


@dataclass(frozen=True, slots=True)
class _Scale:
    """Wall-clock instants and spans back into the scenario's seconds."""

    start: float
    factor: float

    def at(self, t: float) -> float:
        return (t - self.start) / self.factor

    def record(self, p: PlannedMessage, arrived: float, started: float, h: Handled, done: float, commands: int):  # type: ignore[no-untyped-def]
        h = dataclasses.replace(
            h, lock_wait=h.lock_wait / self.factor, crm_s=h.crm_s / self.factor, llm_s=h.llm_s / self.factor,
            replied_at=self.at(h.replied_at), acquired_at=self.at(h.acquired_at) if h.acquired_at >= 0 else -1.0,
        )  # fmt: skip
        return to_record(p, self.at(arrived), self.at(started), h, commands, self.at(done))


def _scaled(variant: Variant, f: float) -> Variant:
    lock, backoff, services = variant.lock, variant.lock.backoff, variant.services
    scaled_backoff = Backoff(backoff.kind, backoff.delay * f, backoff.base * f, backoff.factor, backoff.cap * f)
    return dataclasses.replace(
        variant,
        lock=dataclasses.replace(lock, ttl=lock.ttl * f, timeout=lock.timeout * f, backoff=scaled_backoff),
        cache=dataclasses.replace(variant.cache, ttl=variant.cache.ttl * f),
        handler=dataclasses.replace(variant.handler, debounce=variant.handler.debounce * f),
        services=dataclasses.replace(
            services,
            crm_timeout=None if services.crm_timeout is None else services.crm_timeout * f,
            llm_timeout=None if services.llm_timeout is None else services.llm_timeout * f,
        ),
    )


def _handler(variant: Variant, seed: int, replication: int) -> MessageHandler:
    jitter, guard = streams(seed, replication)["jitter"], threading.Lock()

    def rand() -> float:
        with guard:  # numpy generators are not thread-safe
            return float(jitter.random())

    return build_handler(variant, rand)
