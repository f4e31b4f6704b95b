"""A team's handler in a run: outcomes, marks, service calls and Redis on simulated time, counted where they happen."""

from __future__ import annotations

import dataclasses

import pytest

from sim.metrics import invariants
from sim.metrics.records import Outcome, Source
from tests.code.kit import handler_scenario, run

ONE = '["0s"]'


def records(tmp_path, code, messages=ONE, extra=""):
    [result] = run(handler_scenario(tmp_path, code, messages=messages, extra=extra))
    assert result.violations == ()
    return result.records


def test_each_kind_of_reply_is_the_messages_outcome_at_the_instant_it_was_made(tmp_path):
    got = records(
        tmp_path,
        """
        import asyncio
        async def handle(message, ctx):
            await asyncio.sleep(1.5)
            await ctx.reply(["answered", "busy", "failed"][message.id])
            await asyncio.sleep(2.0)
        """,
        messages='["0s", "10s", "20s"]',
    )
    assert [r.outcome for r in got] == [Outcome.ANSWERED, Outcome.BUSY, Outcome.FAILED]
    assert [r.reply_at for r in got] == [1.5, 11.5, 21.5] and [r.done_at for r in got] == [3.5, 13.5, 23.5]


def test_no_reply_is_its_own_outcome_and_an_exception_fails_the_message_with_its_type(tmp_path):
    got = records(
        tmp_path,
        """
        async def handle(message, ctx):
            if message.id == 1:
                raise KeyError("missing")
            if message.id == 2:
                await ctx.reply("answered")
                raise ValueError("after the reply")
        """,
        messages='["0s", "1s", "2s"]',
    )
    assert [(r.outcome, r.error) for r in got] == [
        (Outcome.NO_REPLY, ""),
        (Outcome.FAILED, "KeyError"),
        (Outcome.ANSWERED, "ValueError"),  # what the customer saw stands
    ]


def test_a_second_reply_or_an_unknown_mark_is_the_handlers_error(tmp_path):
    got = records(
        tmp_path,
        """
        async def handle(message, ctx):
            if message.id == 0:
                await ctx.reply("answered")
                await ctx.reply("busy")
            else:
                ctx.mark("lock_acquired")  # its attempts are missing
        """,
        messages='["0s", "1s"]',
    )
    assert [(r.outcome, r.error) for r in got] == [(Outcome.ANSWERED, "ReplyError"), (Outcome.FAILED, "MarkError")]


def test_marks_fill_the_lock_and_cache_fields_at_the_instants_they_were_made(tmp_path):
    [r] = records(
        tmp_path,
        """
        import asyncio
        async def handle(message, ctx):
            ctx.mark("lock_asked")
            await asyncio.sleep(0.3)
            ctx.mark("lock_acquired", attempts=4)
            await asyncio.sleep(1.0)
            ctx.mark("cache_hit")
            ctx.mark("lock_extended")
            await ctx.reply("answered")
            ctx.mark("lock_released")
            ctx.mark("lock_lost")
        """,
    )
    assert (r.lock_asked_at, r.acquired_at, r.lock_attempts, r.lock_wait) == (0.0, 0.3, 4, 0.3)
    assert (r.source, r.cache_checked_at, r.lock_refreshed_at, r.released_at, r.lock_lost) == (
        Source.HIT,
        1.3,
        1.3,
        1.3,
        True,
    )


def test_an_unmarked_handler_leaves_the_lock_and_cache_fields_never(tmp_path):
    [r] = records(tmp_path, "async def handle(message, ctx):\n    await ctx.reply('answered')\n")
    assert (r.lock_asked_at, r.acquired_at, r.source, r.lock_attempts) == (None, None, None, 0)


def test_service_calls_wait_their_planned_latency_and_are_counted_per_message(tmp_path):
    [r] = records(
        tmp_path,
        """
        async def handle(message, ctx):
            outage = await ctx.call("crm")
            text = await ctx.call("llm")
            ok = outage == {"points": ["point-1", "point-2"], "in_outage": False} and text == "answer to message 1"
            await ctx.reply("answered" if ok else "failed")
        """,
    )
    assert r.outcome == Outcome.ANSWERED and (r.crm_calls, r.llm_calls) == (1, 1) and r.llm_called
    assert 8.0 <= r.crm_s <= 10.0 and 15.0 <= r.llm_s <= 20.0
    assert r.reply_at == pytest.approx(r.crm_s + r.llm_s, abs=1e-9)


