"""`sim live`: the same handler, lock and cache in real time against a real Redis server.

Every duration of the scenario — arrivals, CRM and LLM latencies, lock TTL,
lock timeout, backoff waits, cache TTL — is multiplied by `time_scale`, so a
minute of the story can play in seconds. Results are divided back into
scenario seconds, and summarised exactly like `sim run`.

The server may hold anybody's keys, so a live run touches only its own: every
key it uses (locks, queues, grants, debounce lists, cache entries, fill locks)
starts with `sim-live:<uuid4 hex>:`, a namespace of its own per run and
variant, and every lock token ends with the run id. When the run ends, however
it ends, the keys under that namespace are removed (SCAN MATCH + UNLINK).

Ctrl-C or SIGTERM (which the CLI turns into KeyboardInterrupt) ends a run within a few
seconds: every handler stops at its next effect (a sleep through a scaled LLM latency
ends at once; a fair-lock waiter blocked in BLPOP returns within its 5 s check), the
run's keys are removed, and the CLI says "sim: interrupted" (exit 130).

Redis errors do not stop the code under test (the lock takes them for a busy
lock, the cache falls back to the CRM), so they are counted here: a run that
saw any is not a result, and the CLI says what happened and exits 5.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis

from sim.core.errors import EnvironmentProblem, LiveRedisFailed, ScenarioError
from sim.metrics import invariants
from sim.metrics.comparison import Comparison, compare
from sim.metrics.records import MessageRecord, RunResult
from sim.run.assemble import build_handler
from sim.run.serve import Serving, TimeScale, resolve_batches, serve_message
from sim.run.streams import Streams
from sim.run.workload import PlannedMessage, planned_messages
from sim.scenario.describe import context
from sim.scenario.model import Scenario, Variant, WorkerModel
from sim.sut.blocking import BlockingDriver, ErrorTally
from sim.sut.effects import Effect, Spawn, Step
from sim.sut.handler import MessageHandler
from sim.sut.lock import FAIR_CHECK_EVERY
from sim.sut.units import milliseconds
from sim.terminal.progress import Progress

NAMESPACE_PREFIX = "sim-live:"
GLOB_CHARACTERS = frozenset("*?[]\\^")  # special in a SCAN MATCH pattern
CONNECT_TIMEOUT = 5.0  # seconds; a URL's own `socket_connect_timeout` wins
# A reply may take as long as the longest BLPOP the fair lock sends (FAIR_CHECK_EVERY, 5 s): redis-py's own
# default of 5 s would cut that BLPOP off as a TimeoutError, which the run counts as a failed server (exit 5).
READ_TIMEOUT = 5 * FAIR_CHECK_EVERY  # seconds; a URL's own `socket_timeout` wins
TIME_SCALE_RANGE = (1e-3, 1e3)  # below 1 ms per scenario second, Redis' millisecond TTLs mean nothing
CLEANUP_BATCH = 500


@dataclass(frozen=True, slots=True)
class LiveRun:
    result: RunResult  # in scenario seconds; `violations` holds the broken invariants
    namespace: str  # every key the run used started with it
    redis_errors: dict[str, int]  # Redis errors seen by the run, by error class

    def failure(self) -> str:
        """One line saying how Redis failed during the run; empty when it never did."""
        if not self.redis_errors:
            return ""
        ranked = sorted(self.redis_errors.items(), key=lambda error: -error[1])
        counts = ", ".join(f"{n} {'commands ' if i == 0 else ''}got {name}" for i, (name, n) in enumerate(ranked))
        return (
            f"the Redis server failed during the live run of variant {self.result.variant!r}: {counts} "
            "(the lock took them for a busy lock, the cache fell back to the CRM: these numbers are not a result)"
        )


class _RunStopped(Exception):
    """Raised in a live run's handler threads once the run ends early (Ctrl-C, SIGTERM, a bug)."""


