"""Run system-under-test steps for real: a redis-py client, the wall clock, real sleeps.

This is how the production chatbot would call the lock, cache and handler,
and how `sim live` drives them against a real Redis server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis

from sim.sut.effects import (
    BlockingPop,
    Command,
    Effect,
    Log,
    Now,
    Script,
    Sleep,
    Spawn,
    Step,
    Stop,
    Stopped,
    Sync,
    T,
    WaitReplicas,
    not_an_effect,
)

logger = logging.getLogger("sim.sut")

# Redis reads a BLPOP timeout under a millisecond as 0, which means "wait forever".
MIN_BLOCK = 0.001


class ErrorTally:
    """Redis errors thrown into steps, by error class; shared by the drivers of many threads."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._guard = threading.Lock()

    def add(self, error: BaseException) -> None:
        with self._guard:
            self._counts[type(error).__name__] += 1

    def counts(self) -> dict[str, int]:
        with self._guard:
            return dict(self._counts)


class BlockingDriver:
    def __init__(
        self,
        client: redis.Redis,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = logger.info,
        errors: ErrorTally | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.log = log
        self.commands = 0  # Redis round trips sent, scripts included
        self.errors = ErrorTally() if errors is None else errors  # what Redis answered with errors
        self._scripts: dict[str, Any] = {}

    def run(self, step: Step[T]) -> T:
        """Carry out every effect of `step` and return its result."""
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = step.throw(error) if error else step.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]  # a Step[T] stops with a T
            reply, error = None, None
            try:
                reply = self._do(effect, step)
            except redis.RedisError as exc:
                self.errors.add(exc)
                error = exc

    def _do(self, effect: Effect, step: Step[object]) -> Any:
        match effect:
            case Command(args):
                self.commands += 1
                return self.client.execute_command(*args)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            case Script(source, keys, args):
                self.commands += 1
                return self._script(source)(keys=list(keys), args=list(args))
            case Sleep(seconds):
                return self.sleep(seconds)
            case Now():
                return self.clock()
            case Log(message):
                return self.log(message)
            case BlockingPop(key, timeout):
                self.commands += 1
                popped = self.client.blpop([key], timeout=max(MIN_BLOCK, timeout))
                return None if popped is None else popped[1]
            case WaitReplicas(count, timeout):
                self.commands += 1
                return self.client.wait(count, max(1, round(timeout * 1000)) if timeout > 0 else 0)  # 0: no limit
            case Stop(signal):
                signal.stopped = True
                return None
            case Stopped(signal):
                return signal.stopped
            case Sync():
                return None  # the wall clock is never behind
            case Spawn(spawned):
                helper = BlockingDriver(self.client, self.clock, self.sleep, self.log, self.errors)
                return threading.Thread(target=helper.run, args=(spawned,), daemon=True).start()
            case _:
                raise not_an_effect(step, effect)

    def _script(self, source: str) -> Any:
        if source not in self._scripts:
            self._scripts[source] = self.client.register_script(source)
        return self._scripts[source]
