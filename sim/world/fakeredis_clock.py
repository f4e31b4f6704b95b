"""fakeredis whose key expiry follows the simulation clock.

fakeredis stamps every database with `time.time()` before each command and
compares key expiry against that stamp. Here each database reads the stamp
from our clock instead, so TTLs run on simulated seconds. This leans on a
private detail of fakeredis (`Database.time`, `FakeServer.dbs`), kept with the
other third-party internals in `sim.world.internals`, whose `self_check` proves
it still holds, once per process: a fakeredis upgrade that breaks it fails
loudly, not silently.
"""

from __future__ import annotations

import fakeredis
import redis

from sim.world import internals
from sim.world.internals import Clock


def clocked_server(clock: Clock) -> fakeredis.FakeServer:
    """A fresh fake Redis server (one per simulation run) on `clock`'s seconds."""
    internals.self_check()
    return internals.clocked_server(clock)


def client(server: fakeredis.FakeServer) -> redis.Redis:
    """A redis-py client of `server`. No retries: a real wait would block the simulation."""
    return fakeredis.FakeRedis(server=server, retry=None)
