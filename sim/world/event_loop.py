"""An asyncio event loop whose clock is SimPy's: a team's asyncio code on simulated time.

`SimulatedLoop` implements the part of `asyncio.AbstractEventLoop` that coroutines, tasks,
futures, `asyncio.sleep`, timeouts, `wait_for`, `gather`, locks, events and queues use. It has no
thread of its own and never blocks: SimPy drives it.

- `call_soon` queues a callback; `run_ready` runs the queue (and what it queues) at the current
  simulated instant. Whoever hands the loop new work from outside — a SimPy process starting a
  handler — calls `run_ready` after it.
- `call_at` / `call_later` put a timer on the loop's own heap. The loop needs SimPy only to know
  when it may move the clock: after running its queue, if its earliest timer is due before SimPy's
  next event (`env.peek()`), nothing else in the world can happen first, so it moves SimPy's clock
  there itself (`internals.warp`) and goes on; otherwise it leaves an alarm (a SimPy timeout) for
  that timer and returns. A handler's lock polls and round trips cost no SimPy event while the rest
  of the world is quiet. Timers due at one instant run in the order they were set; a SimPy event
  due at the same instant runs first. A run is deterministic.
- `time()` is SimPy's `now`. A sleep of the code (`asyncio.sleep`) ends a little early or late when
  timer jitter is on (`jitter`), as a real timer does; the loop's own exact waits
  (`call_exactly_at`: a reply's round trip, a service's latency) never do.
- Nothing can reach the real network or a real thread: those methods raise `Refused`.

While it runs callbacks the loop is the thread's running loop (`asyncio.get_running_loop()`) and
the run's containment is entered (`sim.code.containment`), so the code reads the simulated clock.

A run ends when the code does something the simulation cannot run (`Refused`, a runaway): the
error is kept in `fatal` and raised out of `run_ready` as its owner words it (`stopped`), which
stops SimPy's run. `after_timer` is told before the loop moves the clock and after an alarm rang: its
owner looks for an idle world there.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
from asyncio import events, futures
from collections import deque
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Protocol

import simpy

from sim.code.containment import Refused
from sim.world.internals import simulated_now, warp

# Callbacks run at one simulated instant before the loop calls it a runaway (`while True: await sleep(0)`).
MAX_STEPS_AT_ONE_INSTANT = 1_000_000
# What `asyncio.sleep` schedules: a timer of the code (every other timer is a timeout or the world's own wait).
_SLEEP_CALLBACK = getattr(futures, "_set_result_unless_cancelled")  # noqa: B009 - private to asyncio


class Runaway(BaseException):
    """The code keeps the loop busy without letting time pass, or never ends; the run cannot go on."""


class Contained(Protocol):
    def enter(self) -> None: ...
    def leave(self) -> None: ...


class SimulatedLoop(asyncio.AbstractEventLoop):
    def __init__(
        self,
        env: simpy.Environment,
        *,
        containment: Contained,
        jitter: Callable[[float], float] | None = None,
        stopped: Callable[[BaseException], Exception] = lambda error: RuntimeError(str(error)),
        after_timer: Callable[[], None] = lambda: None,
    ) -> None:
        self._env = env
        self._containment = containment
        self._jitter = jitter
        self._stopped = stopped  # the run's end, as its owner words it, for a fatal error of the code
        self._after_timer = after_timer
        self._ready: deque[asyncio.Handle] = deque()
        self._timers: list[tuple[float, int, asyncio.TimerHandle]] = []  # a heap: (when, order set, handle)
        self._timer_order = itertools.count()
        self._alarms: list[float] = []  # a heap: when the SimPy timeouts left for the loop's timers fire
        self._running = False
        self._instant = -1.0
        self._steps_at_instant = 0
        self.steps = 0  # callbacks run so far (a hung step is one that keeps this still)
        self.in_step = False
        self.fatal: BaseException | None = None
        self.callback_errors: list[tuple[contextvars.Context, BaseException]] = []
        self._closed = False

    # --- the clock and the callbacks ------------------------------------------------------------

    def time(self) -> float:
        return simulated_now(self._env)

    def call_soon(  # type: ignore[override]  # typeshed's TypeVarTuple form
        self, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(  # type: ignore[override]  # typeshed's TypeVarTuple form
        self, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        return self.call_soon(callback, *args, context=context)  # one thread: the simulation's

    def call_later(  # type: ignore[override]  # typeshed's TypeVarTuple form
        self, delay: float, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.TimerHandle:
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(  # type: ignore[override]  # typeshed's TypeVarTuple form
        self, when: float, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.TimerHandle:
        delay = max(0.0, when - self.time())
        if self._jitter is not None and callback is _SLEEP_CALLBACK:
            delay = self._jitter(delay)
        return self._schedule(delay, when, callback, args, context)

    def call_exactly_at(self, when: float, callback: Callable[..., object], *args: Any) -> asyncio.TimerHandle:
        """A wait of the world, not of the code: never jittered."""
        return self._schedule(max(0.0, when - self.time()), when, callback, args, None)

    def _schedule(
        self,
        delay: float,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        context: contextvars.Context | None,
    ) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(when, callback, args, self, context)
        heapq.heappush(self._timers, (self.time() + delay, next(self._timer_order), handle))
        if not self._running:
            self._set_alarm()
        return handle

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        pass  # it stays on the heap, and is dropped when it comes up

    def alarms_pending(self) -> int:
        """SimPy timeouts the loop has left for its timers and that have not fired yet."""
        return len(self._alarms)

    def _set_alarm(self) -> None:
        """Make sure a SimPy timeout fires when the earliest timer is due (see the module docstring)."""
        timers = self._timers
        while timers and timers[0][2].cancelled():
            heapq.heappop(timers)
        if not timers:
            return
        due = timers[0][0]
        if self._alarms and self._alarms[0] <= due:
            return  # an alarm fires by then
        heapq.heappush(self._alarms, due)
        alarm = self._env.timeout(max(0.0, due - self.time()))
        alarm.callbacks.append(self._ring)

    def _ring(self, _: simpy.Event) -> None:
        heapq.heappop(self._alarms)
        self.run_ready()
        self._after_timer()

    def _take_due_timers(self) -> bool:
        """Queue the timers due now; or, when the earliest is due before SimPy's next event, move the
        clock to it and queue those. False when the next timer must wait for SimPy (or there is none)."""
        timers = self._timers
        while timers and timers[0][2].cancelled():
            heapq.heappop(timers)
        if not timers:
            return False
        due = timers[0][0]
        now = self.time()
        if due > now:
            if not due < self._env.peek():
                return False
            self._after_timer()  # the world may be idle: its owner cancels what is left before time moves
            if self.fatal is not None or not timers or timers[0][0] != due or timers[0][2].cancelled():
                return self.fatal is None and bool(self._ready)
            warp(self._env, due)
        while timers and timers[0][0] <= due:
            handle = heapq.heappop(timers)[2]
            if not handle.cancelled():
                self._ready.append(handle)
        return True

    def run_ready(self) -> None:
        """Run every queued callback, and those they queue, at the current instant (see the module docstring)."""
        if self._running:
            return  # called from inside a callback: the loop below will get to it
        self._running = True
        previous = events._get_running_loop()
        events._set_running_loop(self)
        self._containment.enter()
        try:
            self._run_queue()
            while self.fatal is None and self._take_due_timers():
                self._run_queue()
        finally:
            self._containment.leave()
            events._set_running_loop(previous)
            self._running = False
        if self.fatal is None:
            self._set_alarm()
        if self.fatal is not None:
            raise self._stopped(self.fatal) from None

    def _run_queue(self) -> None:
        ready = self._ready
        now = self.time()
        if now != self._instant:
            self._instant, self._steps_at_instant = now, 0
        while ready and self.fatal is None:
            handle = ready.popleft()
            if handle.cancelled():
                continue
            self._steps_at_instant += 1
            if self._steps_at_instant > MAX_STEPS_AT_ONE_INSTANT:
                self.fatal = Runaway(
                    f"{MAX_STEPS_AT_ONE_INSTANT:,} callbacks at one simulated instant ({now:g} s) without "
                    "letting time pass (a loop of `await asyncio.sleep(0)`?)"
                )
                self.fatal.context = getattr(handle, "_context", None)  # type: ignore[attr-defined]
                return
            self.steps += 1
            self.in_step = True
            try:
                handle._run()
            except SystemExit as error:  # asyncio re-raises it past every handler: sys.exit() in the team's code
                self.in_step = False
                self._stop_with(error, getattr(handle, "_context", None) or contextvars.copy_context())
                return
            self.in_step = False

    # --- tasks and futures ------------------------------------------------------------------------

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(
        self,
        coro: Coroutine[Any, Any, Any] | Any,
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        context = contextvars.copy_context() if context is None else context
        task = asyncio.Task(coro, loop=self, name=name, context=context)
        task.add_done_callback(partial(self._task_done, context))
        return task

    def _task_done(self, context: contextvars.Context, task: asyncio.Task[Any]) -> None:
        """A task that ended in an error the code must not swallow (`Refused`, `Runaway`) ends the run."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, Exception):
            self._stop_with(error, context)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if error is None:
            return
        handle = context.get("handle")
        where = getattr(handle, "_context", None) or contextvars.copy_context()
        if not isinstance(error, Exception):
            self._stop_with(error, where)
        elif "future" not in context:  # a task's unretrieved error is counted by whoever owns the task
            self.callback_errors.append((where, error))

    def _stop_with(self, error: BaseException, context: contextvars.Context) -> None:
        if self.fatal is None:
            if not hasattr(error, "context"):
                error.context = context  # type: ignore[attr-defined]
            self.fatal = error

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.call_exception_handler(context)

    def get_exception_handler(self) -> None:
        return None

    def set_exception_handler(self, handler: Any) -> None:
        raise Refused("loop.set_exception_handler: the simulation keeps its own")

    # --- state ------------------------------------------------------------------------------------

    def get_debug(self) -> bool:
        return False

    def set_debug(self, enabled: bool) -> None:
        pass

    def is_running(self) -> bool:
        return True  # the simulation runs it for the whole run

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def stop(self) -> None:
        raise Refused("loop.stop(): the simulation ends the loop when the run ends")

    def run_forever(self) -> None:
        raise Refused("loop.run_forever(): the simulation runs the loop")

    def run_until_complete(self, future: Any) -> Any:
        raise Refused("loop.run_until_complete(): the simulation runs the loop")

    async def shutdown_asyncgens(self) -> None:
        pass

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        pass

    # --- what a simulation cannot do -------------------------------------------------------------

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        raise Refused(f"loop.run_in_executor({getattr(func, '__name__', func)!r}) would run on a real thread")

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        raise Refused(f"getaddrinfo({host!r}, {port!r}) would reach the real network: use ctx.redis and ctx.call")

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        target = kwargs.get("host", args[1] if len(args) > 1 else "")
        raise Refused(f"create_connection({target!r}) would open a real socket: use ctx.redis and ctx.call")

    async def create_unix_connection(self, *args: Any, **kwargs: Any) -> Any:
        raise Refused("create_unix_connection would open a real socket: use ctx.redis and ctx.call")

    async def create_datagram_endpoint(self, *args: Any, **kwargs: Any) -> Any:
        raise Refused("create_datagram_endpoint would open a real socket")

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:
        raise Refused("create_server would open a real socket")

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:  # type: ignore[override]
        raise Refused("add_signal_handler: a simulated run has no signals")
