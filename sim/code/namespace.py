"""Keep a live run's keys apart on a shared Redis server: every key and channel the code names gets a prefix.

`sim live` runs a team's handler against a real server that may hold anybody's keys. The code
cannot be asked to namespace its own keys, so its connection does it (`NamespacedConnection`):
each command's keys, found by the server's own key specifications (`COMMAND INFO`), are prefixed
with the run's namespace on the way out, and key names in replies (a blocking pop says which list it
popped) lose it on the way back. Pub/sub channels get the prefix too, so a live run never reaches
another client's subscribers. When the run ends, every key under the namespace is removed.

What cannot be kept apart is refused, the command raising `redis.exceptions.DataError` in the code:
commands over the whole keyspace or the server (KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB,
SELECT, MOVE, MIGRATE, COPY … DB, and every command the server flags `admin`), and commands whose keys
the server's specifications do not locate. A Lua script's keys are prefixed when they are passed in
KEYS, as Redis Cluster requires; a key a script builds itself from its arguments is not seen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio
import redis.exceptions

Reply = Any
Transform = Callable[[Reply], Reply]

# Commands that reach beyond one key: they would see or change keys that are not the run's.
REFUSED = frozenset(
    {"keys", "scan", "randomkey", "flushdb", "flushall", "swapdb", "select", "move", "migrate", "dbsize"}
)
# Replies that start with the key a command chose among several (a blocking pop says which list it popped).
KEY_FIRST = frozenset({"blpop", "brpop", "bzpopmin", "bzpopmax", "blmpop", "lmpop", "zmpop", "bzmpop"})
CHANNEL_COMMANDS = frozenset({"publish", "spublish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
                              "ssubscribe", "sunsubscribe"})  # fmt: skip
PUSH_KINDS = frozenset({b"message", b"pmessage", b"smessage", b"subscribe", b"unsubscribe", b"psubscribe",
                        b"punsubscribe", b"ssubscribe", b"sunsubscribe"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class KeySpec:
    """Where one command's keys are, as the server's `COMMAND INFO` key specifications say."""

    begin: tuple[str, Any]  # ("index", i) or ("keyword", (keyword, startfrom))
    find: tuple[str, Any]  # ("range", (lastkey, step, limit)) or ("keynum", (keynumidx, firstkey, step))


class Namespace:
    """A prefix and the server's command table: rewrites commands and their replies (module docstring)."""

    def __init__(self, prefix: str, commands: Mapping[str, Any]) -> None:
        self.prefix = prefix.encode()
        self.specs = {name.lower(): _specs(info) for name, info in commands.items()}
        self.flags = {name.lower(): {str(f) for f in info.get("flags", ())} for name, info in commands.items()}
        self.subcommands = {name: _specs(sub) for info in commands.values() for name, sub in _subcommand_infos(info)}

    def command(self, args: Sequence[Any]) -> tuple[list[Any], Transform]:
        """`args` with the run's prefix on every key and channel, and what turns its reply back."""
        name = _text(args[0]).lower()
        if " " in name:  # "SCRIPT LOAD" as one argument
            words = name.split()
            args, name = [*words, *args[1:]], words[0]
        self._check(name, args)
        out = list(args)
        if name in CHANNEL_COMMANDS:
            for i in range(1, 2 if name in ("publish", "spublish") else len(out)):
                out[i] = self.prefix + _bytes(out[i])
            return out, self.unprefix_push
        specs = self.specs.get(name, ())
        if len(args) > 1 and f"{name}|{_text(args[1]).lower()}" in self.subcommands:
            specs = self.subcommands[f"{name}|{_text(args[1]).lower()}"]
        for position in self._key_positions(name, specs, out):
            out[position] = self.prefix + _bytes(out[position])
        return out, (self.unprefix_first if name in KEY_FIRST else _same)

    def _check(self, name: str, args: Sequence[Any]) -> None:
        flags = self.flags.get(name)
        if flags is None:
            raise redis.exceptions.DataError(f"sim live: the server has no command {name!r}")
        refused = name in REFUSED or "admin" in flags
        if name == "copy" and any(_text(a).lower() == "db" for a in args[3:]):
            refused = True  # a copy into another database is out of the run's reach
        if refused:
            raise redis.exceptions.DataError(
                f"sim live: {name.upper()} reaches beyond the run's own keys, which a live run never touches"
            )

    def _key_positions(self, name: str, specs: tuple[KeySpec, ...], args: Sequence[Any]) -> list[int]:
        positions: set[int] = set()
        for spec in specs:
            found = _locate(spec, args)
            if found is None:
                raise redis.exceptions.DataError(
                    f"sim live: cannot tell {name.upper()}'s keys apart from its other arguments"
                )
            positions.update(found)
        return sorted(positions)

    def unprefix(self, value: Reply) -> Reply:
        if isinstance(value, bytes) and value.startswith(self.prefix):
            return value[len(self.prefix) :]
        if isinstance(value, str) and value.startswith(self.prefix.decode()):
            return value[len(self.prefix) :]
        return value

    def unprefix_first(self, reply: Reply) -> Reply:
        if isinstance(reply, list | tuple) and reply:
            return type(reply)([self.unprefix(reply[0]), *reply[1:]])
        return reply

    def unprefix_push(self, reply: Reply) -> Reply:
        """A pub/sub reply (`[kind, channel, …]`, `[pmessage, pattern, channel, data]`): its channels back."""
        if not isinstance(reply, list) or not reply or _bytes(reply[0]) not in PUSH_KINDS:
            return reply
        kind = _bytes(reply[0])
        names = 3 if kind == b"pmessage" else 2
        return [reply[0], *(self.unprefix(v) for v in reply[1:names]), *reply[names:]]


