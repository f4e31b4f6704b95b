"""Shared test helpers: where the repository and its bundled scenarios are, `sim` run as a user
runs it, scenario files written from inline text, and a hand-cranked clock driving fakeredis and
the blocking driver."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from sim.sut.blocking import BlockingDriver
from sim.world import fakeredis_clock

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED = sorted(SCENARIOS.glob("*.toml"))
MAGNA = str(SCENARIOS / "magna.toml")
PEAK_HOUR = str(SCENARIOS / "peak-hour.toml")


def sim_process(
    *args: object, cwd: Path = ROOT, env: dict[str, str] | None = None, text: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[Any]:
    """`python -m sim ARGS` in a fresh interpreter, as a user or CI job runs it.

    PYTHONPATH names this checkout, so the child runs the code under test from any `cwd`
    (an installed `sim` may point at another checkout). `env` adds variables to the caller's.
    """
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "sim", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=text, cwd=cwd, env=child_env, timeout=timeout)


def write_scenario(folder: Path, text: str, name: str = "s.toml") -> Path:
    """A scenario file from inline (indented) TOML text."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


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
