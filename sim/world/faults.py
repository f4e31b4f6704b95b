"""The Redis faults on simulated time: the fake server unavailable, restarted, or failed over in its window.

What the services ask of the faults (CRM errors, stalls) is `sim.run.faults`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import fakeredis
import simpy

from sim.core.errors import ScenarioError
from sim.run.faults import FaultSchedule
from sim.scenario.model import Failover, RedisDown, RedisRestart
from sim.world import internals
from sim.world.replication import Replication


def install(
    faults: FaultSchedule,
    env: simpy.Environment,
    server: fakeredis.FakeServer,
    disconnect: Callable[[], None] = lambda: None,
    *,
    replication: Replication | None = None,
    promoted: Callable[[int], None] = lambda epoch: None,
) -> None:
    """Start the Redis faults; `disconnect` breaks the connections of blocked clients (BLPOP, WAIT).

    `replication`: the primary's replicas, which a restart empties too and a failover promotes; `promoted` is
    called with the new epoch once a promoted replica serves as the primary, before any client reaches it."""
    for fault in faults.faults:
        if isinstance(fault, RedisDown):
            env.process(_redis_down(env, server, fault, disconnect))
        elif isinstance(fault, RedisRestart):
            env.process(_redis_restart(env, server, fault, disconnect, replication))
        elif isinstance(fault, Failover):
            if replication is None:
                raise ScenarioError(f"a failover at {fault.start:g} s needs [redis]replicas: there is none to promote")
            env.process(_failover(env, server, fault, disconnect, replication, promoted))


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
    env: simpy.Environment,
    server: fakeredis.FakeServer,
    fault: RedisRestart,
    disconnect: Disconnect,
    replication: Replication | None,
) -> Process:
    """A restart without persistence: every key (cache entries and locks) and every loaded script is gone,
    and every blocked client's connection breaks. Replicas resynchronise with the empty primary: they lose
    everything too (the hazard Redis's replication docs warn about)."""
    yield env.timeout(fault.start)
    internals.flush(server)
    if replication is not None:
        replication.flush()
    disconnect()


def _failover(
    env: simpy.Environment,
    server: fakeredis.FakeServer,
    fault: Failover,
    disconnect: Disconnect,
    replication: Replication,
    promoted: Callable[[int], None],
) -> Process:
    """The primary dies: every command is refused and blocked clients are cut off, and the writes a replica
    had not applied never reach it. After the detection time the most up-to-date replica is promoted
    (`Replication.promote`), the failover publishes its epoch there, and clients reach it again."""
    yield env.timeout(fault.start)
    server.connected = False
    disconnect()
    replication.fail()
    yield env.timeout(fault.detection)
    epoch = replication.promote()
    server.connected = True
    promoted(epoch)
