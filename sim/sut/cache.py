"""Cache-aside for the massive-failure check: installation points by tax id.

A hit answers from Redis; a miss asks the CRM and stores the answer with a
TTL; any Redis error on the read falls back to the CRM (the message is never
failed by the cache) and is counted. A failed write is counted too, but the
CRM answer is still used.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import RedisError

from sim.sut.effects import NOW, Command, Log, Script, Sleep, Step
from sim.sut.lock import RELEASE_SCRIPT
from sim.sut.outcomes import Source
from sim.sut.units import milliseconds


@dataclass(frozen=True, slots=True)
class OutageInfo:
    """What the CRM says about a customer: installation points, and whether one is in an outage."""

    points: tuple[str, ...]
    in_outage: bool = False

    def to_json(self, delta: float = 0.0) -> str:
        """The cached form; `delta` is what the CRM call cost (seconds), for XFetch."""
        return json.dumps({"points": list(self.points), "outage": self.in_outage, "delta": round(delta, 6)})

    @classmethod
    def from_json(cls, raw: bytes | str) -> tuple[OutageInfo, float]:
        """The info and its recompute cost `delta`."""
        data = json.loads(raw)
        return cls(tuple(data["points"]), bool(data["outage"])), float(data.get("delta", 0.0))


class Crm(Protocol):
    def outage_info(self, tax_id: str) -> Step[OutageInfo]:
        """Yields effects; returns an `OutageInfo`. Raises `ServiceError` on failure."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    info: OutageInfo
    source: Source
    crm_called: bool
    cache_errors: int


# The value and its remaining TTL in one round trip, for XFetch.
GET_WITH_TTL_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if not value then
  return nil
end
return {value, redis.call('PTTL', KEYS[1])}
"""
FILL_WAIT = 15.0  # seconds a single-flight follower waits for the leader's fill before asking the CRM itself
FILL_POLL = 0.1


class OutageCache:
    """The Redis cache in front of the CRM; `ttl=None` means caching is off (the team's *before*).

    Stampede protection, both optional:
    - `single_flight`: on a miss, one caller (the one whose `SET fill:… NX` wins) asks the
      CRM; the others poll the cache for its answer for up to FILL_WAIT seconds, and stop
      waiting as soon as the fill lock is gone without an answer (the leader's CRM call failed).
    - `xfetch_beta` > 0: probabilistic early refresh (Vattani, Chierichetti, Lowenstein,
      VLDB 2015): a hit is treated as a miss with a probability that grows as expiry
      nears and with the cost (`delta`, the CRM time) of recomputing it.
    """

    def __init__(
        self,
        ttl: float | None,
        prefix: str = "massive:points:",
        *,
        single_flight: bool = False,
        xfetch_beta: float = 0.0,
        rand: Callable[[], float] = random.random,
        namespace: str = "",
    ) -> None:
        self.ttl = ttl
        self.prefix = prefix
        self.namespace = namespace  # before every key, the fill locks' too (`sim live`: the run's own)
        self.single_flight = single_flight
        self.xfetch_beta = xfetch_beta
        self.rand = rand

    def key(self, tax_id: str) -> str:
        return self.namespace + self.prefix + tax_id

    def fill_key(self, tax_id: str) -> str:
        """The single-flight fill lock of one entry."""
        return f"{self.namespace}fill:{self.prefix}{tax_id}"

    def lookup(self, tax_id: str, crm: Crm, token: str = "") -> Step[Lookup]:
        """Returns a `Lookup`; `token` names this caller in the single-flight fill lock."""
        if self.ttl is None:
            info = yield from crm.outage_info(tax_id)
            return Lookup(info=info, source=Source.OFF, crm_called=True, cache_errors=0)
        try:
            cached = yield from self._read(tax_id)
        except RedisError:
            yield Log(f"Cache unavailable for {tax_id}, querying CRM")
            info = yield from crm.outage_info(tax_id)
            return Lookup(info=info, source=Source.FALLBACK, crm_called=True, cache_errors=1)
        if cached is not None:
            yield Log(f"Cache HIT for {tax_id} - {len(cached.points)} points")
            return Lookup(info=cached, source=Source.HIT, crm_called=False, cache_errors=0)
        yield Log(f"Cache MISS for {tax_id}, querying CRM")
        if self.single_flight:
            return (yield from self._fill_once(tax_id, crm, token))
        return (yield from self._fill(tax_id, crm))

    def _read(self, tax_id: str) -> Step[OutageInfo | None]:
        """The cached OutageInfo, or None (absent, or chosen for early refresh)."""
        if self.xfetch_beta <= 0:
            raw = yield Command(("GET", self.key(tax_id)))
            return None if raw is None else OutageInfo.from_json(raw)[0]
        reply = yield Script(GET_WITH_TTL_SCRIPT, (self.key(tax_id),), ())
        if reply is None:
            return None
        raw, pttl_ms = reply
        info, delta = OutageInfo.from_json(raw)
        if delta * self.xfetch_beta * -math.log(1.0 - self.rand()) >= int(pttl_ms) / 1000:
            yield Log(f"Cache early refresh for {tax_id}")
            return None
        return info

    def _fill(self, tax_id: str, crm: Crm) -> Step[Lookup]:
        started = yield NOW
        info = yield from crm.outage_info(tax_id)
        finished = yield NOW
        errors = yield from self._store(tax_id, info, finished - started)
        return Lookup(info=info, source=Source.MISS, crm_called=True, cache_errors=errors)

    def _fill_once(self, tax_id: str, crm: Crm, token: str) -> Step[Lookup]:
        fill_key = self.fill_key(tax_id)
        try:
            leader = yield Command(("SET", fill_key, token, "NX", "PX", milliseconds(FILL_WAIT)))
        except RedisError:
            leader = True  # cannot coordinate: behave like plain cache-aside
        if leader:
            try:
                found = yield from self._fill(tax_id, crm)
            except Exception:  # a failed CRM call ends the fill too (not `finally`: no yield on GeneratorExit)
                yield from self._end_fill(fill_key, token)
                raise
            yield from self._end_fill(fill_key, token)
            return found
        waited = 0.0
        while waited < FILL_WAIT:
            yield Sleep(FILL_POLL)
            waited += FILL_POLL
            try:  # the entry and the fill lock in one round trip, as one GET cost before
                raw, filling = yield Command(("MGET", self.key(tax_id), fill_key))
            except RedisError:
                break
            if raw is not None:
                yield Log(f"Cache filled by another worker for {tax_id}")
                info = OutageInfo.from_json(raw)[0]
                return Lookup(info=info, source=Source.HIT, crm_called=False, cache_errors=0)
            if filling is None:  # the leader's CRM call failed (or its fill lock expired): nothing will come
                yield Log(f"Fill of {tax_id} ended without an answer, querying CRM")
                break
        return (yield from self._fill(tax_id, crm))

    def _end_fill(self, fill_key: str, token: str) -> Step[None]:
        try:  # compare-and-delete: a slow leader must not drop the next leader's fill lock
            yield Script(RELEASE_SCRIPT, (fill_key,), (token,))
        except RedisError:
            pass  # the fill lock expires by itself

    def _store(self, tax_id: str, info: OutageInfo, delta: float) -> Step[int]:
        """Write the entry with the cache's TTL; returns the Redis errors met (0 or 1)."""
        assert self.ttl is not None, "only a lookup with caching on fills the cache"
        ttl_ms = milliseconds(self.ttl)
        try:
            yield Command(("SET", self.key(tax_id), info.to_json(delta), "PX", ttl_ms))
        except RedisError:
            return 1
        return 0
