"""A team's own handler (`[code]`) in a SimPy run: one loop, one Redis client, one task per message.

`CodeEngine` holds what a run's messages share: the simulated event loop (`SimulatedLoop`),
redis-py's client on the simulated wire (`Wire`), the handler imported afresh for the run
(`sim.code.loader`), and the run's containment (its clock and entropy, `sim.code.containment`).
`serve` is the SimPy side of one message: it starts the handler as a task with its own `ctx`,
waits for it, and returns its record.

A run ends cleanly when every message's handler has returned: what the handlers left running
(a forgotten background task) is cancelled once nothing else can happen, as `asyncio.run` does on
exit. It ends with a `HandlerRunaway` (exit 3, one line naming the handler's line and the message)
when the code cannot be run truthfully: it refused (`time.sleep`, a real socket), kept the loop busy
without letting time pass, held one callback for `HUNG_AFTER` wall seconds, ran one message past
`[code]max_handling`, or waited for something that could never happen.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import ctypes
import threading
import time
import traceback
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

import fakeredis
import simpy

from sim.code import containment as contained
from sim.code.context import CURRENT, HandlerContext, InboundMessage, count_command
from sim.code.contract import Reply
from sim.code.loader import Handler, HandlerSpec, load, user_frame_of
from sim.core.durations import MIN_DURATION
from sim.core.errors import ExitCode, SimError
from sim.metrics.columns import CountsBySecond
from sim.metrics.records import MessageRecord, Outcome
from sim.run.code_services import PlannedDesk
from sim.run.faults import FaultSchedule
from sim.run.services import Served
from sim.run.team_handler import REPLY_OUTCOME, run_handler, team_record, wait_exactly
from sim.run.workload import PlannedMessage
from sim.scenario.model import CodeSettings, Variant
from sim.world.event_loop import Runaway, SimulatedLoop
from sim.world.internals import scheduled_events
from sim.world.redis_wire import Wire

# 2025-10-27 00:00 UTC, the seed's date: the run's second 0 as `time.time()` reads it (a trace's own start wins).
SIMULATED_EPOCH = datetime(2025, 10, 27, tzinfo=UTC).timestamp()
HUNG_AFTER = 10.0  # wall seconds one callback of the code may run before the run calls it hung
CANCEL_GRACE = 60.0  # simulated seconds a cancelled leftover task may take to stop
REAP_EVERY = 60.0  # simulated seconds between looks for a handler past its limit, or stuck


class HandlerRunaway(SimError):
    """The team's code cannot be simulated truthfully any further (see the module docstring)."""

    exit_code = ExitCode.BROKEN