def _specs(info: Mapping[str, Any]) -> tuple[KeySpec, ...]:
    specs = []
    for spec in info.get("key_specifications", ()) or ():
        begin, find = _field(spec, "begin_search"), _field(spec, "find_keys")
        specs.append(KeySpec(begin=_begin(begin), find=_find(find)))
    return tuple(specs)


def _subcommand_infos(info: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """("object|encoding", its info) of each subcommand; redis-py leaves them as the server's arrays
    (name, arity, flags, first key, last key, step, ACL categories, tips, key specifications, …)."""
    for sub in info.get("subcommands", ()) or ():
        if isinstance(sub, Mapping):
            yield _text(sub.get("name", "")).lower(), sub
        elif isinstance(sub, list | tuple) and sub:
            yield _text(sub[0]).lower(), {"key_specifications": sub[8] if len(sub) > 8 else ()}


def _field(table: Mapping[Any, Any], name: str) -> Mapping[Any, Any]:
    value = table.get(name, table.get(name.encode(), {}))
    return value if isinstance(value, Mapping) else {}


def _begin(begin: Mapping[Any, Any]) -> tuple[str, Any]:
    kind, spec = _text(begin.get(b"type", begin.get("type", ""))), _field(begin, "spec")
    if kind == "index":
        return "index", int(_get(spec, "index"))
    if kind == "keyword":
        return "keyword", (_bytes(_get(spec, "keyword")).lower(), int(_get(spec, "startfrom")))
    return "unknown", None


def _find(find: Mapping[Any, Any]) -> tuple[str, Any]:
    kind, spec = _text(find.get(b"type", find.get("type", ""))), _field(find, "spec")
    if kind == "range":
        return "range", (int(_get(spec, "lastkey")), int(_get(spec, "keystep")), int(_get(spec, "limit")))
    if kind == "keynum":
        return "keynum", (int(_get(spec, "keynumidx")), int(_get(spec, "firstkey")), int(_get(spec, "keystep")))
    return "unknown", None


def _get(spec: Mapping[Any, Any], name: str) -> Any:
    return spec.get(name.encode(), spec.get(name))


def _locate(spec: KeySpec, args: Sequence[Any]) -> list[int] | None:
    """The positions of `spec`'s keys in `args` (the command name at 0); None when it cannot say."""
    start = _start(spec, args)
    if start is None:
        return None
    if start >= len(args):
        return []
    kind, value = spec.find
    if kind == "range":
        last, step, limit = value
        end = start + last if last >= 0 else len(args) + last
        if last == -1 and limit > 1:
            end = start + (len(args) - start) // limit - 1
        return list(range(start, min(end, len(args) - 1) + 1, max(step, 1)))
    if kind == "keynum":
        number_at, first, step = value
        try:
            count = int(_text(args[start + number_at]))
        except (IndexError, ValueError):
            return []  # the server says what is wrong with it
        first_key = start + first
        return [p for p in range(first_key, first_key + count * max(step, 1), max(step, 1)) if p < len(args)]
    return None


def _start(spec: KeySpec, args: Sequence[Any]) -> int | None:
    kind, value = spec.begin
    if kind == "index":
        return int(value)
    if kind == "keyword":
        keyword, startfrom = value
        indexes = range(startfrom, len(args)) if startfrom > 0 else range(len(args) + startfrom, 0, -1)
        for i in indexes:
            if 0 < i < len(args) and _bytes(args[i]).lower() == keyword:
                return i + 1
        return len(args)  # the keyword is absent: no keys of this kind
    return None


def _same(reply: Reply) -> Reply:
    return reply


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview):
        return value.tobytes()
    return str(value).encode()


