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
- after a command succeeded (or a script failed part-way, keeping what it wrote), call
  `executed(args, reply)` with the command as it was sent (`("SET", key, value, "NX", …)` or the
  wire's fields; a script as `("EVAL", source, numkeys, *keys, *args)` or `("EVALSHA", sha, …)`),
  and its reply when known: a command that cannot write (per the command table's flags, `COMMAND
  INFO`) is ignored, and so is a `SET`/`LPOP`/`RPOP` whose nil reply says it changed nothing (an
  engine that does not know the reply leaves it out: replaying such a no-op changes nothing). A
  transaction is told as its commands, when EXEC runs them;
- answer `WAIT count timeout` from `wait(count, timeout)` — fakeredis has no WAIT: the engine
  intercepts it — which says when it returns and what it replies;
- `primary` is the server clients talk to, always the same object: a promotion moves the promoted
  replica's data into it (as a Sentinel-aware client finds the new primary behind the same name).
The failover itself (`fail`, `promote`) and a restart (`flush`) are driven by `sim.world.faults`.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import fakeredis
import redis

from sim.world import internals
from sim.world.executors import DirectExecutor, Executor

SCRIPTS = frozenset({"eval", "evalsha", "fcall"})  # may write whatever their flags say (EVAL_RO and FCALL_RO do not)
NIL_CHANGED_NOTHING = frozenset({"set", "lpop", "rpop"})  # a nil reply: nothing set, nothing popped
UNKNOWN: Any = object()  # `executed`'s reply when the engine does not know it
LOG_LIMIT = 4096  # logged writes before the replicas catch up with the present and the log is trimmed


class Kind(enum.Enum):
    """What a command is to the replication, by its name."""

    READS = "reads"  # never changes data: not replicated
    WRITES = "writes"  # may change data (the command table's `write` flag, or a script)
    NIL_IS_NOOP = "nil is a no-op"  # writes, unless its nil reply says it changed nothing (SET, LPOP, RPOP)
    EVALSHA = "evalsha"  # a script named by its digest: replicated as EVAL of its source
    CONTAINER = "container"  # SCRIPT, FUNCTION, CONFIG…: the subcommand decides


class CommandKinds:
    """Each command's `Kind`, from the command table's own flags (`COMMAND INFO`), learnt once per name."""

    def __init__(self) -> None:
        self._client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), retry=None)
        self._known: dict[Any, Kind] = {}  # the first word, as sent

    def __call__(self, first: Any) -> Kind:
        kind = self._known.get(first)
        if kind is None:
            kind = self._known[first] = self._learn(_word(first))
        return kind

    def subcommand_writes(self, args: Sequence[Any]) -> bool:
        return len(args) > 1 and self._learn(f"{_word(args[0])} {_word(args[1])}") is Kind.WRITES

    def _learn(self, name: str) -> Kind:
        if name == "evalsha":
            return Kind.EVALSHA
        if name in SCRIPTS:
            return Kind.WRITES
        if name in NIL_CHANGED_NOTHING:
            return Kind.NIL_IS_NOOP
        try:
            info = self._client.execute_command("COMMAND", "INFO", name)  # type: ignore[no-untyped-call]
        except (redis.RedisError, TypeError):  # an unknown name: it fails on the primary, writing nothing
            return Kind.READS
        found = info.get(name) if isinstance(info, dict) else None
        if not found:
            return Kind.READS
        if found.get("subcommands") and " " not in name:
            return Kind.CONTAINER
        return Kind.WRITES if "write" in found.get("flags", ()) else Kind.READS


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
        self._kinds = CommandKinds()
        self._log: list[tuple[float, tuple[Any, ...]]] = []  # (when the primary executed it, the command)
        self._base = 0  # the offset of `_log[0]`
        self.offset = 0  # writes the primary has executed (since the last promotion kept what it kept)

    # -- the hook ------------------------------------------------------------------------------

    def executed(self, args: Sequence[Any], reply: Any = UNKNOWN) -> None:
        """The primary has executed `args` (see the module docstring); each replica will apply it after its lag."""
        kind = self._kinds(args[0])
        if kind is Kind.READS:
            return
        if kind is Kind.NIL_IS_NOOP and reply is None and not _has_get(args):
            return  # a refused SET NX (most lock polls), a pop of an empty list
        if kind is Kind.CONTAINER and not self._kinds.subcommand_writes(args):
            return
        command = tuple(args)
        if kind is Kind.EVALSHA:
            command = ("EVAL", internals.cached_script(self.primary, _bytes(command[1])), *command[2:])
        now = self._clock()
        self._log.append((now, command))
        self.offset += 1
        for replica in self.replicas:
            replica.last = max(replica.last, now + self._lag())
            replica.due.append(replica.last)
        if len(self._log) > LOG_LIMIT:
            self._catch_up(now)

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
        reply = self.inner.command(args)  # an error raised here changed nothing (or nothing was reached)
        self.replication.executed(args, reply)
        return reply

    def script(self, source: str, keys: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        sent = ("EVAL", source, len(keys), *keys, *args)
        try:
            reply = self.inner.script(source, keys, args)
        except redis.ResponseError:
            self.replication.executed(sent)  # it failed part-way: what it wrote stays, and is replicated
            raise
        self.replication.executed(sent, reply)
        return reply


def _has_get(args: Sequence[Any]) -> bool:
    """`SET … GET` replies with the old value, nil for a new key, and still writes. (A lock poll asks this of
    every refused attempt: plain loops, no lower-casing of every option.)"""
    for option in args[3:]:
        if type(option) is str:
            if len(option) == 3 and option.upper() == "GET":
                return True
        elif type(option) is bytes and len(option) == 3 and option.upper() == b"GET":
            return True
    return False


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
