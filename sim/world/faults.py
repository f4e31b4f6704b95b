"""The Redis faults on simulated time: the fake server unavailable or restarted in its window.

What the services ask of the faults (CRM errors, stalls) is `sim.run.faults`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import fakeredis
import simpy

from sim.run.faults import FaultSchedule
from sim.scenario.model import RedisDown, RedisRestart
from sim.world import internals


def install(
    faults: FaultSchedule,
    env: simpy.Environment,
    server: fakeredis.FakeServer,
    disconnect: Callable[[], None] = lambda: None,
) -> None:
    """Start the Redis faults; `disconnect` breaks the connections of clients blocked in BLPOP."""
    for fault in faults.faults:
        if isinstance(fault, RedisDown):
            env.process(_redis_down(env, server, fault, disconnect))
        elif isinstance(fault, RedisRestart):
            env.process(_redis_restart(env, server, fault, disconnect))


Disconnect = Callable[[], None]
Process = Generator[simpy.Event, object, None]  # a SimPy process: yields events, returns nothing


def _redis_down(
    env: simpy.Environment, server: fakeredis.FakeServer, fault: RedisDown, disconnect: Disconnect
) -> Process:
    """Every command is refused (ConnectionError) inside the window; blocked clients are cut off."""
    yield env.timeout(fault.start)
    server.connected = False
    disconnect()
    yield env.timeout(fault.duration)
    server.connected = True


def _redis_restart(
    env: simpy.Environment, server: fakeredis.FakeServer, fault: RedisRestart, disconnect: Disconnect
) -> Process:
    """A restart without persistence: every key (cache entries and locks) and every loaded script is gone,
    and every blocked client's connection breaks."""
    yield env.timeout(fault.start)
    internals.flush(server)
    disconnect()
