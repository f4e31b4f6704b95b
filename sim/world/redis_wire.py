"""redis-py's asyncio client against the simulated Redis, on simulated time: the handler's `ctx.redis`.

The client is redis-py's own (`redis.asyncio.Redis`: its connection pool, retries, pipelines,
scripts, response callbacks, decoding); only the socket is simulated. Each connection is a
fakeredis socket on the run's clocked server (`sim.world.fakeredis_clock`), so every command is
executed by fakeredis's command implementations — Lua included — when it is sent, as the built-in
bot's are. A single command skips the wire format (it is handed to the socket as the fields the
server would have parsed); a pipeline or a transaction is written and parsed as RESP.

The wire adds what a network adds (`Wire`): a command is counted where the server executes it,
and its reply is delivered one round trip after it was sent — all replies of one write (a
pipeline, a MULTI/EXEC) after the same round trip, never before an earlier reply. A reply the
server sends later (a blocking pop served by a push, a pub/sub message) leaves the server when it
is produced and arrives one round trip later. A connection's handshake (CLIENT SETINFO, HELLO,
SELECT) is not simulated: a production client pays it once per pooled connection, not per message.

A Redis fault reaches the code as it would in production: a server that refuses connections makes
every command raise `redis.exceptions.ConnectionError` (redis-py's own retry policy, on simulated
time, may retry it first), and `Wire.break_connections` cuts every open connection (a restart).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import fakeredis
import redis
import redis.asyncio
from fakeredis.aioredis import FakeAsyncRedisConnection

from sim.world.event_loop import SimulatedLoop
from sim.world.executors import PREPARED_CACHE, plain_set_nx
from sim.world.internals import AsyncFakeSocket, ErrorReply, NoReply, command_parts, is_transaction_command

Prepared = tuple[Any, Any, list[bytes], "bytes | None"]  # (func, signature, arguments, the key of a plain SET NX)


class Wire:
    """The network between one run's code and its Redis server (see the module docstring).

    `executed` is told of every command the server executes (its fields), where it executes it.
    `round_trip` draws one round trip's seconds."""

    def __init__(
        self,
        loop: SimulatedLoop,
        server: fakeredis.FakeServer,
        round_trip: Callable[[], float],
        executed: Callable[[list[bytes]], None],
    ) -> None:
        self.loop = loop
        self.server = server
        self.round_trip = round_trip
        self.executed = executed
        self.sockets: list[_Socket] = []

    def client(self, *, shortcut: bool = True) -> redis.asyncio.Redis:
        """A redis-py asyncio client on this wire, with redis-py's default retry policy.

        `shortcut`: single commands take `_Client`'s shortcut past the pool's bookkeeping (the fast path);
        False: every command goes through redis-py's pool as in production (the reference path)."""
        pool = redis.asyncio.ConnectionPool(
            connection_class=_Connection,
            server=self.server,
            wire=self,
            retry=copy.deepcopy(_DEFAULT_RETRY),
        )
        return (_Client if shortcut else redis.asyncio.Redis)(connection_pool=pool)

    def break_connections(self) -> None:
        """The server restarted or went away: every open connection breaks, blocked ones included."""
        sockets, self.sockets = self.sockets, []
        for sock in sockets:
            sock.cut()


# What `redis.asyncio.Redis()` retries with when not told otherwise (redis-py's own default).
_DEFAULT_RETRY = inspect.signature(redis.asyncio.Redis.__init__).parameters["retry"].default
_TIMED_OUT = object()  # a read's timeout passed before a reply


