"""Two ways to send the system under test's Redis commands to the fake server.

`RedisPyExecutor` goes through redis-py's client, connection pool and RESP
encoding — the plain path, exactly what production code does. `DirectExecutor`
hands the same command to the same fakeredis command implementations without
serialising it: the fast path. Both return what redis-py would return and
raise what redis-py would raise; `tests/world/test_executors.py` runs the
bundled scenarios both ways and compares every per-message record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

import fakeredis
import redis

from sim.world import fakeredis_clock, internals
from sim.world.internals import ErrorReply, StatusReply


class Executor(Protocol):
    def command(self, args: tuple[Any, ...]) -> Any: ...

    def script(self, source: str, keys: tuple[Any, ...], args: tuple[Any, ...]) -> Any: ...


class RedisPyExecutor:
    """Through redis-py's client: the reference behaviour."""

    def __init__(self, server: fakeredis.FakeServer) -> None:
        self.client = fakeredis_clock.client(server)
        self._scripts: dict[str, Any] = {}

    def command(self, args: tuple[Any, ...]) -> Any:
        return self.client.execute_command(*args)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    def script(self, source: str, keys: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        return script(keys=keys, args=args)


class DirectExecutor:
    """Straight into fakeredis's command implementations, skipping the client and the wire format.

    One shortcut, read from fakeredis's own keyspace: a `SET … NX` on a key that
    exists and has not expired changes nothing and replies nil, so it is
    answered without running the command. That is most lock polls.

    fakeredis's internals are reached only through `sim.world.internals`.
    """

    def __init__(self, server: fakeredis.FakeServer) -> None:
        internals.self_check()
        self.server = server
        self.table = internals.CommandTable(server)
        self.db = self.table.keyspace
        self._run, self._error = self.table.run, self.table.error  # once per command: bound once
        self._prepared: dict[tuple[Any, ...], tuple[Prepared, Numbers]] = {}
        self._shas: dict[str, bytes] = {}

    def command(self, args: tuple[Any, ...]) -> Any:
        if not self.server.connected:
            raise redis.ConnectionError("FakeRedis is emulating a connection error.")
        prepared = None
        cached = self._prepared.get(args)
        if cached is not None:
            prepared, numbers = cached
            # `1000 == 1000.0 == True` and they hash alike, but "1000.0" is no integer to Redis: same types too.
            for position, kind in numbers:
                if type(args[position]) is not kind:
                    prepared = None
                    break
        if prepared is None:
            prepared = self.prepare(args)
        func, signature, arguments, is_set, nx_key = prepared
        if nx_key is not None and nx_key in self.db:  # `in` drops the key first if it has expired
            return None
        with self.server.lock:  # fakeredis notifies watchers under it
            result = self._run(func, signature, arguments, False)
        if isinstance(result, ErrorReply):
            raise self._error(result)
        if isinstance(result, StatusReply):
            result = result.value
        # redis-py's SET callback: b"OK" → True; a refused NX stays None.
        return (result == b"OK" or None) if is_set and result is not None else result

    def script(self, source: str, keys: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode()).hexdigest().encode()
        try:
            return self.command(("EVALSHA", sha, len(keys), *keys, *args))
        except redis.exceptions.NoScriptError:
            self.command(("SCRIPT", "LOAD", source))
            return self.command(("EVALSHA", sha, len(keys), *keys, *args))

    def prepare(self, args: tuple[Any, ...]) -> Prepared:
        """Encode, resolve and check a command once; a polling loop repeats the same one."""
        fields = [_encode(a) for a in args]
        name = internals.command_name(fields)
        try:
            func, signature = self.table.resolve(name)
            arguments = fields[signature_offset(signature) :]
            self.table.check_arity(signature, arguments)
        except ErrorReply as error:
            raise self._error(error) from None
        nx_key = fields[1] if name == "set" and plain_set_nx(fields) else None
        prepared = (func, signature, arguments, name == "set", nx_key)
        if len(self._prepared) >= PREPARED_CACHE:
            self._prepared.clear()
        self._prepared[args] = prepared, tuple((i, type(a)) for i, a in enumerate(args) if isinstance(a, (int, float)))
        return prepared


Prepared = tuple[Any, Any, list[bytes], bool, "bytes | None"]
Numbers = tuple[tuple[int, type], ...]  # (position, type) of each numeric argument of a prepared command
PREPARED_CACHE = 4096  # distinct commands kept encoded; tokens make most commands unique per message
MAX_PX = 10**15  # milliseconds (30,000 years): far below the range where Redis refuses an expire time


def signature_offset(signature: Any) -> int:
    """Subcommands ("script load") take two fields before their arguments."""
    return 2 if " " in internals.signature_name(signature) else 1


def plain_set_nx(fields: list[bytes]) -> bool:
    """`SET key value NX` or `SET key value NX PX <ms>`, ms a positive integer: a command Redis
    accepts, so on a live key its only effect is a nil reply. Any other form runs for real
    (an invalid one must raise its error even when the key exists)."""
    options = [f.upper() for f in fields[3:]]
    if options == [b"NX"]:
        return True
    return options[:2] == [b"NX", b"PX"] and len(options) == 3 and fields[5].isdigit() and 0 < int(fields[5]) < MAX_PX


def _encode(value: Any) -> bytes:
    """redis-py's Encoder, for the types the system under test sends."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value).encode()
    raise redis.DataError(
        f"Invalid input of type: {type(value).__name__!r}. Convert to a bytes, string, int or float first."
    )


EXECUTORS: dict[str, Callable[[fakeredis.FakeServer], Executor]] = {
    "direct": DirectExecutor,
    "redis-py": RedisPyExecutor,
}