def test_a_service_past_its_timeout_raises_at_the_timeout_and_an_unknown_one_is_an_error(tmp_path):
    got = records(
        tmp_path,
        """
        from sim.code import ServiceTimeout
        async def handle(message, ctx):
            if message.id == 1:
                await ctx.call("billing")
            try:
                await ctx.call("llm")
            except ServiceTimeout:
                await ctx.reply("failed")
        """,
        messages='["0s", "30s"]',
        extra="[services.llm_timeout]\n".replace("[services.llm_timeout]\n", ""),
    )
    assert got[1].error == "ValueError"
    path = handler_scenario(
        tmp_path,
        """
        from sim.code import ServiceTimeout
        async def handle(message, ctx):
            try:
                await ctx.call("llm")
            except ServiceTimeout:
                await ctx.reply("failed")
        """,
        messages=ONE,
    )
    path.write_text(path.read_text().replace("installation_points = 2", 'installation_points = 2\nllm_timeout = "12s"'))
    [result] = run(path)
    [r] = result.records
    assert (r.outcome, r.reply_at, r.llm_s, r.llm_calls) == (Outcome.FAILED, 12.0, 12.0, 1)


def test_every_command_costs_a_round_trip_and_is_counted_where_the_server_ran_it(tmp_path):
    [r] = records(
        tmp_path,
        """
        async def handle(message, ctx):
            r = ctx.redis
            await r.set("k", 1)
            await r.incr("k")
            value = await r.get("k")
            async with r.pipeline(transaction=True) as pipe:  # MULTI, 2 commands, EXEC: one write
                pipe.incr("k").incr("k")
                first, second = await pipe.execute()
            async with r.pipeline(transaction=False) as pipe:
                pipe.get("k").get("nothing").set("x", "y")
                got = await pipe.execute()
            ok = value == b"2" and (first, second) == (3, 4) and got == [b"4", None, True]
            await ctx.reply("answered" if ok else "failed")
        """,
    )
    assert r.outcome == Outcome.ANSWERED
    assert r.redis_commands == 3 + 4 + 3
    assert r.reply_at == pytest.approx(5 * 0.001)  # three commands, then one round trip per pipeline


def test_scripts_keys_ttls_and_blocking_pops_run_on_simulated_time(tmp_path):
    got = records(
        tmp_path,
        """
        import asyncio
        INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
        async def handle(message, ctx):
            r = ctx.redis
            if message.id == 0:
                script = r.register_script(INCR_BY)
                total = await script(keys=["n"], args=[5]) + await script(keys=["n"], args=[1])
                await r.set("short", "v", px=1000)
                await asyncio.sleep(0.9)
                alive = await r.get("short")
                await asyncio.sleep(0.2)
                gone = await r.get("short")
                popped = await r.blpop(["queue"], timeout=30)  # message 1 pushes at 10 s
                ok = total == 11 and alive == b"v" and gone is None and popped == (b"queue", b"hello")
                await ctx.reply("answered" if ok else "failed")
            else:
                await r.rpush("queue", "hello")
                await ctx.reply("answered")
        """,
        messages='["0s", "10s"]',
    )
    assert [r.outcome for r in got] == [Outcome.ANSWERED, Outcome.ANSWERED]
    # EVALSHA (NOSCRIPT), SCRIPT LOAD, EVALSHA, EVALSHA; SET, GET, GET; BLPOP
    assert got[0].redis_commands == 8
    assert got[0].reply_at == pytest.approx(10.0 + 0.001)  # the push ran at 10 s, the pop's reply a round trip later


def test_pub_sub_between_two_messages(tmp_path):
    got = records(
        tmp_path,
        """
        import asyncio
        async def handle(message, ctx):
            r = ctx.redis
            if message.id == 0:
                async with r.pubsub() as channel:
                    await channel.subscribe("news")
                    while True:
                        got = await channel.get_message(ignore_subscribe_messages=True, timeout=60)
                        if got is not None:
                            break
                await ctx.reply("answered" if got["data"] == b"outage" else "failed")
            else:
                receivers = await r.publish("news", "outage")
                await ctx.reply("answered" if receivers == 1 else "failed")
        """,
        messages='["0s", "5s"]',
    )
    assert [r.outcome for r in got] == [Outcome.ANSWERED, Outcome.ANSWERED]
    assert got[0].reply_at == pytest.approx(5.0 + 0.001)  # published at 5 s, heard a round trip later


def test_redis_down_reaches_the_code_as_redis_pys_connection_error(tmp_path):
    [r] = records(
        tmp_path,
        """
        import redis.exceptions
        async def handle(message, ctx):
            try:
                await ctx.redis.get("k")
            except redis.exceptions.ConnectionError:
                await ctx.reply("failed")
        """,
        extra='[[faults]]\nkind = "redis_down"\nstart = "0s"\nduration = "10m"\n',
    )
    assert r.outcome == Outcome.FAILED and r.redis_commands == 0  # refused: nothing was executed
    assert r.reply_at > 0  # redis-py's own retries, with backoff, on simulated time


