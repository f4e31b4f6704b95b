"""Redis replication and failover on simulated time: a primary, its asynchronous replicas, a promotion.

Replication is a property of the simulated Redis, not of any client. Every write the primary
executes — whoever sent it: the lock, the cache, a debounce list, a Lua script — is applied by
each replica after a lag drawn for it (`[redis]replication_lag`), in the primary's order (a
replica never applies a write before an earlier one). When the primary dies (`fail`), a write a
replica had not applied by then never reaches it; at the promotion (`promote`) the most
up-to-date replica becomes the primary and everything it had not received is gone. Locks, queues,
grants, cache entries follow from that, with no special case; so does the script cache, which
Redis does not replicate: a promoted replica starts without loaded scripts (Redis docs, "NOSCRIPT
error"), and each client's next EVALSHA reloads its script.

How a replica applies a write: it replays the command the primary executed (a script as EVAL of
its source), with its clock set to the instant the primary executed it. Replayed in order on the
same state at the same instant, a command has the same effect as on the primary — a `SET … NX`
refused there is refused here, a relative TTL becomes the same absolute expiry — which is what
Redis 7 ships (a script's effects, expiries as absolute times). Commands whose effect is random
(SPOP, a script calling math.random) would diverge; the system under test sends none.

Replicas apply lazily: a write is logged with the instant each replica will have it, and the
replay runs when a replica's state is needed (the primary's death) or the log grows long; the
instants, not the moment of the replay, decide what a replica holds. WAIT needs no replay at all:
when each replica will have applied the primary's writes so far is known when they are logged.

The hook, for every engine that executes commands on `primary` (the executors of
`sim.world.executors`, or an engine that drives fakeredis's own sockets):
- right after each command the primary executed (whatever its reply, an error included), call
  `executed(args)` with the command as it was sent: `("SET", key, value, "NX", …)` or the wire's
  fields; a script as `("EVAL", source, numkeys, *keys, *args)` or `("EVALSHA", sha, …)`. A command
  is shipped to the replicas only if it changed a key of database 0 (as Redis propagates only a
  command that made its dataset dirty): the primary tells the replication of every change
  (`internals.on_change`), so a read, a refused `SET NX` or an empty pop ships nothing. Every
  command must be told, each before the next runs, or its change is taken for the next one's; a
  transaction's commands are told as EXEC runs them;
- answer `WAIT count timeout` from `wait(count, timeout)` — fakeredis has no WAIT: the engine
  intercepts it — which says when it returns and what it replies;
- `primary` is the server clients talk to, always the same object: a promotion moves the promoted
  replica's data into it (as a Sentinel-aware client finds the new primary behind the same name).
The failover itself (`fail`, `promote`) and a restart (`flush`) are driven by `sim.world.faults`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import fakeredis
import redis

from sim.world import internals
from sim.world.executors import DirectExecutor, Executor

LOG_LIMIT = 4096  # logged writes before the replicas catch up with the present and the log is trimmed


def _word(value: Any) -> str:
    return (value.decode() if isinstance(value, bytes) else str(value)).lower()


class _ReplayClock:
    """A replica's clock: the instant the primary executed the write being replayed."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Replica:
    """One replica: its own fake server, and the writes it has still to apply, each with the instant it will."""

    __slots__ = ("applied", "clock", "due", "executor", "last", "number", "server")

    def __init__(self, number: int) -> None:
        self.number = number  # 1, 2, …: promotion breaks ties by it
        self.clock = _ReplayClock()
        self.server = internals.clocked_server(self.clock)
        self.executor = DirectExecutor(self.server)
        self.applied = 0  # offset: writes applied so far
        self.due: deque[float] = deque()  # when it applies each write logged after `applied`, in order
        self.last = -math.inf  # when it applies the latest write logged: later writes come no earlier

    def caught_up_at(self) -> float:
        """When it will have applied every write logged so far (-inf: it has)."""
        return self.due[-1] if self.due else -math.inf


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitPlan:
    """How a `WAIT` ends: at `until` (simulated seconds), replying `acknowledged`."""

    until: float
    acknowledged: int


