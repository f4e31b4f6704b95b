"""Every use of a third-party library's private names, in one place, checked once per process.

Where SimPy's and fakeredis's public APIs have no door, `sim` reaches inside:

- SimPy: the clock (`Environment._now`), read on the driver's hot path without
  the `now` property's cost, the count of scheduled events (`Environment._eid`), and
  the queue of events not yet processed (`Environment._queue`), whose length tells
  a team's code engine when nothing but its own timers can still happen.
- fakeredis: its command table reached through a `FakeSocket` (`_name_to_func`,
  `_run_command`, `_decode_error`, the reply types of `fakeredis._helpers`,
  `extract_command` of `fakeredis._socket._resp`), which the direct executor uses
  to skip redis-py's client and the wire format; the keyspace (`FakeServer.dbs`,
  whose `in` drops an expired key, an item's `expireat`, and `FakeServer.script_cache`),
  read to find keys left behind, cleared by a simulated restart, and moved from a
  promoted replica into the primary (`Database.swap`); a database's change callbacks
  (`Database.add_change_callback`), which tell the replication a write from a command
  that changed nothing; and `Database.time`, which the simulated clock overrides.

Nothing else in `sim` names them. `self_check()` proves that each still exists
and behaves as used here; it runs once per process, before the first
simulation, so an upgrade that breaks one fails at start-up with one line that
names the installed version, not with a wrong number somewhere in a run.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import fakeredis
import redis
import redis.asyncio
import simpy

from sim.core.errors import EnvironmentProblem


class InternalsChanged(EnvironmentProblem):
    """The installed SimPy or fakeredis no longer has an internal that `sim` relies on."""


def _changed(package: str, version: str, what: str, detail: object = "") -> InternalsChanged:
    reason = " ".join(f"{detail}".split())  # one line, whatever the underlying error printed
    return InternalsChanged(
        f"{package} {version} changed {what}, which sim relies on"
        + (f" ({reason})" if reason else "")
        + "; install the version in pyproject.toml or update sim/world/internals.py"
    )


try:
    from fakeredis._core._database import Database
    from fakeredis._helpers import NoResponse, SimpleError, SimpleString
    from fakeredis._msgs import FLAG_TRANSACTION
    from fakeredis._socket._async import AsyncFakeSocket as AsyncFakeSocket  # re-exported: sim.world.redis_wire
    from fakeredis._socket._fakesocket import FakeSocket
    from fakeredis._socket._resp import extract_command
except ImportError as error:  # pragma: no cover - only with an incompatible fakeredis installed
    raise _changed("fakeredis", fakeredis.__version__, "its private modules", error) from None

ErrorReply = SimpleError  # what a fakeredis command returns (or raises) for a Redis error reply
NoReply = NoResponse  # what a fakeredis command returns when its reply comes later (a blocked pop)
StatusReply = SimpleString  # a status reply such as +OK, wrapped; `.value` holds its bytes

Clock = Callable[[], float]


# --- SimPy ------------------------------------------------------------------------------------


def simulated_now(env: simpy.Environment) -> float:
    """`env.now` without the property call: the driver reads it before every wait."""
    return env._now


def warp(env: simpy.Environment, t: float) -> None:
    """Move `env`'s clock forward to `t` between its events: the caller has made sure (`env.peek()`) that
    no event is due before `t`, so SimPy's next step still finds its queue in time order."""
    assert env._now <= t <= env.peek(), "a warp never passes an event nor goes back"
    env._now = t


def scheduled_events(env: simpy.Environment) -> int:
    """How many events are in `env`'s queue now, not yet processed."""
    return len(env._queue)


def events_scheduled(env: simpy.Environment) -> int:
    """How many events `env` has scheduled so far (SimPy numbers each one from a counter).

    Reading the counter draws one number from it: call this once, after the run."""
    return next(env._eid)


# --- fakeredis: the simulated clock -----------------------------------------------------------


