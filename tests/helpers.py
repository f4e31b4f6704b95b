"""Shared test fixtures: a hand-cranked clock driving fakeredis and the blocking driver."""

from __future__ import annotations

from typing import Any

from sim.sut.blocking import BlockingDriver
from sim.world import fakeredis_clock


class ManualClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Harness:
    """The production (blocking) driver on a manual clock, over a clocked fake server."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.server = fakeredis_clock.clocked_server(self.clock)
        self.redis = fakeredis_clock.client(self.server)
        self.logs: list[str] = []
        self.driver = BlockingDriver(self.redis, clock=self.clock, sleep=self.clock.sleep, log=self.logs.append)

    def run(self, step: Any) -> Any:
        return self.driver.run(step)
