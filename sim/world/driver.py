"""Run system-under-test steps on SimPy's clock against the fake Redis server.

`SimDriver.run(step)` is a SimPy process body: it answers each effect the
step yields. A Redis command is executed when issued and its reply arrives
one round-trip time later; sleeps are SimPy timeouts; `Now` is `env.now`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis
import simpy

from sim.sut.effects import Command, Log, Now, Script, Sleep, Step


class SimDriver:
    def __init__(self, env: simpy.Environment, client: redis.Redis, rtt: float, trace: list[str] | None = None):
        self.env = env
        self.client = client
        self.rtt = rtt
        self.trace = trace
        self.commands_per_second: Counter[int] = Counter()  # the polling load over time
        self._scripts: dict[str, Any] = {}

    def run(self, step: Step, label: str = "") -> Any:
        """Drive `step` to completion; returns (its result, Redis commands it sent)."""
        env, rtt = self.env, self.rtt
        reply: Any = None
        error: BaseException | None = None
        commands = 0
        while True:
            try:
                effect = step.throw(error) if error is not None else step.send(reply)
            except StopIteration as stop:
                return stop.value, commands
            reply, error = None, None
            kind = type(effect)
            if kind is Now:
                reply = env.now
            elif kind is Command or kind is Script:
                commands += 1
                self.commands_per_second[int(env.now)] += 1
                try:
                    reply = self._execute(effect)
                except redis.RedisError as exc:
                    error = exc
                if rtt > 0:
                    yield env.timeout(rtt)
            elif kind is Sleep:
                if effect.seconds > 0:
                    yield env.timeout(effect.seconds)
            elif kind is Log:
                if self.trace is not None:
                    self.trace.append(f"{_clock(env.now)} {label} {effect.message}")
            else:
                raise TypeError(f"unknown effect {effect!r}")

    def _execute(self, effect: Command | Script) -> Any:
        if type(effect) is Command:
            return self.client.execute_command(*effect.args)
        script = self._scripts.get(effect.source)
        if script is None:
            script = self._scripts[effect.source] = self.client.register_script(effect.source)
        return script(keys=effect.keys, args=effect.args)


def _clock(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"
