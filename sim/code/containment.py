"""What a team's code sees of the world while it runs in a simulation: the run's clock and entropy.

A handler is unmodified production code. It reads clocks (`time.monotonic()`, `time.time()`,
`datetime.now()`), draws randomness (`random`, `uuid.uuid4()`, `secrets`, `os.urandom`) and might
open sockets. In a simulation each of these must come from the run, or the run would depend on the
wall clock and the machine:

- clocks read the simulated clock (`Clock`): `time.time`/`time_ns` (the run's epoch + simulated
  seconds), `time.monotonic`/`perf_counter` and their `_ns` forms (simulated seconds), `time.localtime`,
  `gmtime`, `ctime`, `asctime`, `strftime` without an explicit time (local time is UTC in a
  simulation, whatever the machine's zone); `datetime.now()` and `date.today()` through `sim.code.loader`;
- entropy comes from the run's seeded generator: `os.urandom`, `os.getrandom`, `random.SystemRandom`
  and so `secrets`, `uuid.uuid4` and `uuid.uuid1`, and `random.Random()` seeded without a seed;
  the `random` module's shared generator is seeded per run and restored after it;
- `time.sleep` would block the whole event loop: it is refused (`Refused`), as are real sockets
  (`socket.socket.connect`, `create_connection`, `getaddrinfo`).

The patches are installed once per process and stay; each patched function checks whether the
calling thread is running a contained step (`Containment.enter`) and otherwise calls the original,
so the rest of the process (progress bars, Dask's threads) is untouched. A process runs one contained
run at a time (`RUN_LOCK`): the `random` module's generator is shared by its threads.
"""

from __future__ import annotations

import calendar
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RUN_LOCK = threading.Lock()


class Refused(BaseException):
    """The handler did something a simulation cannot run (a blocking sleep, a real socket).

    A BaseException, like KeyboardInterrupt: a handler's `except Exception` must not swallow it,
    because the run cannot go on truthfully; it ends with one line naming the handler's line."""


@dataclass(frozen=True, slots=True)
class Clock:
    """The simulated clock as the code reads it: `now()` in simulated seconds, from `epoch` (Unix time)."""

    now: Callable[[], float]
    epoch: float


class Containment:
    """One run's clock and entropy, active in the threads that `enter` it (see the module docstring)."""

    def __init__(self, clock: Clock, seed: int) -> None:
        self.clock = clock
        self.entropy = random.Random(seed)  # os.urandom and everything built on it
        self._shared_state: Any = None  # the `random` module's state before the run
        self._seed = seed
        self._depth = 0
        self._thread = 0

    def start(self) -> None:
        """Begin the run: take the process's run lock, seed the shared `random` generator."""
        install()
        RUN_LOCK.acquire()
        self._shared_state = random.getstate()
        random.seed(self._seed)

    def finish(self) -> None:
        """End the run: give the shared generator its state back, release the run lock."""
        random.setstate(self._shared_state)
        RUN_LOCK.release()

    def enter(self) -> None:
        """The calling thread runs contained code until the matching `leave` (calls nest)."""
        global _ACTIVE
        if self._depth == 0:
            self._thread = threading.get_ident()
            _ACTIVE = self
        self._depth += 1

    def leave(self) -> None:
        global _ACTIVE
        self._depth -= 1
        if self._depth == 0:
            _ACTIVE = None

    def urandom(self, n: int) -> bytes:
        return self.entropy.randbytes(n)


_ACTIVE: Containment | None = None
_REAL: dict[str, Callable[..., Any]] = {}


def active() -> Containment | None:
    """The containment of the calling thread's run, or None outside one."""
    run = _ACTIVE
    return run if run is not None and run._thread == threading.get_ident() else None


def install() -> None:
    """Patch the process once (idempotent); see the module docstring."""
    if _REAL:
        return
    _patch(time, "time", lambda run: run.clock.epoch + run.clock.now())
    _patch(time, "time_ns", lambda run: round((run.clock.epoch + run.clock.now()) * 1e9))
    for name in ("monotonic", "perf_counter"):
        _patch(time, name, lambda run: run.clock.now())
        _patch(time, f"{name}_ns", lambda run: round(run.clock.now() * 1e9))
    _patch_time_of_day()
    _patch_entropy()
    _patch_refusals()


def _patch(module: Any, name: str, contained: Callable[[Containment], Any]) -> None:
    """`module.name()` answers `contained(run)` in a contained thread, the original elsewhere."""
    real = getattr(module, name)
    _REAL[f"{module.__name__}.{name}"] = real

    def patched(*args: Any, **kwargs: Any) -> Any:
        run = active()
        return real(*args, **kwargs) if run is None else contained(run)

    patched.__name__ = patched.__qualname__ = name
    patched.__doc__ = real.__doc__
    setattr(module, name, patched)


def _patch_time_of_day() -> None:
    """Functions that read the current time when given none: the simulated one, as UTC."""
    gmtime, strftime = time.gmtime, time.strftime

    def now_tuple(run: Containment) -> time.struct_time:
        return gmtime(run.clock.epoch + run.clock.now())

    for name, convert in (("gmtime", gmtime), ("localtime", gmtime)):
        _with_optional_time(name, convert, now_tuple)
    _with_optional_time("ctime", lambda secs: time.asctime(gmtime(secs)), lambda run: time.asctime(now_tuple(run)))
    _with_optional_time("asctime", time.asctime, lambda run: time.asctime(now_tuple(run)), real_arg=True)
    real_strftime = strftime
    _REAL["time.strftime"] = real_strftime

    def patched_strftime(format: str, t: Any = None) -> str:
        run = active()
        if t is not None:
            return real_strftime(format, t)
        return real_strftime(format) if run is None else real_strftime(format, now_tuple(run))

    time.strftime = patched_strftime
    time.mktime = _mktime_utc(time.mktime)


