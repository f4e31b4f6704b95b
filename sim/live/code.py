"""`sim live` for a team's own handler (`[code]`): the same code on a real asyncio loop, against a real Redis.

The scenario's customers arrive on the wall clock; each message runs the handler as production
would (`sim.run.team_handler`), with `[workers]count` of them at once (a semaphore; the async model
has no limit). Services wait their planned latencies for real (`ctx.call`). The time scale is 1: the
code's own waits (its backoff, its TTLs) are its own, and `sim` cannot stretch them.

The server may hold anybody's keys. The handler's client keeps the run's apart
(`sim.code.namespace`): every key and channel it names gets the prefix `sim-live:<run id>:`, what
cannot be kept apart is refused, and when the run ends, however it ends, every key under the prefix
is removed. Commands are counted per message where they are sent (the client cannot see where the
server runs them); errors of the connection (the server gone) are counted, and a run that saw any is
no result (exit 5), as for the built-in bot.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import uuid
from collections import Counter
from typing import Any

import redis
import redis.asyncio

from sim.code.context import CURRENT, HandlerContext, InboundMessage, count_command
from sim.code.loader import load
from sim.code.namespace import Namespace, NamespacedConnection
from sim.core.errors import ScenarioError
from sim.live import GLOB_CHARACTERS, NAMESPACE_PREFIX, LiveRun, remove_keys
from sim.metrics import invariants
from sim.metrics.records import MessageRecord, RunResult
from sim.run.code_services import PlannedDesk
from sim.run.faults import NO_FAULTS
from sim.run.services import Served
from sim.run.streams import Streams
from sim.run.team_handler import run_handler, team_record
from sim.run.workload import PlannedMessage, planned_messages
from sim.scenario.model import Scenario, Variant, WorkerModel
from sim.sut.blocking import ErrorTally
from sim.terminal.progress import Progress


def check_live_code(scenario: Scenario, time_scale: float) -> None:
    """What a scenario with a team's handler must be to run live; raises before any connection."""
    if time_scale != 1.0 and any(v.code is not None for v in scenario.variants):
        raise ScenarioError(
            f"{scenario.name}: a [code] handler runs live at --time-scale 1: its own waits and TTLs are its own"
        )


def run_live_code(
    scenario: Scenario, variant: Variant, client: redis.Redis, url: str, replication: int = 0, *, progress: bool = False
) -> LiveRun:
    """One live run of a team's handler; the run's keys are removed at the end, however it ends."""
    run_id = uuid.uuid4().hex
    prefix = f"{NAMESPACE_PREFIX}{run_id}:"
    if GLOB_CHARACTERS & set(prefix):
        raise RuntimeError(f"live namespace {prefix!r} holds a glob character")
    namespace = Namespace(prefix, client.command())  # the server's own key specifications
    errors = ErrorTally()
    failures: Counter[str] = Counter()
    try:
        records, expected = asyncio.run(_serve_all(scenario, variant, url, namespace, replication, failures, progress))
    finally:
        remove_keys(client, prefix, errors)
    ordered = sorted(records, key=lambda r: r.message)
    broken = invariants.check(ordered, expected=expected, workers=_limit(variant), lock_ttl=0.0, builtin=False)
    result = RunResult(
        variant=variant.name,
        replication=replication,
        records=tuple(ordered),
        commands_per_second={},
        violations=tuple(broken),
    )
    return LiveRun(result, prefix, dict(failures + Counter(errors.counts())))


def _limit(variant: Variant) -> int | None:
    return variant.workers if variant.worker_model is WorkerModel.POOL else None


async def _serve_all(
    scenario: Scenario,
    variant: Variant,
    url: str,
    namespace: Namespace,
    replication: int,
    failures: Counter[str],
    show_progress: bool,
) -> tuple[list[MessageRecord], int]:
    assert variant.code is not None, "a [code] variant"
    handler = load(variant.code.handler)
    pool = redis.asyncio.ConnectionPool.from_url(
        url, connection_class=_Counted, namespace=namespace, failures=failures, socket_connect_timeout=5.0
    )
    client = redis.asyncio.Redis(connection_pool=pool)
    rng = Streams.of(scenario.seed, replication)
    messages = planned_messages(scenario, variant.services, rng)
    loop = asyncio.get_running_loop()
    start = loop.time()
    seats = asyncio.Semaphore(variant.workers) if variant.worker_model is WorkerModel.POOL else None
    served = Served()
    records: list[MessageRecord] = []
    progress = Progress(messages.count, f"{scenario.name} {variant.name}", unit="messages", enabled=show_progress)

    def now() -> float:
        return loop.time() - start

    async def serve(planned: PlannedMessage, arrival: float) -> None:
        async with seats or _NO_LIMIT:
            started = now()
            ctx = HandlerContext(
                redis=client,
                settings=copy.deepcopy(variant.code.settings if variant.code else {}),
                desk=PlannedDesk(planned, variant.services, NO_FAULTS, served, wait=asyncio.sleep, now=now),
                clock=now,
            )
            CURRENT.set(ctx)
            message = InboundMessage(
                id=planned.id, customer=planned.customer, tax_id=planned.tax_id, text=f"message {planned.index + 1}",
                arrival=arrival,
            )  # fmt: skip
            error = await run_handler(handler, message, ctx)
            records.append(team_record(planned, arrival, started, now(), ctx, error))
            progress.step()

    tasks: list[asyncio.Task[None]] = []
    try:
        for planned in messages:
            await asyncio.sleep(max(0.0, planned.at - now()))
            tasks.append(loop.create_task(serve(planned, now()), context=contextvars.copy_context()))
        await asyncio.gather(*tasks)
    finally:
        for task in asyncio.all_tasks(loop) - {asyncio.current_task()}:
            task.cancel()
        progress.close()
        await client.aclose()
        await pool.aclose()
    return records, len(tasks)


class _NoLimit:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LIMIT = _NoLimit()


class _Counted(NamespacedConnection):
    """The run's connection: each command counted for the message that sent it; the server's failures counted."""

    def __init__(self, *args: Any, failures: Counter[str], **kwargs: Any) -> None:
        self._failures = failures
        super().__init__(*args, **kwargs)

    def pack_command(self, *args: Any) -> list[bytes]:
        packed = super().pack_command(*args)
        if not self._handshaking:
            count_command()
        return packed

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            self._failures[type(error).__name__] += 1
            raise