class ClockedDatabase(Database):
    """A fakeredis database whose notion of "now" is an injected clock.

    fakeredis stamps every database with `time.time()` before each command and
    compares key expiry against that stamp; this one reads the stamp from the
    clock instead and ignores fakeredis's write, so TTLs run on simulated seconds."""

    def __init__(self, lock: Any, clock: Clock) -> None:
        super().__init__(lock)
        self._clock = clock

    @property
    def time(self) -> float:
        return self._clock()

    @time.setter
    def time(self, _wall_clock: float) -> None:
        pass  # fakeredis writes time.time() here before each command; simulated time wins


def clocked_server(clock: Clock) -> fakeredis.FakeServer:
    """A fresh fake Redis server whose databases expire keys on `clock`'s seconds."""
    server = fakeredis.FakeServer()
    server.dbs = defaultdict(lambda: ClockedDatabase(server.lock, clock))
    return server


def live_keys(server: fakeredis.FakeServer) -> list[bytes]:
    """The keys of database 0 whose TTL has not run out on the server's clock."""
    database = server.dbs[0]
    return [key for key in list(database) if key in database]  # `in` drops a key whose TTL ran out


def on_change(server: fakeredis.FakeServer, callback: Callable[[], None]) -> None:
    """`callback()` after every change to a key of database 0 — written, deleted, its TTL set, flushed — and
    never for a command that changed nothing (fakeredis calls it where it wakes blocked clients)."""
    server.dbs[0].add_change_callback(callback)


def persistent_keys(server: fakeredis.FakeServer) -> list[bytes]:
    """The live keys of database 0 that have no TTL: they stay until something deletes them."""
    database = server.dbs[0]
    return [key for key in list(database) if key in database and database[key].expireat is None]


def cached_script(server: fakeredis.FakeServer, sha: bytes) -> bytes:
    """The source of the script `sha` loaded on `server` (KeyError: none is)."""
    source: bytes = server.script_cache[sha]
    return source


def move_keyspace(source: fakeredis.FakeServer, target: fakeredis.FakeServer) -> None:
    """A replica promoted: `target` (the server clients talk to) now holds `source`'s databases, keys and
    expiries as they are, and no loaded script (a promoted replica's script cache is empty)."""
    with target.lock:
        for number in set(source.dbs) | set(target.dbs):
            target.dbs[number].swap(source.dbs[number])
        target.script_cache.clear()


def flush(server: fakeredis.FakeServer) -> None:
    """What a restart without persistence leaves: no key in any database, no loaded script."""
    with server.lock:
        for database in server.dbs.values():
            database.clear()
        server.script_cache.clear()


# --- fakeredis: the command table, without redis-py ---------------------------------------------


class CommandTable:
    """fakeredis's own command implementations for database 0 of `server`, called directly.

    The attributes are bound methods, so the direct executor calls them as
    cheaply as the private methods themselves (it runs one per Redis command)."""

    def __init__(self, server: fakeredis.FakeServer) -> None:
        socket = FakeSocket(server, db=0, client_class=redis.Redis, lua_modules=None)
        self.version = socket.version  # the Redis version fakeredis emulates
        # (func, signature, arguments, from_script) → the reply, or an ErrorReply
        self.run: Callable[[Any, Any, list[bytes], bool], Any] = socket._run_command
        # ErrorReply → the redis-py exception redis-py would raise for it
        self.error: Callable[[Any], redis.RedisError] = socket._decode_error
        # a command's lower-case name → (func, signature); raises ErrorReply for an unknown command
        self.resolve: Callable[[str], tuple[Any, Any]] = socket._name_to_func
        self.keyspace: Any = server.dbs[0]  # `key in keyspace` is False once the key has expired

    def check_arity(self, signature: Any, arguments: list[bytes]) -> None:
        """Raises ErrorReply when `arguments` do not fit the command's signature."""
        signature.check_arity(arguments, self.version)


def command_name(fields: list[bytes]) -> str:
    """The lower-case command name of an encoded command ("script load" for a subcommand)."""
    name: str = extract_command(fields)[0]
    return name