def _with_optional_time(
    name: str, convert: Callable[[Any], Any], now: Callable[[Containment], Any], *, real_arg: bool = False
) -> None:
    """`time.name(x=None)`: with an argument, as in a contained run (`convert`, UTC); without, `now(run)`."""
    real = getattr(time, name)
    _REAL[f"time.{name}"] = real

    def patched(arg: Any = None) -> Any:
        run = active()
        if run is None:
            return real() if arg is None else real(arg)
        if arg is None:
            return now(run)
        return real(arg) if real_arg else convert(arg)

    patched.__name__ = name
    setattr(time, name, patched)


def _mktime_utc(real: Callable[[Any], float]) -> Callable[[Any], float]:
    """`mktime` inverts `localtime`: in a run local time is UTC, so it is `calendar.timegm`."""

    def mktime(t: Any) -> float:
        return real(t) if active() is None else float(calendar.timegm(t))

    return mktime


def _patch_entropy() -> None:
    def urandom(run: Containment, n: int) -> bytes:
        return run.urandom(n)

    for module, name in ((os, "urandom"), (random, "_urandom")):
        real = getattr(module, name)
        _REAL[f"{module.__name__}.{name}"] = real
        setattr(module, name, _entropy(real, urandom))
    if hasattr(os, "getrandom"):
        real_getrandom = os.getrandom
        _REAL["os.getrandom"] = real_getrandom

        def getrandom(size: int, flags: int = 0) -> bytes:
            run = active()
            return real_getrandom(size, flags) if run is None else run.urandom(size)

        os.getrandom = getrandom
    _patch_unseeded_random()
    _patch_uuid1()


def _entropy(real: Callable[[int], bytes], contained: Callable[[Containment, int], bytes]) -> Callable[[int], bytes]:
    def patched(n: int) -> bytes:
        run = active()
        return real(n) if run is None else contained(run, n)

    patched.__name__ = getattr(real, "__name__", "urandom")
    return patched


def _patch_unseeded_random() -> None:
    """`random.Random()` (or `.seed()`) without a seed reads the OS's entropy in C: give it the run's."""
    real_seed = random.Random.seed
    _REAL["random.Random.seed"] = real_seed

    def seed(self: random.Random, a: Any = None, version: int = 2) -> None:
        run = active()
        if a is None and run is not None:
            a = run.entropy.getrandbits(128)
        real_seed(self, a, version)

    random.Random.seed = seed  # type: ignore[method-assign]


def _patch_uuid1() -> None:
    """uuid1 reads the wall clock and the machine's MAC address: in a run, the run's clock and entropy."""
    real = uuid.uuid1
    _REAL["uuid.uuid1"] = real

    def uuid1(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
        run = active()
        if run is None:
            return real(node, clock_seq)
        ticks = round((run.clock.epoch + run.clock.now()) * 1e7) + 0x01B21DD213814000  # 100 ns since 1582
        node = run.entropy.getrandbits(48) | (1 << 40) if node is None else node  # multicast bit: not a MAC
        clock_seq = run.entropy.getrandbits(14) if clock_seq is None else clock_seq
        fields = (
            ticks & 0xFFFFFFFF,
            (ticks >> 32) & 0xFFFF,
            (ticks >> 48) & 0x0FFF | 0x1000,
            (clock_seq >> 8) & 0x3F | 0x80,
            clock_seq & 0xFF,
            node,
        )
        return uuid.UUID(fields=fields)

    uuid.uuid1 = uuid1


def _patch_refusals() -> None:
    def refuse_sleep(seconds: float) -> None:
        raise Refused(f"time.sleep({seconds!r}) would block the event loop: use `await asyncio.sleep(...)`")

    def refuse_network(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            target = next((a for a in args if isinstance(a, tuple | str)), "")
            raise Refused(f"{what}({target!r}) would reach the real network: use ctx.redis and ctx.call")

        return refused

    def refuse_process(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise Refused(f"{what} would end or signal the simulator's own process (a bot's process would end here)")

        return refused

    def refuse_thread(*args: Any, **kwargs: Any) -> Any:
        raise Refused("threading.Thread.start would run code on a real thread, outside the simulated clock")

    _patch_or_refuse(time, "sleep", refuse_sleep)
    for name in ("_exit", "abort", "kill", "killpg"):
        if hasattr(os, name):
            _patch_or_refuse(os, name, refuse_process(f"os.{name}"))
    _patch_or_refuse(signal, "raise_signal", refuse_process("signal.raise_signal"))
    _patch_or_refuse(threading.Thread, "start", refuse_thread)
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        _patch_or_refuse(socket, name, refuse_network(f"socket.{name}"))
    for name in ("connect", "connect_ex", "sendto"):
        _patch_or_refuse(socket.socket, name, refuse_network(f"socket.{name}"))


def _patch_or_refuse(owner: Any, name: str, refused: Callable[..., Any]) -> None:
    real = getattr(owner, name)
    _REAL[f"{getattr(owner, '__name__', owner)}.{name}"] = real

    def patched(*args: Any, **kwargs: Any) -> Any:
        if active() is None:
            return real(*args, **kwargs)
        # A method's first argument is its socket: not what the refusal should name.
        return refused(*(args[1:] if isinstance(owner, type) else args), **kwargs)

    patched.__name__ = name
    setattr(owner, name, patched)