class NamespacedConnection(redis.asyncio.Connection):
    """A redis-py asyncio connection that keeps its run's keys apart (see the module docstring).

    Every command it packs is rewritten (`Namespace.command`) and what to do with its reply is queued;
    replies come back in the order their commands were sent, a transaction's as one EXEC array."""

    def __init__(self, *args: Any, namespace: Namespace, **kwargs: Any) -> None:
        self._namespace = namespace
        self._expected: deque[Transform] = deque()
        self._transaction: list[Transform] | None = None
        self._subscribed = False  # in pub/sub mode: replies are pushes, as many as the server sends
        self._handshaking = False
        super().__init__(*args, **kwargs)

    async def on_connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        """The handshake (HELLO, CLIENT SETINFO, SELECT) is redis-py's own: not the code's, not rewritten."""
        self._handshaking = True
        try:
            await super().on_connect_check_health(*args, **kwargs)
        finally:
            self._handshaking = False

    def pack_command(self, *args: Any) -> list[bytes]:
        if self._handshaking:
            return super().pack_command(*args)
        rewritten, transform = self._namespace.command(args)
        name = _text(rewritten[0]).lower()
        if name == "multi":
            self._transaction = []
        elif name == "exec" and self._transaction is not None:
            queued, self._transaction = self._transaction, None
            transform = _each(queued)
        elif name == "discard":
            self._transaction = None
        elif self._transaction is not None:
            self._transaction.append(transform)
            transform = _same  # +QUEUED now; its reply comes inside EXEC's
        if name in CHANNEL_COMMANDS and name not in ("publish", "spublish"):
            self._subscribed = True  # its replies are pushes, one per channel: no place in the queue
        else:
            self._expected.append(transform)
        return super().pack_command(*rewritten)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        reply = await super().read_response(*args, **kwargs)
        if self._handshaking:
            return reply
        if self._subscribed and isinstance(reply, list) and reply and _bytes(reply[0]) in PUSH_KINDS:
            return self._namespace.unprefix_push(reply)
        transform = self._expected.popleft() if self._expected else _same
        return transform(reply)

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        self._expected.clear()
        self._transaction, self._subscribed = None, False
        await super().disconnect(*args, **kwargs)


def _each(transforms: list[Transform]) -> Transform:
    def each(reply: Reply) -> Reply:
        if not isinstance(reply, list):
            return reply  # the transaction was aborted (nil) or failed
        return [t(r) for t, r in zip(transforms, reply, strict=False)]

    return each