def command_parts(fields: list[bytes]) -> tuple[str, list[bytes]]:
    """An encoded command's lower-case name ("script load" for a subcommand) and its arguments."""
    name, arguments = extract_command(fields)
    return name, arguments


def is_transaction_command(signature: Any) -> bool:
    """MULTI, EXEC, DISCARD, WATCH, UNWATCH: the commands fakeredis handles apart from a transaction's queue."""
    return FLAG_TRANSACTION in signature.flags


def signature_name(signature: Any) -> str:
    """The name a command signature was registered under ("script load" for a subcommand)."""
    name: str = signature.name
    return name


# --- the start-up self-check --------------------------------------------------------------------


@functools.cache
def self_check() -> None:
    """Prove that every internal above still exists and behaves as used; once per process.

    Raises InternalsChanged, one line naming the package, its installed version
    and what changed. A failure is not cached: the next call checks again."""
    for package, version, what, probe in _PROBES:
        try:
            works = probe()
        except Exception as error:  # any breakage at all is reported the same way
            raise _changed(package, version, what, f"{type(error).__name__}: {error}") from None
        if not works:
            raise _changed(package, version, what)


def _simpy_clock() -> bool:
    env = simpy.Environment(initial_time=5.0)
    env.timeout(2.0)
    env.run()
    return simulated_now(env) == 7.0 == env.now


def _simpy_event_count() -> bool:
    env = simpy.Environment()
    before = events_scheduled(env)
    env.timeout(1.0)
    return events_scheduled(env) == before + 2  # the timeout, and the read before this one


def _simpy_queue() -> bool:
    env = simpy.Environment()
    env.timeout(1.0)
    later = env.timeout(2.0)
    queued = scheduled_events(env)
    env.step()
    warp(env, 1.5)
    moved = env.now == 1.5
    env.step()
    return queued == 2 and moved and later.processed and env.now == 2.0 and scheduled_events(env) == 0


def _fakeredis_clock() -> bool:
    now = [0.0]
    client = fakeredis.FakeRedis(server=clocked_server(lambda: now[0]), retry=None)
    client.set("probe", "1", px=1000)
    now[0] = 0.999
    alive = client.get("probe") is not None
    now[0] = 1.001
    return alive and client.get("probe") is None


def _fakeredis_keyspace() -> bool:
    now = [0.0]
    server = clocked_server(lambda: now[0])
    client = fakeredis.FakeRedis(server=server, retry=None)
    client.set("short", "1", px=1000)
    client.set("long", "1", px=5000)
    client.script_load("return 1")
    now[0] = 2.0
    alive = live_keys(server) == [b"long"]
    flush(server)
    return alive and live_keys(server) == [] and client.script_exists("return 1") == [False]


def _fakeredis_replica_moves() -> bool:
    now = [0.0]
    primary, replica = clocked_server(lambda: now[0]), clocked_server(lambda: now[0])
    old, new = (fakeredis.FakeRedis(server=s, retry=None) for s in (primary, replica))
    old.set("gone", "1")
    loaded = old.script_load("return 1")
    new.set("kept", "1", px=1000)
    new.set("forever", "1")
    sha = new.script_load("return 2")
    source = cached_script(replica, sha.encode())
    move_keyspace(replica, primary)
    moved = sorted(live_keys(primary)) == [b"forever", b"kept"] and persistent_keys(primary) == [b"forever"]
    now[0] = 1.001
    return (
        moved
        and source == b"return 2"
        and live_keys(primary) == [b"forever"]
        and old.script_exists(loaded, sha) == [False, False]
    )


def _fakeredis_changes() -> bool:
    server = clocked_server(lambda: 0.0)
    client = fakeredis.FakeRedis(server=server, retry=None)
    changes: list[int] = []
    on_change(server, lambda: changes.append(1))
    client.set("k", "1", nx=True, px=1000)  # a change
    client.set("k", "2", nx=True, px=1000)  # refused: none
    client.get("k")
    client.delete("missing")
    client.lpop("missing")
    after_reads = len(changes)
    client.pexpire("k", 5000)
    client.delete("k")
    return after_reads == 1 and len(changes) == 3