class CodeEngine:
    def __init__(
        self,
        env: simpy.Environment,
        server: fakeredis.FakeServer,
        variant: Variant,
        *,
        seed: int,
        round_trip: Callable[[], float],
        jitter: Callable[[float], float] | None,
        faults: FaultSchedule,
        served: Served,
        epoch: float = SIMULATED_EPOCH,
        heard: Callable[[int, Outcome, float], None] | None = None,
        trace: list[tuple[float, int, str]] | None = None,
        shortcut: bool = True,
        command_log: list[tuple[float, tuple[bytes, ...]]] | None = None,
    ) -> None:
        assert variant.code is not None, "a [code] variant"
        self.env = env
        self.code: CodeSettings = variant.code
        self.services = variant.services
        self.faults = faults
        self.served = served
        self.heard = heard
        self.trace = trace
        self.containment = contained.Containment(contained.Clock(now=lambda: env.now, epoch=epoch), seed)
        self.loop = SimulatedLoop(  # type: ignore[abstract]  # the loop methods a simulation has no use for
            env, containment=self.containment, jitter=jitter, stopped=self._stopped, after_timer=self._maybe_idle
        )
        self.commands_per_second = CountsBySecond()
        self.wire = Wire(self.loop, server, round_trip, self._executed)
        self.outstanding: dict[int, tuple[float, HandlerContext, asyncio.Task[Any]]] = {}
        self.late_commands = 0  # commands sent for a message after its handler had returned
        self.orphan_commands = 0  # commands sent outside any message (the handler module's own set-up)
        self.arrivals_done = False  # the open-loop arrivals are all in (conversations are SimPy's own events)
        self._cancelled_at: float | None = None  # when the leftover tasks were cancelled (the world was idle)
        self._finished = False
        self._reaper: simpy.Process | None = None
        self._watch = _HangWatch(self.loop)
        self.handler: Handler | None = None
        self.redis: Any = None
        self._shortcut = shortcut  # redis-py's client with the single-command shortcut (`redis_wire._Client`)
        self.command_log = command_log  # every command executed, with its time (`sim bench`'s floor); None: none

    # --- the run's beginning and end ---------------------------------------------------------------

    def start(self) -> None:
        """Take the process's run lock, import the handler afresh inside the run's containment, make the client."""
        self.containment.start()
        self._watch.start()
        self.containment.enter()
        try:
            self.handler = load(self.code.handler)
            self.redis = self.wire.client(shortcut=self._shortcut)
        except BaseException:
            self.stop()
            raise
        finally:
            self.containment.leave()

    def stop(self) -> None:
        """Release what `start` took; safe to call twice."""
        if not self._finished:
            self._finished = True
            self._watch.stop()
            self.containment.finish()

    def finish(self) -> None:
        """After SimPy's run: every handler must have returned; tasks they left waiting are cancelled."""
        try:
            if self.outstanding:
                message, (started, _, _) = next(iter(self.outstanding.items()))
                raise self._runaway(
                    f"never finished: it waits for something that can never happen (started at {started:g} s)",
                    message,
                )
            self._cancel_leftovers()
        finally:
            self.stop()

    def arrived_all(self) -> None:
        """The open-loop arrivals are all in."""
        self.arrivals_done = True
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        """Once nothing but the code's own timers can happen, cancel the tasks the handlers left running
        (a forgotten heartbeat would keep the run alive forever); one that will not stop is a runaway."""
        if not self.idle():
            return
        if self._cancelled_at is None:
            self._cancelled_at = self.env.now
            self._cancel_leftovers()
        elif self.env.now - self._cancelled_at > CANCEL_GRACE:
            raise self._runaway(f"a task still runs {CANCEL_GRACE:g} s after it was cancelled at the run's end", None)

    def _cancel_leftovers(self) -> None:
        for task in [t for t in asyncio.all_tasks(self.loop) if not t.done()]:
            task.cancel()
        self.loop.run_ready()

    # --- one message ------------------------------------------------------------------------------

    def serve(self, planned: PlannedMessage, arrival: float) -> Generator[simpy.Event, Any, MessageRecord]:
        """A SimPy process step: run the handler for `planned` (arrived at `arrival`) and return its record."""
        env = self.env
        started = env.now
        ctx = HandlerContext(
            redis=self.redis,
            settings=copy.deepcopy(self.code.settings),
            desk=PlannedDesk(planned, self.services, self.faults, self.served, wait=wait_exactly, now=self._now),
            clock=self._now,
            on_reply=self._replied(planned.id),
            lines=[] if self.trace is not None else None,
        )
        message = InboundMessage(
            id=planned.id,
            customer=planned.customer,
            tax_id=planned.tax_id,
            text=f"message {planned.index + 1}",
            arrival=arrival,
        )
        context = contextvars.copy_context()
        context.run(CURRENT.set, ctx)
        done = env.event()
        assert self.handler is not None, "start() first"
        task = self.loop.create_task(run_handler(self.handler, message, ctx), context=context)
        task.add_done_callback(lambda _: done.succeed())
        self.outstanding[planned.id] = (started, ctx, task)
        self._keep_reaping()
        self.loop.run_ready()
        yield done
        del self.outstanding[planned.id]
        error = task.result()
        self._write_trace(planned, ctx)
        record = team_record(planned, arrival, started, env.now, ctx, error)
        self._maybe_idle()
        return record

    def _replied(self, message: int) -> Callable[[Reply, float], None]:
        def replied(reply: Reply, at: float) -> None:
            if self.heard is not None:
                self.heard(message, REPLY_OUTCOME[reply], at)

        return replied

    def _now(self) -> float:
        return float(self.env.now)

    def _executed(self, fields: list[bytes]) -> None:
        """The server executed one command: counted for its message, and by second for the run."""
        self.commands_per_second.add(int(self.env.now))
        if self.command_log is not None:
            self.command_log.append((self.env.now, tuple(fields)))
        ctx = CURRENT.get()
        if ctx is None:
            self.orphan_commands += 1
        elif ctx.closed:
            self.late_commands += 1
        count_command()

    def _write_trace(self, planned: PlannedMessage, ctx: HandlerContext) -> None:
        if self.trace is not None and ctx.lines:
            label = f"msg#{planned.id} {planned.customer}:"
            for at, line in ctx.lines:
                self.trace.append((at, len(self.trace), f"{_clock(at)} {label} {line}"))

    # --- stopping a runaway ----------------------------------------------------------------------------

    def _stopped(self, error: BaseException) -> HandlerRunaway:
        """The loop's fatal error (`Refused`, `Runaway`, `Hung`) as the run's one line: where in the team's
        code, and for which message."""
        context = getattr(error, "context", None)
        ctx = context.get(CURRENT) if isinstance(context, contextvars.Context) else None
        message = next((m for m, (_, c, _) in self.outstanding.items() if c is ctx), None)
        where = user_frame_of(traceback.extract_tb(error.__traceback__), self.code.handler)
        return self._runaway(_what_stopped(error), message, where=where)

    def _runaway(self, what: str, message: int | None, *, where: str | None = None) -> HandlerRunaway:
        spec: HandlerSpec = self.code.handler
        about = f"message {message}" if message is not None else "a task outside any message"
        return HandlerRunaway(" ".join(f"{where or spec.where}: handler {spec.text}, {about}: {what}".split()))

    def _keep_reaping(self) -> None:
        """While handlers are running, look every so often for one past `[code]max_handling`."""
        if self._reaper is None or not self._reaper.is_alive:
            self._reaper = self.env.process(self._reap())

    def _reap(self) -> Generator[simpy.Event, Any, None]:
        """While handlers run: stop one past `[code]max_handling`, or any that nothing can wake any more."""
        limit = self.code.max_handling
        while self.outstanding:
            oldest, (started, _, _) = next(iter(self.outstanding.items()))
            due = started + limit - self.env.now
            if due < 0:
                raise self._runaway(
                    f"still running {limit:g} s after it started at {started:g} s ([code]max_handling)", oldest
                )
            if scheduled_events(self.env) == 0:  # no timer, no arrival, no customer: nothing will ever happen
                raise self._runaway(
                    f"never finished: it waits for something that can never happen (started at {started:g} s)",
                    oldest,
                )
            yield self.env.timeout(max(min(due, REAP_EVERY), MIN_DURATION))  # past the limit, not at it
        self._reaper = None

    def idle(self) -> bool:
        """Nothing but the code's own timers can still happen: no handler runs, no other event is due."""
        return not self.outstanding and self.arrivals_done and scheduled_events(self.env) == self.loop.alarms_pending()