class Replication:
    """A primary and its replicas; see the module docstring for what it models and the hook engines call."""

    def __init__(
        self, primary: fakeredis.FakeServer, replicas: int, lag: Callable[[], float], clock: internals.Clock
    ) -> None:
        internals.self_check()
        self.primary = primary
        self.replicas = [Replica(n) for n in range(1, replicas + 1)]
        self.epoch = 0  # promotions so far: the failover's configuration epoch
        self._lag = lag
        self._clock = clock
        self._changes = self._seen = 0  # changes to the primary's keys, and how many of them were shipped
        internals.on_change(primary, self._changed)
        self._log: list[tuple[float, tuple[Any, ...]]] = []  # (when the primary executed it, the command)
        self._base = 0  # the offset of `_log[0]`
        self.offset = 0  # writes the primary has executed (since the last promotion kept what it kept)

    # -- the hook ------------------------------------------------------------------------------

    def executed(self, args: Sequence[Any]) -> None:
        """The primary has executed `args` (see the module docstring); if it changed a key, each replica will
        apply it after its lag."""
        if self._changes == self._seen:
            return  # it changed nothing: a read, a refused SET NX (most lock polls), a pop of an empty list
        self._seen = self._changes
        command = tuple(args)
        if _word(command[0]) == "evalsha":
            command = ("EVAL", internals.cached_script(self.primary, _bytes(command[1])), *command[2:])
        now = self._clock()
        self._log.append((now, command))
        self.offset += 1
        for replica in self.replicas:
            replica.last = max(replica.last, now + self._lag())
            replica.due.append(replica.last)
        if len(self._log) > LOG_LIMIT:
            self._catch_up(now)

    def _changed(self) -> None:
        self._changes += 1

    def wait(self, count: int, timeout: float) -> WaitPlan:
        """`WAIT count timeout` sent now: it returns once `count` replicas have applied every write executed so
        far, or after `timeout` seconds (0: no limit), replying how many had; `count` 0 replies at once."""
        now = self._clock()
        acks = sorted(replica.caught_up_at() for replica in self.replicas)
        if count <= 0:
            reach = now
        elif count <= len(acks):
            reach = max(now, acks[count - 1])
        else:
            reach = math.inf
        until = min(reach, now + timeout if timeout > 0 else math.inf)
        return WaitPlan(until=until, acknowledged=sum(1 for at in acks if at <= until))

    # -- the failover and the restart ---------------------------------------------------------

    def fail(self) -> None:
        """The primary dies now: each replica keeps the writes it applied by now; the rest never reach it."""
        now = self._clock()
        for replica in self.replicas:
            self._apply(replica, now)
            replica.due.clear()
            replica.last = now

    def promote(self) -> int:
        """The most up-to-date replica (fewest writes missing; the lowest number on a tie) becomes the primary:
        its data moves into `primary`, whose script cache starts empty; the writes it lacks are gone. The other
        replicas replicate from it, each write they lack after a lag. Returns the new epoch."""
        if not self.replicas:
            raise RuntimeError("no replica left to promote")
        chosen = max(self.replicas, key=lambda r: (r.applied, -r.number))
        self.replicas.remove(chosen)
        internals.move_keyspace(chosen.server, self.primary)
        del self._log[chosen.applied - self._base :]  # what no replica received is lost
        self.offset = chosen.applied
        now = self._clock()
        for replica in self.replicas:
            replica.last = now
            for _ in range(replica.applied, self.offset):
                replica.last = max(replica.last, now + self._lag())
                replica.due.append(replica.last)
        self.epoch += 1
        return self.epoch

    def flush(self) -> None:
        """The primary restarted empty (no persistence): its replicas resynchronise to an empty dataset."""
        for replica in self.replicas:
            internals.flush(replica.server)
            replica.due.clear()
            replica.applied = self.offset
        self._log.clear()
        self._base = self.offset
        self._seen = self._changes  # the flush's own deletions are no write to ship

    # -- replaying -----------------------------------------------------------------------------

    def settle(self) -> None:
        """Every replica applies what it has received by now (for a look at its state: tests, the failover)."""
        self._catch_up(self._clock())

    def _catch_up(self, now: float) -> None:
        for replica in self.replicas:
            self._apply(replica, now)
        oldest = min((replica.applied for replica in self.replicas), default=self.offset)
        del self._log[: oldest - self._base]
        self._base = oldest

    def _apply(self, replica: Replica, until: float) -> None:
        """Replay, in order, the writes `replica` applies by `until`, each at the instant the primary ran it."""
        due, log, base = replica.due, self._log, self._base
        while due and due[0] <= until:
            replica.clock.now, command = log[replica.applied - base]
            try:
                replica.executor.command(command)
            except redis.ResponseError:
                pass  # it failed on the primary too, after the same partial effects (a script's error)
            replica.applied += 1
            due.popleft()


class Replicated:
    """An executor (`sim.world.executors`) whose commands the replication is told of, as the hook asks:
    a write reaches the replicas whichever path sent it."""

    __slots__ = ("inner", "replication")

    def __init__(self, inner: Executor, replication: Replication) -> None:
        self.inner = inner
        self.replication = replication

    def command(self, args: tuple[Any, ...]) -> Any:
        try:
            return self.inner.command(args)
        finally:
            self.replication.executed(args)  # an error changed nothing, or what a script wrote before it

    def script(self, source: str, keys: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        try:
            return self.inner.script(source, keys, args)
        finally:
            self.replication.executed(("EVAL", source, len(keys), *keys, *args))


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
