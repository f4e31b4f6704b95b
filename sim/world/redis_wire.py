"""redis-py's asyncio client against the simulated Redis, on simulated time: the handler's `ctx.redis`.

The client is redis-py's own (`redis.asyncio.Redis`, its connection pool, retries, pipelines,
scripts, response callbacks); only the socket is simulated. Each connection is a fakeredis
socket on the run's clocked server (`sim.world.fakeredis_clock`), so every command is executed by
fakeredis's command implementations — Lua included — when it is sent, as the built-in bot's are.

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

import copy
import inspect
from collections.abc import Callable
from typing import Any

import fakeredis
import redis
import redis.asyncio
from fakeredis.aioredis import FakeAsyncRedisConnection, FakeReader, FakeWriter

from sim.world.event_loop import SimulatedLoop
from sim.world.internals import AsyncFakeSocket


class Wire:
    """The network between one run's code and its Redis server (see the module docstring).

    `executed` is called once per command the server executes, where it executes it.
    `round_trip` draws one round trip's seconds."""

    def __init__(
        self,
        loop: SimulatedLoop,
        server: fakeredis.FakeServer,
        round_trip: Callable[[], float],
        executed: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.server = server
        self.round_trip = round_trip
        self.executed = executed
        self.sockets: list[_Socket] = []

    def client(self) -> redis.asyncio.Redis:
        """A redis-py asyncio client on this wire, with redis-py's default retry policy."""
        pool = redis.asyncio.ConnectionPool(
            connection_class=_Connection,
            server=self.server,
            wire=self,
            retry=copy.deepcopy(_DEFAULT_RETRY),
            lib_name=None,
            lib_version=None,
        )
        return redis.asyncio.Redis(connection_pool=pool)

    def break_connections(self) -> None:
        """The server restarted or went away: every open connection breaks, blocked ones included."""
        sockets, self.sockets = self.sockets, []
        for sock in sockets:
            sock.cut()


# What `redis.asyncio.Redis()` retries with when not told otherwise (redis-py's own default).
_DEFAULT_RETRY = inspect.signature(redis.asyncio.Redis.__init__).parameters["retry"].default


class _Socket(AsyncFakeSocket):
    """A fakeredis socket whose commands are counted and whose replies travel one round trip."""

    def __init__(self, *args: Any, wire: Wire, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire = wire
        self.writing = False  # inside a write: the replies produced now travel with it
        self.write_arrives = 0.0  # when this write's replies arrive
        self.last_arrival = 0.0  # replies arrive in the order the server sent them
        self.broken = False

    def begin_write(self) -> None:
        self.write_arrives = self._arrival()
        self.writing = True

    def end_write(self) -> None:
        self.writing = False

    def _arrival(self) -> float:
        arrives = max(self.wire.loop.time() + self.wire.round_trip(), self.last_arrival)
        self.last_arrival = arrives
        return arrives

    def _process_command(self, fields: list[bytes]) -> None:
        if fields:
            self.wire.executed()
        super()._process_command(fields)

    def put_response(self, msg: Any) -> None:
        if self.broken:
            return
        arrives = self.write_arrives if self.writing else self._arrival()
        self.wire.loop.call_exactly_at(arrives, self._deliver, msg)

    def _deliver(self, msg: Any) -> None:
        if not self.broken:
            super().put_response(msg)

    def cut(self) -> None:
        """The connection breaks: a read waiting on it fails now, and the next write fails."""
        self.broken = True
        self._killed = True
        self._blocked = False
        responses = self.responses
        if responses is not None:
            responses.put_nowait(redis.exceptions.ConnectionError("Connection closed by server."))
            self._response_available.set()


class _Writer(FakeWriter):
    def writelines(self, data: Any) -> None:
        sock = self._socket
        if sock is None:
            return
        assert isinstance(sock, _Socket)
        sock.begin_write()
        try:
            super().writelines(data)
        finally:
            sock.end_write()


class _Connection(FakeAsyncRedisConnection):  # type: ignore[misc]  # fakeredis's classes are untyped for mypy
    """A pooled connection whose socket is a `_Socket` on the run's wire."""

    def __init__(self, *args: Any, wire: Wire, **kwargs: Any) -> None:
        self._wire = wire
        super().__init__(*args, **kwargs)

    async def _connect(self) -> None:
        if not self._server.connected:
            raise redis.asyncio.ConnectionError("Error connecting to the simulated Redis: it is down.")
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
        self._reader = _Reader(sock)
        self._writer = _Writer(sock)

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        """No handshake: see the module docstring."""
        self._parser.on_connect(self)

    async def _read_response(self, **kwargs: Any) -> Any:
        sock = self._sock
        if isinstance(sock, _Socket) and sock.broken and sock.responses is not None and sock.responses.empty():
            await self.disconnect()
            raise redis.asyncio.ConnectionError("Connection closed by server.")
        return await super()._read_response(**kwargs)


class _Reader(FakeReader):
    async def read(self, n: int) -> Any:
        reply = await super().read(n)
        if isinstance(reply, redis.exceptions.ConnectionError):
            raise reply
        return reply