class _StoppableDriver(BlockingDriver):
    """A BlockingDriver whose steps stop at their next effect, and whose sleeps end, once `stop` is set.

    Its spawned helpers (the lock watchdog) run on stoppable drivers too, and end quietly.
    """

    def __init__(self, client: redis.Redis, stop: threading.Event, errors: ErrorTally) -> None:
        self._stop = stop
        super().__init__(client, sleep=self._sleep, errors=errors)

    def run_until_stopped(self, step: Step[object]) -> object:
        """`run`, but a stopped run is a quiet end (None), not an exception."""
        with contextlib.suppress(_RunStopped):
            return self.run(step)
        return None

    def _do(self, effect: Effect, step: Step[object]) -> Any:
        if self._stop.is_set():
            raise _RunStopped
        if isinstance(effect, Spawn):
            helper = _StoppableDriver(self.client, self._stop, self.errors)
            threading.Thread(target=helper.run_until_stopped, args=(effect.step,), daemon=True).start()
            return None
        return super()._do(effect, step)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(max(0.0, seconds)):  # an LLM call of 90 s ends at once when the run is stopped
            raise _RunStopped


def check_live(scenario: Scenario) -> None:
    """What a scenario must be to run live; raises before any connection is made."""
    if scenario.faults:
        raise ScenarioError(f"{scenario.name}: faults are injected only on simulated time; run it with sim run")
    if scenario.workload.conversations is not None:
        raise ScenarioError(
            f"{scenario.name}: [workload.conversations] (customers who wait for answers) run only on simulated time; "
            "run it with sim run"
        )
    for variant in scenario.variants:
        safety = [name for name, on in _simulated_only(variant).items() if on]
        if safety:
            raise ScenarioError(
                f"{scenario.name}: variant {variant.name!r}: {', '.join(safety)}: simulated only (sim live drives "
                "no replica and no conversation store); run it with sim run"
            )
        if variant.worker_model is WorkerModel.ASYNC and variant.code is None:  # a team's asyncio bot runs either way
            raise ScenarioError(
                f"{scenario.name}: variant {variant.name!r}: the async worker model is simulated only "
                "(sim live serves messages with a pool of [workers]count threads); run it with sim run"
            )
    _check_threads_for(scenario)


def _simulated_only(variant: Variant) -> dict[str, bool]:
    """The lock safety settings a live run cannot honour, by the key that sets them."""
    return {
        "[redis]replicas": variant.replicas is not None,
        "[lock]fencing": variant.lock.fencing,
        "[lock]wait_replicas": variant.lock.wait_replicas > 0,
    }


def check_time_scale(text: str) -> float:
    """`--time-scale`: a finite number in TIME_SCALE_RANGE; ValueError otherwise."""
    low, high = TIME_SCALE_RANGE
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"must be a number from {low:g} to {high:g}, got {text!r}")
    return value


def connect(url: str) -> redis.Redis:
    """A client of a server that answered PING; one-line `EnvironmentProblem` otherwise, password hidden."""
    try:
        _check_database(url)
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=READ_TIMEOUT)
        client.ping()
    except (ValueError, TypeError, OSError, redis.RedisError) as error:
        raise EnvironmentProblem(f"--redis {redact(url)}: {scrub(str(error) or type(error).__name__, url)}") from None
    return client


def _check_database(url: str) -> None:
    """redis-py reads `redis://host/abc` as database 0; a typo must not write into another database."""
    parsed = urlsplit(url)
    database = unquote(parsed.path).strip("/")
    if parsed.scheme in ("redis", "rediss") and database and not re.fullmatch(r"[0-9]+", database):
        raise ValueError(f"the database {database!r} is not a number")


def redact(url: str) -> str:
    """The URL with its password (everything before the host's `@`, but the user name) as `***`."""
    scheme, sep, rest = url.partition("//")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon and "/" not in user else "***"
    return f"{scheme}{sep}{shown}@{host}"


