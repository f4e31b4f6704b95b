"""What the system under test can ask its driver to do.

Each effect is a small frozen value; a driver answers it by sending the result
back into the generator (or throwing the error it raised, e.g. a
`redis.exceptions.ConnectionError`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Command:
    """Send one Redis command; the result is what redis-py would return."""

    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Script:
    """Run a Lua script (EVALSHA, loading it on NOSCRIPT); the result is its reply."""

    source: str
    keys: tuple[Any, ...]
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds (simulated or real, the code never knows which)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Now:
    """Ask for the current monotonic time in seconds."""


@dataclass(frozen=True, slots=True)
class Log:
    """Emit a production log line; the driver stamps it with its clock."""

    message: str


NOW = Now()

# A step of system-under-test code: yields effects, returns a value of type T.
Step = Generator[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class BlockingPop:
    """BLPOP one list: the popped value, or None after `timeout` seconds with nothing pushed."""

    key: str
    timeout: float


@dataclass(frozen=True, slots=True)
class Spawn:
    """Run another step concurrently (a background thread in production); nothing is returned."""

    step: Any


class StopSignal:
    """Tells a spawned step to finish. Set and read it only through the `Stop` and
    `Stopped` effects, so that a driver running ahead of its clock catches up first."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False


@dataclass(frozen=True, slots=True)
class Stop:
    """Set a StopSignal now."""

    signal: StopSignal


@dataclass(frozen=True, slots=True)
class Stopped:
    """Whether a StopSignal is set now."""

    signal: StopSignal
