"""What the system under test can ask its driver to do.

Each effect is a small frozen value; a driver answers it by sending the result
back into the generator (or throwing the error it raised, e.g. a
`redis.exceptions.ConnectionError`). `Effect` is the closed set of them and
`Step[T]` the type of a piece of system-under-test code that returns a `T`, so
mypy checks both what a step may yield and what it returns.

Every effect class is `@final`: a driver's `type(effect) is Command` test then
also tells mypy that `effect` is no longer a `Command` on the other branch, and
a chain of such tests can end in an exhaustiveness check (`not_an_effect`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Never, TypeAlias, TypeVar, final


@final
@dataclass(frozen=True, slots=True)
class Command:
    """Send one Redis command; the result is what redis-py would return."""

    args: tuple[Any, ...]


@final
@dataclass(frozen=True, slots=True)
class Script:
    """Run a Lua script (EVALSHA, loading it on NOSCRIPT); the result is its reply."""

    source: str
    keys: tuple[Any, ...]
    args: tuple[Any, ...]


@final
@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds (simulated or real, the code never knows which).

    `timer`: a timer the code sets (a retry's backoff, a debounce), which a driver may let end a
    little early or late as real timers do; False: the time something takes (a service call
    modelled by the world), already drawn, waited exactly."""

    seconds: float
    timer: bool = True


@final
@dataclass(frozen=True, slots=True)
class Now:
    """Ask for the current monotonic time in seconds."""


@final
@dataclass(frozen=True, slots=True)
class Log:
    """Emit a production log line; the driver stamps it with its clock."""

    message: str


NOW = Now()


@final
@dataclass(frozen=True, slots=True)
class Sync:
    """Let the world's clock catch up with the step's own before going on: what follows reads or changes
    state that other steps share outside Redis (a store written at the end of an answer). A driver that runs
    a step ahead of its clock (waits taken lazily) waits here; on the wall clock it is nothing."""


SYNC = Sync()


@final
@dataclass(frozen=True, slots=True)
class BlockingPop:
    """BLPOP one list: the popped value, or None after `timeout` seconds with nothing pushed."""

    key: str
    timeout: float


@final
@dataclass(frozen=True, slots=True)
class WaitReplicas:
    """Redis `WAIT count timeout`: block until `count` replicas have acknowledged every write sent before it,
    or `timeout` seconds (0: no limit); the reply is how many replicas did."""

    count: int
    timeout: float


@final
@dataclass(frozen=True, slots=True)
class Spawn:
    """Run another step concurrently (a background thread in production); nothing is returned."""

    step: Step[object]


@final
class StopSignal:
    """Tells a spawned step to finish. Set and read it only through the `Stop` and
    `Stopped` effects, so that a driver running ahead of its clock catches up first."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False


@final
@dataclass(frozen=True, slots=True)
class Stop:
    """Set a StopSignal now."""

    signal: StopSignal


@final
@dataclass(frozen=True, slots=True)
class Stopped:
    """Whether a StopSignal is set now."""

    signal: StopSignal


Effect: TypeAlias = Command | Script | Sleep | Now | Log | BlockingPop | WaitReplicas | Spawn | Stop | Stopped | Sync

T = TypeVar("T")

# A step of system-under-test code: yields effects, is sent their replies, returns a T.
# The reply type is Any because it differs by effect (a Redis reply, a time, None, a bool).
Step: TypeAlias = Generator[Effect, Any, T]


def not_an_effect(step: Generator[object, Any, object], value: Never) -> TypeError:
    """The error for a step that yielded `value`, which is not an `Effect`.

    A driver's dispatch ends with `raise not_an_effect(step, effect)`: like
    `typing.assert_never`, the `Never` parameter makes mypy prove the dispatch
    handles every `Effect`; at run time it names where the step yielded the
    value (as SimPy's `Process._resume` does for a bad yield), following
    `yield from` down to the innermost generator, the one that wrote the yield.
    """
    return TypeError(f"{value!r} is not an effect: yielded at {yield_site(step)}")


def yield_site(step: Generator[object, Any, object]) -> str:
    """`file:line in function` of the yield a suspended generator is paused at."""
    inner: Any = step
    while getattr(inner, "gi_yieldfrom", None) is not None:
        inner = inner.gi_yieldfrom
    frame = getattr(inner, "gi_frame", None)
    if frame is None:  # not a generator, or one that has finished: no frame to name
        return f"{inner!r}"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
