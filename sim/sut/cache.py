"""Cache-aside for the massive-failure check: installation points by tax id.

A hit answers from Redis; a miss asks the CRM and stores the answer with a
TTL; any Redis error on the read falls back to the CRM (the message is never
failed by the cache) and is counted. A failed write is counted too, but the
CRM answer is still used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import RedisError

from sim.sut.effects import Command, Log, Step


@dataclass(frozen=True, slots=True)
class OutageInfo:
    """What the CRM says about a customer: installation points, and whether one is in an outage."""

    points: tuple[str, ...]
    in_outage: bool = False

    def to_json(self) -> str:
        return json.dumps({"points": list(self.points), "outage": self.in_outage})

    @classmethod
    def from_json(cls, raw: bytes | str) -> OutageInfo:
        data = json.loads(raw)
        return cls(tuple(data["points"]), bool(data["outage"]))


class Crm(Protocol):
    def outage_info(self, tax_id: str) -> Step:
        """Yields effects; returns an `OutageInfo`. Raises `ServiceError` on failure."""
        ...


@dataclass(frozen=True, slots=True)
class Lookup:
    info: OutageInfo
    source: str  # "hit" | "miss" | "fallback" | "off"
    crm_called: bool
    cache_errors: int


class OutageCache:
    """The Redis cache in front of the CRM; `ttl=None` means caching is off (the seed's *before*)."""

    def __init__(self, ttl: float | None, prefix: str = "massive:points:") -> None:
        self.ttl = ttl
        self.prefix = prefix

    def key(self, tax_id: str) -> str:
        return self.prefix + tax_id

    def lookup(self, tax_id: str, crm: Crm) -> Step:
        """Returns a `Lookup`."""
        if self.ttl is None:
            info = yield from crm.outage_info(tax_id)
            return Lookup(info, "off", True, 0)
        try:
            cached = yield Command(("GET", self.key(tax_id)))
        except RedisError:
            yield Log(f"Cache unavailable for {tax_id}, querying CRM")
            info = yield from crm.outage_info(tax_id)
            return Lookup(info, "fallback", True, 1)
        if cached is not None:
            info = OutageInfo.from_json(cached)
            yield Log(f"Cache HIT for {tax_id} - {len(info.points)} points")
            return Lookup(info, "hit", False, 0)
        yield Log(f"Cache MISS for {tax_id}, querying CRM")
        info = yield from crm.outage_info(tax_id)
        errors = yield from self._store(tax_id, info)
        return Lookup(info, "miss", True, errors)

    def _store(self, tax_id: str, info: OutageInfo) -> Step:
        ttl_ms = max(1, round(self.ttl * 1000))  # type: ignore[operator]
        try:
            yield Command(("SET", self.key(tax_id), info.to_json(), "PX", ttl_ms))
        except RedisError:
            return 1
        return 0