class _HangWatch:
    """A thread that stops a callback of the code running for `HUNG_AFTER` wall seconds (`while True: pass`).

    It raises `Hung` inside the simulation's thread (CPython's `PyThreadState_SetAsyncExc`), where the
    loop turns it into the run's end."""

    def __init__(self, loop: SimulatedLoop) -> None:
        self.loop = loop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._target = 0

    def start(self) -> None:
        self._target = threading.get_ident()
        self._thread = threading.Thread(target=self._watch, name="sim-hang-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        seen, since = -1, time.monotonic()
        while not self._stop.wait(0.25):
            steps, busy = self.loop.steps, self.loop.in_step
            now = time.monotonic()
            if steps != seen or not busy:
                seen, since = steps, now
            elif now - since > HUNG_AFTER:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target), ctypes.py_object(Hung))
                seen, since = -1, now


class Hung(BaseException):
    def __str__(self) -> str:
        return f"one step ran {HUNG_AFTER:g} wall seconds without yielding to the loop (an endless loop?)"


def _clock(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


def _what_stopped(error: BaseException) -> str:
    """The sentence of sim's own stops (`Refused`, `Runaway`, `Hung`); for a BaseException of the team's code
    (SystemExit, GeneratorExit, one of its own) what it was, since no message can fail of it."""
    if isinstance(error, contained.Refused | Runaway | Hung):
        return str(error)
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r}): a bot's process would end here"
    shown = f"{type(error).__name__}({str(error)!r})" if str(error) else type(error).__name__
    return f"raised {shown}, a BaseException that ends the event loop, not one message"
