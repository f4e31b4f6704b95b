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
    handler = _handler(_scaled(variant, time_scale), scenario.seed, replication)
    messages = plan(arrivals(scenario, replication), variant.services, scenario.seed, replication)
    records: list[MessageRecord] = []
    start = time.monotonic()

    def serve(planned: PlannedMessage, arrived: float) -> None:
        driver = BlockingDriver(client)
        started = time.monotonic()
        message = Message(f"{namespace}:thread_{planned.customer}", f"{namespace}:{planned.tax_id}",
                          f"message {planned.index + 1}", f"msg-{planned.id}")  # fmt: skip
        crm = PlannedCrm(planned.crm_latency * time_scale, planned.points)
        handled = driver.run(handler.handle(message, crm, PlannedLlm(planned.llm_latency * time_scale)))
        done = time.monotonic()
        records.append(_in_scenario_seconds(planned, arrived, started, handled, done, driver.commands))

    def _in_scenario_seconds(planned, arrived, started, h: Handled, done, commands) -> MessageRecord:  # type: ignore[no-untyped-def]
        """Wall-clock instants and spans back into the scenario's seconds."""
        at = lambda t: (t - start) / time_scale  # noqa: E731
        h = dataclasses.replace(h, lock_wait=h.lock_wait / time_scale, crm_s=h.crm_s / time_scale,
                                llm_s=h.llm_s / time_scale, replied_at=at(h.replied_at),
                                acquired_at=at(h.acquired_at) if h.acquired_at >= 0 else -1.0)  # fmt: skip
        return to_record(planned, at(arrived), at(started), h, commands, at(done))

    with ThreadPoolExecutor(max_workers=variant.workers) as pool:  # its FIFO queue is the worker queue
        for planned in messages:
            time.sleep(max(0.0, start + planned.at * time_scale - time.monotonic()))
            pool.submit(serve, planned, time.monotonic())
    return RunResult(
        variant.name, replication, tuple(resolve_batches(sorted(records, key=lambda r: r.message))), {}, ()
    )


def _scaled(variant: Variant, f: float) -> Variant:
    lock, backoff = variant.lock, variant.lock.backoff
    scaled_backoff = Backoff(backoff.kind, backoff.delay * f, backoff.base * f, backoff.factor, backoff.cap * f)
    return dataclasses.replace(
        variant,
        lock=dataclasses.replace(lock, ttl=lock.ttl * f, timeout=lock.timeout * f, backoff=scaled_backoff),
        cache=dataclasses.replace(variant.cache, ttl=variant.cache.ttl * f),
        handler=dataclasses.replace(variant.handler, debounce=variant.handler.debounce * f),
    )


def _handler(variant: Variant, seed: int, replication: int) -> MessageHandler:
    jitter, guard = streams(seed, replication)["jitter"], threading.Lock()

    def rand() -> float:
        with guard:  # numpy generators are not thread-safe
            return float(jitter.random())

    return build_handler(variant, rand)