def scrub(text: str, url: str) -> str:
    """`text` on one line, without the URL's password, however the message quoted it."""
    text = " ".join(text.split()).replace(url, redact(url))
    _, _, rest = url.partition("//")
    userinfo = rest.rpartition("@")[0]
    secret = userinfo.partition(":")[2] or userinfo
    for form in {secret, unquote(secret)} - {""}:
        text = text.replace(form, "***")
    return text


def run_live(
    scenario: Scenario,
    variant: Variant,
    client: redis.Redis,
    time_scale: float,
    replication: int = 0,
    *,
    progress: bool = False,
) -> LiveRun:
    """One live run of `variant`; its keys are removed at the end, also when it fails or is interrupted.

    With `progress`, one step per message served is shown on stderr.
    """
    run_id = uuid.uuid4().hex
    namespace = f"{NAMESPACE_PREFIX}{run_id}:"
    if GLOB_CHARACTERS & set(namespace):  # SCAN MATCH must match this run's keys and nobody else's
        raise RuntimeError(f"live namespace {namespace!r} holds a glob character")
    errors = ErrorTally()
    try:
        records, expected = _serve_all(scenario, variant, client, time_scale, replication, namespace, errors, progress)
    finally:
        remove_keys(client, namespace, errors)
    ordered = resolve_batches(sorted(records, key=lambda r: r.message))
    # The TTL Redis kept, in scenario seconds: the handler sent whole milliseconds of the scaled TTL.
    lock_ttl = milliseconds(variant.lock.ttl * time_scale) / 1000 / time_scale
    broken = invariants.check(ordered, expected=expected, workers=variant.workers, lock_ttl=lock_ttl)
    result = RunResult(
        variant=variant.name,
        replication=replication,
        records=tuple(ordered),
        commands_per_second={},
        violations=tuple(broken),
    )
    return LiveRun(result, namespace, errors.counts())


def live_comparison(scenario: Scenario, runs: Sequence[LiveRun]) -> Comparison | None:
    """`sim compare`'s results model of the live runs (one replication each, so the headline names the
    differences seen, not verdicts); None with one variant, or when Redis failed (the runs are no result)."""
    results = {run.result.variant: run.result for run in runs}
    if len(results) < 2 or scenario.baseline not in results or any(run.failure() for run in runs):
        return None
    return compare(
        scenario.name,
        scenario.seed,
        scenario.baseline,
        {v.name: v.describe() for v in scenario.variants if v.name in results},
        {name: [result] for name, result in results.items()},
        context=context(scenario),
        meaningful=scenario.meaningful,
    )


def fail_if_redis_failed(runs: list[LiveRun]) -> None:
    for run in runs:
        if run.failure():
            raise LiveRedisFailed(run.failure())


def _serve_all(
    scenario: Scenario,
    variant: Variant,
    client: redis.Redis,
    time_scale: float,
    replication: int,
    namespace: str,
    errors: ErrorTally,
    show_progress: bool,
) -> tuple[list[MessageRecord], int]:
    scaled = _scaled(variant, time_scale)
    rng = Streams.of(scenario.seed, replication)
    messages = planned_messages(scenario, variant.services, rng)
    clock = TimeScale(time.monotonic(), time_scale)
    run_id = namespace.removeprefix(NAMESPACE_PREFIX).rstrip(":")  # ends every token: unique to this run
    serving = Serving(handler=_handler(scaled, rng, namespace), services=scaled.services, clock=clock, run_id=run_id)
    records: list[MessageRecord] = []
    stop = threading.Event()  # set when the run ends, however it ends: every handler still running stops
    label = f"{scenario.name} {variant.name}"
    progress = Progress(messages.count, label, unit="messages", enabled=show_progress)

    def serve(planned: PlannedMessage, arrived: float) -> None:
        driver = _StoppableDriver(client, stop, errors)
        try:
            records.append(driver.run(serve_message(serving, planned, arrived, driver)))
        except redis.RedisError:
            pass  # the code under test let a Redis error through (counted by the driver): no record
        except _RunStopped:
            return  # the run ended early: this message is not served
        progress.step()

    pool = ThreadPoolExecutor(max_workers=variant.workers)  # its FIFO queue is the worker queue
    served: list[Future[None]] = []  # one per message that arrived
    try:
        for planned in messages:
            time.sleep(max(0.0, clock.start + planned.at * time_scale - time.monotonic()))
            served.append(pool.submit(serve, planned, time.monotonic()))
        for future in served:
            future.result()  # a handler that raised (a bug) fails the run instead of losing a record
    finally:
        stop.set()  # Ctrl-C, SIGTERM or a bug: in-flight handlers stop instead of sleeping through an LLM call
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
    return records, len(served)


