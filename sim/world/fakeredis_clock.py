"""fakeredis whose key expiry follows the simulation clock.

fakeredis stamps every database with `time.time()` before each command and
compares key expiry against that stamp. Here each database reads the stamp
from our clock instead and ignores fakeredis's write, so TTLs run on
simulated seconds. This leans on a private detail (`Database.time`,
`FakeServer.dbs`); `self_check` proves it still holds and runs once per
process, so a fakeredis upgrade that breaks it fails loudly, not silently.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import fakeredis
import redis
from fakeredis._core._database import Database

Clock = Callable[[], float]


class ClockedDatabase(Database):  # type: ignore[misc]
    """A fakeredis database whose notion of "now" is an injected clock."""

    def __init__(self, lock: Any, clock: Clock) -> None:
        super().__init__(lock)
        self._clock = clock

    @property  # type: ignore[override]
    def time(self) -> float:
        return self._clock()

    @time.setter
    def time(self, _wall_clock: float) -> None:
        pass  # fakeredis writes time.time() here before each command; simulated time wins


class FakeRedisClockError(RuntimeError):
    """The installed fakeredis no longer lets us drive its clock."""


def clocked_server(clock: Clock) -> fakeredis.FakeServer:
    """A fresh fake Redis server (one per simulation run) on `clock`'s seconds."""
    _self_check()
    return _unchecked_server(clock)


def client(server: fakeredis.FakeServer) -> redis.Redis:
    """A redis-py client of `server`. No retries: a real wait would block the simulation."""
    return fakeredis.FakeRedis(server=server, retry=None)


def _unchecked_server(clock: Clock) -> fakeredis.FakeServer:
    server = fakeredis.FakeServer()
    server.dbs = defaultdict(lambda: ClockedDatabase(server.lock, clock))
    return server


@functools.cache
def _self_check() -> None:
    now = [0.0]
    redis_client = client(_unchecked_server(lambda: now[0]))
    redis_client.set("probe", "1", px=1000)
    now[0] = 0.999
    alive = redis_client.get("probe") is not None
    now[0] = 1.001
    expired = redis_client.get("probe") is None
    if not (alive and expired):
        raise FakeRedisClockError(
            f"fakeredis {fakeredis.__version__} no longer follows the simulated clock "
            "(sim/world/fakeredis_clock.py needs updating)"
        )