def _fakeredis_command_table() -> bool:
    now = [0.0]
    server = clocked_server(lambda: now[0])
    table = CommandTable(server)
    func, signature = table.resolve(command_name([b"SET", b"probe", b"1"]))
    table.check_arity(signature, [b"probe", b"1", b"PX", b"1000"])
    with server.lock:  # fakeredis runs commands under it, as the direct executor does
        stored = table.run(func, signature, [b"probe", b"1", b"PX", b"1000"], False)
        alive = b"probe" in table.keyspace
        now[0] = 2.0
        expired = b"probe" not in table.keyspace
        counted = table.run(*table.resolve("incr"), [b"probe"], False)  # expired, so INCR starts again at 1
        failed = table.run(*table.resolve("lpush"), [b"probe", b"x"], False)  # wrong type: an error reply
    return (
        isinstance(stored, StatusReply)
        and stored.value == b"OK"
        and alive
        and expired
        and counted == 1
        and isinstance(failed, ErrorReply)
        and isinstance(table.error(failed), redis.ResponseError)
        and signature_name(signature) == "set"
        and _unknown_command_is_an_error_reply(table)
    )


def _fakeredis_async_socket() -> bool:
    """What `sim.world.redis_wire` overrides or reads on fakeredis's asyncio socket still works as used there."""

    async def probe() -> bool:
        server = clocked_server(lambda: 0.0)
        sock = AsyncFakeSocket(server, 0, client_class=redis.asyncio.Redis, lua_modules=None)
        replies: list[Any] = []
        sock.put_response = replies.append  # type: ignore[method-assign,assignment]
        sock._process_command([b"SET", b"probe", b"1"])
        func, signature = sock._name_to_func("get")
        got = sock._decode_result(sock._run_command(func, signature, [b"probe"], False))
        state = ("_queueing", "_pubsub", "_reply_off", "_reply_skip", "_reply_skip_next", "_killed", "_blocked")
        return (
            replies == [b"OK"]
            and got == b"1"
            and all(hasattr(sock, name) for name in state)
            and is_transaction_command(sock._name_to_func("multi")[1])
            and not is_transaction_command(signature)
        )

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(probe())
    finally:
        loop.close()


def _unknown_command_is_an_error_reply(table: CommandTable) -> bool:
    try:
        table.resolve("no-such-command")
    except ErrorReply as error:
        return isinstance(table.error(error), redis.ResponseError)
    return False


# One probe a line, read as a table (library, version, what is relied on, its check): hence `fmt: skip`.
_PROBES: tuple[tuple[str, str, str, Callable[[], bool]], ...] = (
    ("simpy", simpy.__version__, "Environment._now (the simulated clock)", _simpy_clock),
    ("simpy", simpy.__version__, "Environment._eid (the count of scheduled events)", _simpy_event_count),
    ("simpy", simpy.__version__, "Environment._queue and ._now (the events not yet processed, the clock's warp)",
     _simpy_queue),
    ("fakeredis", fakeredis.__version__, "Database.time (keys ignore the simulated clock)", _fakeredis_clock),
    ("fakeredis", fakeredis.__version__, "FakeServer.dbs, .script_cache (the keyspace)", _fakeredis_keyspace),
    ("fakeredis", fakeredis.__version__, "Database.swap, Item.expireat (a replica promoted)", _fakeredis_replica_moves),
    ("fakeredis", fakeredis.__version__, "Database.add_change_callback (a write told apart)", _fakeredis_changes),
    ("fakeredis", fakeredis.__version__, "FakeSocket's command table (_name_to_func, _run_command, _decode_error)",
     _fakeredis_command_table),
    ("fakeredis", fakeredis.__version__, "AsyncFakeSocket (_process_command, _run_command, _name_to_func, "
     "_decode_result, put_response, its transaction and reply state)", _fakeredis_async_socket),
)  # fmt: skip