def _check_threads_for(scenario: Scenario, replication: int = 0) -> None:
    """The threads the most demanding variant needs at once (its workers, but no more than its messages;
    twice that with the lock watchdog), started before anything runs."""
    needed, workers = 0, 0
    for variant in scenario.variants:
        messages = planned_messages(scenario, variant.services, Streams.of(scenario.seed, replication))
        count = min(variant.workers, messages.count) * (2 if variant.lock.watchdog else 1)
        if count > needed:
            needed, workers = count, variant.workers
    check_threads(needed, workers)


def check_threads(needed: int, workers: int) -> None:
    """Before a message is served: `needed` threads can run at once here (a worker per message in flight,
    and a watchdog per held lock). Each is started and parked, then all are released; a machine that cannot
    start them all (an address-space limit, a thread limit) is one line and exit 2, not a failure mid-run."""
    release = threading.Event()
    started: list[threading.Thread] = []
    try:
        for _ in range(needed):
            thread = threading.Thread(target=release.wait, daemon=True)
            thread.start()
            started.append(thread)
    except RuntimeError as error:  # "can't start new thread"
        raise EnvironmentProblem(
            f"[workers]count = {workers:,}: sim live serves with a thread per worker (and per lock watchdog) and "
            f"needs up to {needed:,} at once; this machine started {len(started):,} ({error}): lower [workers]count, "
            "or raise the process's limits (ulimit -u, ulimit -v)"
        ) from None
    finally:
        release.set()
        for thread in started:
            thread.join()


def remove_keys(client: redis.Redis, namespace: str, errors: ErrorTally) -> None:
    """UNLINK every key of the run's namespace (SCAN, so a big server is never blocked)."""
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{namespace}*", count=CLEANUP_BATCH):
            batch.append(key)
            if len(batch) >= CLEANUP_BATCH:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    except redis.RedisError as error:  # the server is gone: its keys may stay (with their TTLs)
        errors.add(error)


def _scaled(variant: Variant, f: float) -> Variant:
    """The variant on the wall clock: every duration × f."""
    lock, services = variant.lock, variant.services
    return dataclasses.replace(
        variant,
        lock=dataclasses.replace(lock, ttl=lock.ttl * f, timeout=lock.timeout * f, backoff=lock.backoff.scaled(f)),
        cache=dataclasses.replace(variant.cache, ttl=variant.cache.ttl * f),
        handler=dataclasses.replace(variant.handler, debounce=variant.handler.debounce * f),
        services=dataclasses.replace(
            services,
            crm_timeout=None if services.crm_timeout is None else services.crm_timeout * f,
            llm_timeout=None if services.llm_timeout is None else services.llm_timeout * f,
        ),
    )


def _handler(variant: Variant, rng: Streams, namespace: str) -> MessageHandler:
    jitter, guard = rng.jitter, threading.Lock()

    def rand() -> float:
        with guard:  # numpy generators are not thread-safe
            return float(jitter.random())

    return build_handler(variant, rand, namespace)
