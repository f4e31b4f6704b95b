"""Our support bot's message handler, as it runs in production (asyncio + redis-py)."""

import asyncio
import json

from redis.exceptions import RedisError


async def handle(message, ctx):
    lock = f"lock:{message.customer}"
    if not await acquire(ctx, lock, message.id):
        await ctx.reply("busy")  # "Sorry, I am still processing your previous message"
        return
    try:
        outage = await ctx.call("crm")  # 8–10 s: is the customer in a regional outage?
        await ctx.call("llm")  # 15–20 s: the answer
        await ctx.reply("answered")
    except Exception:
        await ctx.reply("failed")
    finally:
        await ctx.redis.delete(lock)


async def acquire(ctx, lock, owner):
    """Retry every 100 ms for up to 30 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    attempts = 0
    while True:
        attempts += 1
        if await ctx.redis.set(lock, owner, nx=True, px=120_000):
            ctx.mark("lock_acquired", attempts=attempts)
            return True
        if loop.time() >= deadline:
            ctx.mark("lock_busy", attempts=attempts)
            return False
        await asyncio.sleep(0.1)
