"""The seed's chatbot handler as a team would write it: plain asyncio and redis-py, nothing of `sim`.

One message: take the conversation's lock (SET NX PX, retried with a backoff until a deadline),
check the CRM for a regional outage through a Redis cache (cache-aside with a TTL, falling back to
the CRM when Redis fails), ask the LLM, reply, release the lock (compare-and-delete in Lua).

`ctx.settings` holds the knobs the team changed (see scenarios beside this file):
    lock_ttl_s, lock_timeout_s      the lock's TTL and how long a message waits for it
    backoff                         {kind = "fixed", delay_s} or {kind = "exponential", base_s, factor, cap_s}
    cache_ttl_s                     the outage cache's TTL; 0 turns the cache off
    log_every                       a "waiting for lock" line every N attempts

The `ctx.mark(...)` calls tell `sim` what only this code knows (lock attempts, cache hits); they are
optional, and production's `ctx` may ignore them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

if TYPE_CHECKING:  # the contract's types, for the editor only
    from sim.code import Context, Message

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
CLOCK_EPSILON = 1e-9  # float sums of waits land a hair short of the deadline


async def handle(message: Message, ctx: Context) -> None:
    settings = ctx.settings
    thread = f"thread_{message.customer}"
    key = f"lock:thread:{thread}"
    token = uuid.uuid4().hex
    ttl_ms = round(settings["lock_ttl_s"] * 1000)
    if not await acquire(ctx, key, token, ttl_ms, thread):
        ctx.log(f"Replying busy to {thread}")
        await ctx.reply("busy")
        return
    try:
        outage = await outage_info(ctx, message.tax_id)
        await ctx.call("llm")
        ctx.log(f"Replied answered to {thread} ({len(outage['points'])} points)")
        await ctx.reply("answered")
    except Exception as error:  # a CRM or LLM failure: the customer gets the failure apology
        ctx.log(f"Failed to answer {thread}: {error}")
        await ctx.reply("failed")
    finally:
        await release(ctx, key, token)


async def acquire(ctx: Context, key: str, token: str, ttl_ms: int, thread: str) -> bool:
    """Try until acquired or the deadline; the last wait is cut so one attempt lands on the deadline."""
    loop = asyncio.get_running_loop()
    timeout, log_every = ctx.settings["lock_timeout_s"], ctx.settings.get("log_every", 10)
    ctx.mark("lock_asked")
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            acquired = await ctx.redis.set(key, token, nx=True, px=ttl_ms)
        except RedisError:  # Redis unreachable: like a busy lock, retried until the deadline
            ctx.mark("lock_error")
            acquired = None
        now = loop.time()
        if acquired:
            ctx.log(f"Lock acquired for {thread} (attempt {attempt})")
            ctx.mark("lock_acquired", attempts=attempt)
            return True
        if now >= deadline - CLOCK_EPSILON:
            ctx.log(f"Could not acquire lock for {thread} after {attempt} attempts")
            ctx.mark("lock_busy", attempts=attempt)
            return False
        if attempt % log_every == 0:
            ctx.log(f"Waiting for lock for {thread} (attempt {attempt})")
        await asyncio.sleep(min(backoff(ctx.settings["backoff"], attempt), deadline - now))


def backoff(policy: dict[str, Any], attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based)."""
    if policy["kind"] == "fixed":
        return float(policy["delay_s"])
    exponent = min(attempt - 1, 64)  # past that the power overflows; the cap is reached long before
    return float(min(policy["base_s"] * policy["factor"] ** exponent, policy["cap_s"]))


async def outage_info(ctx: Context, tax_id: str) -> dict[str, Any]:
    """Cache-aside in front of the CRM; any Redis error falls back to the CRM."""
    ttl_s = ctx.settings["cache_ttl_s"]
    if not ttl_s:
        info = await ctx.call("crm")
        ctx.mark("cache_off")
        return dict(info)
    cache_key = f"massive:points:{tax_id}"
    try:
        cached = await ctx.redis.get(cache_key)
    except RedisError:
        ctx.log(f"Cache unavailable for {tax_id}, querying CRM")
        ctx.mark("cache_error")
        info = await ctx.call("crm")
        ctx.mark("cache_fallback")
        return dict(info)
    if cached is not None:
        ctx.log(f"Cache HIT for {tax_id}")
        ctx.mark("cache_hit")
        return dict(json.loads(cached))
    ctx.log(f"Cache MISS for {tax_id}, querying CRM")
    info = await ctx.call("crm")
    try:
        await ctx.redis.set(cache_key, json.dumps(info), px=round(ttl_s * 1000))
    except RedisError:
        ctx.mark("cache_error")
    ctx.mark("cache_miss")
    return dict(info)


async def release(ctx: Context, key: str, token: str) -> None:
    """Compare-and-delete: a worker whose lock expired never deletes the lock another worker holds now."""
    ctx.mark("lock_released")
    try:
        deleted = await ctx.redis.eval(RELEASE, 1, key, token)
    except RedisError:
        return  # the TTL frees it
    if not deleted:
        ctx.mark("lock_lost")