def test_a_restart_loses_every_key_and_breaks_a_blocked_pop_which_redis_py_sends_again(tmp_path):
    got = records(
        tmp_path,
        """
        import asyncio, redis.exceptions
        async def handle(message, ctx):
            r = ctx.redis
            if message.id == 0:
                await r.set("k", "v")
                try:
                    await r.blpop(["never"], timeout=100)
                except redis.exceptions.ConnectionError:
                    pass
                await ctx.reply("answered" if await r.get("k") is None else "failed")
        """,
        extra='[[faults]]\nkind = "redis_restart"\nstart = "30s"\n',
    )
    assert got[0].outcome == Outcome.ANSWERED  # the key is gone
    assert got[0].redis_commands >= 4  # SET, BLPOP cut at 30 s, BLPOP again (redis-py's retry), GET
    assert got[0].reply_at > 130.0  # the second pop waited its 100 s out


def test_a_forgotten_background_task_is_cancelled_at_the_end_and_its_commands_counted_apart(tmp_path):
    [result] = run(
        handler_scenario(
            tmp_path,
            """
            import asyncio
            async def beat(r):
                while True:
                    await r.set("heartbeat", 1)
                    await asyncio.sleep(5)
            async def handle(message, ctx):
                asyncio.get_running_loop().create_task(beat(ctx.redis))
                await asyncio.sleep(0)
                await ctx.reply("answered")
            """,
            messages='["0s", "60s"]',
        )
    )
    assert result.violations == ()
    assert [r.redis_commands for r in result.records] == [1, 1]
    assert result.world.late_commands > 0
    assert result.world.redis_commands == 2 + result.world.late_commands


def test_the_conservation_check_catches_a_command_no_record_accounts_for(tmp_path):
    [result] = run(
        handler_scenario(tmp_path, "async def handle(message, ctx):\n    await ctx.redis.get('k')\n", messages=ONE)
    )
    tampered = dataclasses.replace(result.world, redis_commands=result.world.redis_commands + 1)
    broken = invariants.check(result.records, expected=1, workers=10, lock_ttl=120.0, world=tampered, builtin=False)
    assert broken == ["the messages account for 1 Redis commands of 2 sent"]


def test_only_the_checks_any_handler_keeps_apply_to_a_teams_code(tmp_path):
    """Two holders of one lock are a finding about the team's code, not a bug of the simulator."""
    [result] = run(
        handler_scenario(
            tmp_path,
            """
            import asyncio
            async def handle(message, ctx):
                ctx.mark("lock_acquired", attempts=1)  # no lock at all: every message "holds" it
                await asyncio.sleep(20)
                await ctx.reply("answered")
            """,
            messages='["0s", "1s"]',
        )
    )
    assert result.violations == ()
    assert invariants.check(result.records, expected=2, workers=10, lock_ttl=120.0) != []  # the built-in's rule


def test_customers_who_wait_hear_a_teams_replies_and_async_workers_start_every_message_at_once(tmp_path):
    extra = """
    [workers]
    model = "async"

    [workload.conversations]
    sessions_per_hour = 120
    messages = 2
    think = "5s"
    impatience = "1h"
    """
    path = handler_scenario(
        tmp_path,
        """
        import asyncio
        async def handle(message, ctx):
            ctx.log(f"handling {message.id}")
            await asyncio.sleep(2.0)
            await ctx.reply("answered")
        """,
        messages='["0s"]',
        extra=extra,
    )
    text = path.read_text().replace("[workload]\n", "[workload]\ncustomers_per_hour = 0\n")
    path.write_text(text.replace("replications = 2", 'replications = 2\nduration = "10m"'))
    [result] = run(path, trace=True)
    assert result.violations == ()
    talks = result.conversations
    assert talks and all(t.answered == t.intents == 2 for t in talks if t.started < 500)  # each heard its replies
    assert all(r.queue_wait == 0.0 for r in result.records)  # async: no message waits for a worker
    assert any("handling 0" in line for line in result.trace)


def test_sim_tune_searches_a_teams_own_setting(tmp_path, capsys):
    from sim.cli import main

    path = handler_scenario(
        tmp_path,
        """
        import asyncio
        async def handle(message, ctx):
            await asyncio.sleep(ctx.settings["think_s"])
            await ctx.reply("answered")
        """,
        messages='["0s", "1s", "2s"]',
        extra="[code.settings]\nthink_s = 5\n",
    )
    code = main(["tune", str(path), "--space", "code.settings.think_s=1..9", "--objective", "latency_p50_s",
                 "--trials", "3", "--replications", "2", "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = (tmp_path / "out" / "code-test-tune" / "report.md").read_text()
    block = report[report.index("[variants.tuned]") :].split("```")[0]
    assert '[variants.tuned.code]\nhandler = "bot.py:handle"' in block and "settings = { think_s = " in block
    pasted = path.read_text() + "\n" + block  # the block pastes into the scenario as it is
    path.write_text(pasted)
    from sim.scenario.load import load_scenario

    tuned = load_scenario(path).variant("tuned")
    assert 1 <= tuned.code.settings["think_s"] <= 9