class _Socket(AsyncFakeSocket):
    """A fakeredis socket whose commands are counted and whose replies travel one round trip."""

    def __init__(self, *args: Any, wire: Wire, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire = wire
        self.loop = wire.loop
        self.writing = False  # inside a write: the replies produced now travel with it
        self.write_arrives = 0.0  # when this write's replies arrive
        self.last_arrival = 0.0  # replies arrive in the order the server sent them
        self.broken = False
        self.arrived: deque[Any] = deque()  # replies delivered and not read yet
        self.prepared: dict[tuple[bytes, ...], Prepared] = {}  # commands resolved and checked (`_run_prepared`)
        self.reader: asyncio.Future[Any] | None = None  # a read waiting for the next reply

    def write(self, fields: list[bytes] | None, packed: list[bytes] | None = None) -> None:
        """One write on the wire: a command's fields, or RESP bytes (a pipeline)."""
        if self.broken or not self._server.connected:
            raise redis.asyncio.ConnectionError("Connection closed by server.")
        self.write_arrives = self._arrival()
        self.writing = True
        try:
            if fields is not None:
                self._process_command(fields)
            else:
                for chunk in packed or ():
                    self._parser.send(chunk)
        finally:
            self.writing = False

    def _arrival(self) -> float:
        arrives = max(self.loop.time() + self.wire.round_trip(), self.last_arrival)
        self.last_arrival = arrives
        return arrives

    def _process_command(self, fields: list[bytes]) -> None:
        if not fields:
            return
        self.wire.executed(fields)
        if not self._run_prepared(fields):
            super()._process_command(fields)

    def _run_prepared(self, fields: list[bytes]) -> bool:
        """Run a command as fakeredis's `_process_command` would, without re-resolving and re-checking it
        each time (a polling loop sends the same command again and again); False: not in a state this
        shortcut covers (a transaction, pub/sub, CLIENT REPLY off, another user, a command it refuses),
        for `_process_command` itself to run.

        One more shortcut, as the built-in bot's direct executor takes: `SET key value NX [PX ms]` on a
        key that exists and has not expired changes nothing and replies nil, so it is answered at once."""
        if self._queueing or self._pubsub or self._reply_off or self._reply_skip or self._reply_skip_next:
            return False
        key = tuple(fields)
        prepared = self.prepared.get(key)
        if prepared is None:
            prepared = self._prepare(fields)
            if prepared is None:
                return False
        func, signature, arguments, nx_key = prepared
        if nx_key is not None and nx_key in self._db:  # `in` drops the key first if it has expired
            self.put_response(None)
            return True
        with self._server.lock:
            result = self._run_command(func, signature, arguments, False)
        result = self._decode_result(result)
        if not isinstance(result, NoReply):
            self.put_response(result)
        return True

    def _prepare(self, fields: list[bytes]) -> Prepared | None:
        if self._client_info.user != b"default":
            return None  # ACLs: each command is checked by fakeredis itself
        name, arguments = command_parts(fields)
        try:
            func, signature = self._name_to_func(name)
            signature.check_arity(arguments, self.version)
        except ErrorReply:
            return None  # fakeredis words the error
        if is_transaction_command(signature):
            return None
        nx_key = fields[1] if name == "set" and plain_set_nx(fields) else None
        if len(self.prepared) >= PREPARED_CACHE:
            self.prepared.clear()
        prepared = self.prepared[tuple(fields)] = (func, signature, arguments, nx_key)
        return prepared

    def put_response(self, msg: Any) -> None:
        if self.broken:
            return
        arrives = self.write_arrives if self.writing else self._arrival()
        self.loop.call_exactly_at(arrives, self._deliver, msg)

    def _deliver(self, msg: Any) -> None:
        if self.broken:
            return
        reader = self.reader
        if reader is not None and not reader.done():
            self.reader = None
            reader.set_result(msg)
        else:
            self.arrived.append(msg)

    async def read(self, timeout: float | None) -> Any:
        """The next reply; `_TIMED_OUT` after `timeout` seconds without one (None: wait for it)."""
        if self.arrived:
            return self.arrived.popleft()
        if self.broken:
            raise redis.asyncio.ConnectionError("Connection closed by server.")
        reader = self.reader = self.loop.create_future()
        timer = None if timeout is None else self.loop.call_exactly_at(self.loop.time() + timeout, _time_out, reader)
        try:
            return await reader
        finally:
            if timer is not None:
                timer.cancel()

    def hang_up(self) -> None:
        """The client closed this connection."""
        if self in self.wire.sockets:
            self.wire.sockets.remove(self)
        self.broken = True
        if self._server is not None:
            self.close()

    def cut(self) -> None:
        """The connection breaks: a read waiting on it fails now, and the next write fails."""
        self.broken = True
        self._killed = True
        self._blocked = False
        self.arrived.clear()
        reader, self.reader = self.reader, None
        if reader is not None and not reader.done():
            reader.set_exception(redis.asyncio.ConnectionError("Connection closed by server."))


def _time_out(reader: asyncio.Future[Any]) -> None:
    if not reader.done():
        reader.set_result(_TIMED_OUT)


class _Client(redis.asyncio.Redis):
    """redis-py's asyncio client with one shortcut for a single command (`execute_command`).

    redis-py borrows a connection from its pool for each command under an asyncio lock, records
    metrics of the borrowing, and returns it: several times the cost of the command itself in a
    simulation. The shortcut keeps idle connections of its own (made by the pool), and runs the
    command as redis-py does — `send_command`, then redis-py's own `parse_response` (decoding,
    response callbacks) — under the connection's own retry policy. What it leaves out: the pool's
    limit on connections (a run's commands are never refused for lack of one) and its metrics.
    Anything else (a transaction's connection, HIMPORT) takes redis-py's path. Records of bundled
    scenarios are the same either way (tests/world/test_code_engine.py)."""

    _idle: list[_Connection]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.single_connection_client or self.connection is not None or str(args[0]).upper().startswith("HIMPORT"):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        idle = self.__dict__.setdefault("_idle", [])
        conn: _Connection = idle.pop() if idle else self.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            return await conn.retry.call_with_retry(
                lambda: self._send_and_parse(conn, args, options),
                lambda error, failures: conn.disconnect(error=error, failure_count=failures),
                with_failure_count=True,
            )
        finally:
            idle.append(conn)

    async def _send_and_parse(self, conn: _Connection, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        await conn.send_command(*args)
        return await self.parse_response(conn, args[0], **dict(options))


class _Connection(FakeAsyncRedisConnection):
    """A pooled connection whose socket is a `_Socket` on the run's wire (see the module docstring)."""

    def __init__(self, *args: Any, wire: Wire, **kwargs: Any) -> None:
        self._wire = wire
        self._encoded: dict[tuple[Any, ...], tuple[list[bytes], tuple[tuple[int, type], ...]]] = {}
        super().__init__(*args, **kwargs)

    async def _connect(self) -> None:
        if self._server is None or not self._server.connected:
            raise redis.asyncio.ConnectionError("Error connecting to the simulated Redis: it refuses connections.")
        sock = _Socket(
            self._server,
            self.db,
            client_class=self._client_class,
            lua_modules=self._lua_modules,
            client_info=self._client_info,
            wire=self._wire,
        )
        self._wire.sockets.append(sock)
        self._sock = sock
        self._reader = self._writer = sock  # type: ignore[assignment]  # what redis-py reads as "connected"

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        """No handshake: see the module docstring."""
        self._parser.on_connect(self)  # type: ignore[no-untyped-call]

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        sock = await self._connected()
        try:
            sock.write(self._fields(args))
        except redis.exceptions.ConnectionError:
            await self.disconnect(nowait=True)
            raise

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        sock = await self._connected()
        chunks = (
            [command.encode() if isinstance(command, str) else command] if isinstance(command, str | bytes) else command
        )  # noqa: E501
        try:
            sock.write(None, list(chunks))
        except redis.exceptions.ConnectionError:
            await self.disconnect(nowait=True)
            raise

    def _fields(self, args: tuple[Any, ...]) -> list[bytes]:
        """`args` as the server parses them: redis-py's encoding, remembered for a command sent again."""
        cached = self._encoded.get(args)
        if cached is not None:
            fields, numbers = cached
            # `1 == 1.0 == True` and they hash alike, but encode differently: the same types too.
            if all(type(args[i]) is kind for i, kind in numbers):
                return fields
        words = (*args[0].split(), *args[1:]) if isinstance(args[0], str) and " " in args[0] else args
        fields = [self.encoder.encode(a) for a in words]  # type: ignore[no-untyped-call]  # "SCRIPT LOAD": redis-py sends the words apart
        if len(self._encoded) >= PREPARED_CACHE:
            self._encoded.clear()
        self._encoded[args] = fields, tuple((i, type(a)) for i, a in enumerate(args) if isinstance(a, int | float))
        return fields

    async def _connected(self) -> _Socket:
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        sock = self._sock
        assert isinstance(sock, _Socket)
        return sock

    async def can_read(self, timeout: float | None = 0) -> bool:
        sock = self._sock
        return isinstance(sock, _Socket) and bool(sock.arrived)

    async def can_read_destructive(self) -> bool:
        return await self.can_read()

    async def read_response(  # type: ignore[override]  # redis-py's signature, not fakeredis's **kwargs
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        sock = self._sock
        if not isinstance(sock, _Socket):
            raise redis.asyncio.ConnectionError("Connection closed by server.")
        wait = None if timeout is None or timeout == math.inf else max(0.0, timeout)
        try:
            reply = await sock.read(wait)
        except BaseException:
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise
        if reply is _TIMED_OUT:
            return None  # redis-py's answer to a read's own timeout (pub/sub get_message)
        if isinstance(reply, redis.exceptions.ResponseError):
            raise reply
        return reply if disable_decoding else self._decode(reply)

    async def disconnect(self, nowait: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        sock = self._sock
        self._sock = self._reader = self._writer = None
        self._parser.on_disconnect()  # type: ignore[no-untyped-call]
        if isinstance(sock, _Socket):
            sock.hang_up()
