"""`sim live` runs a team's handler as it is, against a real redis-server, and touches no key it did not create."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio

from sim.cli import main
from sim.code.namespace import Namespace, NamespacedConnection
from tests.code.kit import handler_scenario

pytestmark = pytest.mark.slow

QUICK = """
[services]
crm = "200ms"
llm = "300ms"
"""

BOT = """
import asyncio
from redis.exceptions import RedisError

async def handle(message, ctx):
    r = ctx.redis
    lock = f"lock:{message.customer}"
    attempts = 0
    while not await r.set(lock, message.id, nx=True, px=5000):
        attempts += 1
        await asyncio.sleep(0.05)
    ctx.mark("lock_acquired", attempts=attempts + 1)
    await r.incr("seen")
    await r.rpush("log", message.id)
    async with r.pipeline(transaction=True) as pipe:
        pipe.incr("seen").lrange("log", 0, -1)
        count, log = await pipe.execute()
    await ctx.call("crm")
    await ctx.call("llm")
    await ctx.reply("answered" if count >= 2 else "failed")
    await r.delete(lock)
"""


def scenario(tmp_path):
    """BOT on two messages of one customer, 100 ms apart, with services of a few hundred milliseconds."""
    path = handler_scenario(tmp_path, BOT, messages='["0s", "100ms"]')
    text = path.read_text()
    services = text[text.index("[services]") : text.index("[redis]")]
    path.write_text(text.replace(services, QUICK.lstrip() + "\n"))
    return path


def test_a_teams_handler_runs_live_and_leaves_no_key_and_touches_no_other(tmp_path, redis_url, capsys):
    client = redis.Redis.from_url(redis_url)
    client.set("someone-else:key", "untouched")
    path = scenario(tmp_path)
    assert main(["live", str(path), "--redis", redis_url, "--quiet", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"answered": 2' in out and '"failed": 0' in out
    assert sorted(client.keys("*")) == [b"someone-else:key"] and client.get("someone-else:key") == b"untouched"
    client.delete("someone-else:key")


def test_a_live_run_of_a_teams_handler_keeps_the_time_scale_at_one(tmp_path, redis_url, capsys):
    assert main(["live", str(scenario(tmp_path)), "--redis", redis_url, "--time-scale", "0.5"]) == 2
    assert "runs live at --time-scale 1" in capsys.readouterr().err


def test_the_namespaced_client_prefixes_keys_and_channels_and_refuses_the_whole_keyspace(redis_url):
    sync = redis.Redis.from_url(redis_url)
    namespace = Namespace("sim-live:t:", sync.command())

    async def exercise() -> list[object]:
        pool = redis.asyncio.ConnectionPool.from_url(
            redis_url, connection_class=NamespacedConnection, namespace=namespace
        )
        r = redis.asyncio.Redis(connection_pool=pool)
        seen: list[object] = []
        await r.mset({"a": 1, "b": 2})
        await r.rpush("q", "x")
        seen.append(await r.blpop(["q"], timeout=1))  # the key in the reply is the code's own name
        seen.append(await r.eval("return redis.call('GET', KEYS[1])", 1, "a"))
        seen.append(await r.object("encoding", "b"))
        channel = r.pubsub()
        await channel.subscribe("news")
        await r.publish("news", "hi")
        for _ in range(2):
            message = await channel.get_message(timeout=1)
            if message and message["type"] == "message":
                seen.append((message["channel"], message["data"]))
        await channel.aclose()
        for refused in (r.keys("*"), r.flushdb(), r.scan(0)):
            try:
                await refused
            except redis.exceptions.DataError as error:
                seen.append(str(error).split(":")[1].split()[0])
        await r.aclose()
        return seen

    assert asyncio.run(exercise()) == [(b"q", b"x"), b"1", b"int", (b"news", b"hi"), "KEYS", "FLUSHDB", "SCAN"]
    assert sorted(sync.keys("*")) == [b"sim-live:t:a", b"sim-live:t:b"]
    sync.delete("sim-live:t:a", "sim-live:t:b")
