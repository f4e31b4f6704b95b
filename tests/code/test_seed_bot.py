"""One engine: the seed's bot written as a team writes it (examples/seed-bot/bot.py, plain asyncio and
redis-py) gives the built-in bot's records message for message, and both client paths agree."""

from __future__ import annotations

import pytest

from sim.scenario.load import load_scenario
from sim.world.model import simulate
from tests.helpers import MAGNA, PEAK_HOUR, ROOT

SEED_BOT = ROOT / "examples" / "seed-bot"


def assert_same_messages(builtin, handler):
    assert len(builtin.records) == len(handler.records)
    for a, b in zip(builtin.records, handler.records, strict=True):
        assert (a.message, a.outcome, a.lock_attempts, a.source) == (b.message, b.outcome, b.lock_attempts, b.source)
        assert abs(a.reply_at - b.reply_at) < 1e-6 and abs(a.done_at - b.done_at) < 1e-6
        assert (a.redis_commands, a.crm_calls, a.llm_calls, a.lock_lost) == (
            b.redis_commands,
            b.crm_calls,
            b.llm_calls,
            b.lock_lost,
        )
    assert builtin.violations == handler.violations == ()


@pytest.mark.parametrize("replication", [0, 1, 2])
def test_the_seed_bot_as_a_teams_handler_equals_the_built_in_bot_on_magna(replication):
    builtin, handler = load_scenario(MAGNA), load_scenario(SEED_BOT / "magna.toml")
    for a, b in zip(builtin.variants, handler.variants, strict=True):
        assert_same_messages(simulate(builtin, a, replication), simulate(handler, b, replication))


@pytest.mark.slow
def test_the_seed_bot_as_a_teams_handler_equals_the_built_in_bot_on_peak_hour():
    builtin, handler = load_scenario(PEAK_HOUR), load_scenario(SEED_BOT / "peak-hour.toml")
    for a, b in zip(builtin.variants, handler.variants, strict=True):
        assert_same_messages(simulate(builtin, a, 0), simulate(handler, b, 0))


@pytest.mark.slow
def test_the_client_shortcut_gives_the_records_of_redis_pys_own_pool_path():
    handler = load_scenario(SEED_BOT / "magna.toml")
    for variant in handler.variants:
        fast = simulate(handler, variant, 0, redis_path="direct")
        reference = simulate(handler, variant, 0, redis_path="redis-py")
        assert list(fast.records) == list(reference.records)
