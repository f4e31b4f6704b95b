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

from sim.sut.effects import BlockingPop, Command, Log, Now, Script, Sleep, Spawn, Step, Stop, Stopped

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

    def run(self, step: Step) -> Any:
        """Carry out every effect of `step` and return its result."""
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = step.throw(error) if error else step.send(reply)
            except StopIteration as stop:
                return stop.value
            reply, error = None, None
            try:
                reply = self._do(effect)
            except redis.RedisError as exc:
                self.errors.add(exc)
                error = exc

    def _do(self, effect: Any) -> Any:
        if isinstance(effect, Command):
            self.commands += 1
            return self.client.execute_command(*effect.args)
        if isinstance(effect, Script):
            self.commands += 1
            return self._script(effect.source)(keys=list(effect.keys), args=list(effect.args))
        if isinstance(effect, Sleep):
            return self.sleep(effect.seconds)
        if isinstance(effect, Now):
            return self.clock()
        if isinstance(effect, Log):
            return self.log(effect.message)
        if isinstance(effect, BlockingPop):
            self.commands += 1
            popped = self.client.blpop([effect.key], timeout=max(MIN_BLOCK, effect.timeout))
            return None if popped is None else popped[1]
        if isinstance(effect, Stop):
            effect.signal.stopped = True
            return None
        if isinstance(effect, Stopped):
            return effect.signal.stopped
        if isinstance(effect, Spawn):
            helper = BlockingDriver(self.client, self.clock, self.sleep, self.log, self.errors)
            return threading.Thread(target=helper.run, args=(effect.step,), daemon=True).start()
        raise TypeError(f"unknown effect {effect!r}")

    def _script(self, source: str) -> Any:
        if source not in self._scripts:
            self._scripts[source] = self.client.register_script(source)
        return self._scripts[source]
