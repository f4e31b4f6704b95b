"""The next version: exponential backoff for up to 60 s, and the outage check cached for 5 minutes."""

import asyncio
import json

from redis.exceptions import RedisError


async def handle(message, ctx):
    lock = f"lock:{message.customer}"
    if not await acquire(ctx, lock, message.id):
        await ctx.reply("busy")
        return
    try:
        outage = await outage_info(ctx, message.tax_id)
        await ctx.call("llm")
        await ctx.reply("answered")
    except Exception:
        await ctx.reply("failed")
    finally:
        await ctx.redis.delete(lock)


async def acquire(ctx, lock, owner):
    """Retry after 100 ms, 200 ms, 400 ms … at most 2 s apart, for up to 60 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    attempts = 0
    while True:
        attempts += 1
        if await ctx.redis.set(lock, owner, nx=True, px=120_000):
            ctx.mark("lock_acquired", attempts=attempts)
            return True
        if loop.time() >= deadline:
            ctx.mark("lock_busy", attempts=attempts)
            return False
        await asyncio.sleep(min(0.1 * 2 ** (attempts - 1), 2.0))


async def outage_info(ctx, tax_id):
    """Cache-aside: the CRM's answer kept in Redis for 300 s; Redis down means asking the CRM."""
    key = f"outage:{tax_id}"
    try:
        cached = await ctx.redis.get(key)
    except RedisError:
        cached = None
    if cached is not None:
        ctx.mark("cache_hit")
        return json.loads(cached)
    info = await ctx.call("crm")
    ctx.mark("cache_miss")
    try:
        await ctx.redis.set(key, json.dumps(info), ex=300)
    except RedisError:
        pass
    return info
