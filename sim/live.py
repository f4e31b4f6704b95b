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
from sim.sut.cache import OutageCache
from sim.sut.handler import Handled, Message, MessageHandler
from sim.sut.lock import LockConfig, ThreadLock
from sim.world.services import PlannedCrm, PlannedLlm
from sim.world.workload import PlannedMessage, arrivals, plan, streams


def run_live(scenario: Scenario, variant: Variant, url: str, time_scale: float, replication: int = 0) -> RunResult:
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
        scale = (lambda t: (t - start) / time_scale), (lambda d: d / time_scale)
        records.append(_record(planned, arrived, started, handled, done, driver.commands, *scale))

    with ThreadPoolExecutor(max_workers=variant.workers) as pool:  # its FIFO queue is the worker queue
        for planned in messages:
            time.sleep(max(0.0, start + planned.at * time_scale - time.monotonic()))
            pool.submit(serve, planned, time.monotonic())
    records.sort(key=lambda r: r.message)
    return RunResult(variant.name, replication, tuple(records), {}, ())


def _scaled(variant: Variant, f: float) -> Variant:
    lock, backoff = variant.lock, variant.lock.backoff
    scaled_backoff = Backoff(backoff.kind, backoff.delay * f, backoff.base * f, backoff.factor, backoff.cap * f)
    return dataclasses.replace(
        variant,
        lock=dataclasses.replace(lock, ttl=lock.ttl * f, timeout=lock.timeout * f, backoff=scaled_backoff),
        cache=dataclasses.replace(variant.cache, ttl=variant.cache.ttl * f),
    )


def _handler(variant: Variant, seed: int, replication: int) -> MessageHandler:
    jitter, guard = streams(seed, replication)["jitter"], threading.Lock()

    def rand() -> float:
        with guard:  # numpy generators are not thread-safe
            return float(jitter.random())

    lock = ThreadLock(LockConfig(variant.lock.ttl, variant.lock.timeout, variant.lock.backoff.policy(rand)))
    return MessageHandler(lock, OutageCache(variant.cache.ttl if variant.cache.enabled else None))


def _record(p, arrived, started, h: Handled, done, commands, at, span) -> MessageRecord:  # type: ignore[no-untyped-def]
    return MessageRecord(
        message=p.id, customer=p.customer, index=p.index, arrival=at(arrived), queue_wait=span(started - arrived),
        lock_wait=span(h.lock_wait), lock_attempts=h.lock_attempts, outcome=h.outcome, source=h.source,
        crm_s=span(h.crm_s), llm_s=span(h.llm_s), reply_at=at(h.replied_at), lock_lost=h.lock_lost,
        done_at=at(done), redis_commands=commands, cache_errors=h.cache_errors, lock_errors=h.lock_errors,
    )  # fmt: skip
