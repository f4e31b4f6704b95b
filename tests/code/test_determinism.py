"""Same scenario and seed, same bytes: on one process or two, under any hash seed, for code that draws randomness."""

from __future__ import annotations

import json

import pytest

from tests.code.kit import handler_scenario, run
from tests.helpers import sim_process

RANDOM_CODE = """
import asyncio, os, random, secrets, uuid

async def side(r, name):
    await asyncio.sleep(random.random())
    await r.sadd("seen", name)

async def handle(message, ctx):
    token = uuid.uuid4().hex + secrets.token_hex(4) + os.urandom(2).hex()
    names = {f"{message.customer}-{k}-{token[:4]}" for k in range(5)}
    await asyncio.gather(*(side(ctx.redis, n) for n in names))  # set order decides the command order
    await asyncio.sleep(random.uniform(0, 3))
    first = sorted(await ctx.redis.smembers("seen"))[0]
    await ctx.reply("answered" if first.decode() < "magna-2" else "busy")
"""


def test_a_handler_that_draws_randomness_gives_the_same_records_twice_and_others_for_another_seed(tmp_path):
    path = handler_scenario(tmp_path, RANDOM_CODE)
    [first], [again] = run(path), run(path)
    assert list(first.records) == list(again.records)
    [other] = run(path, replication=1)
    assert [r.reply_at for r in other.records] != [r.reply_at for r in first.records]


@pytest.mark.slow
def test_results_are_byte_identical_on_one_and_two_processes_and_under_any_hash_seed(tmp_path):
    path = handler_scenario(tmp_path, RANDOM_CODE)
    outputs = []
    for processes, hash_seed in ((1, "1"), (2, "random"), (1, "4242")):
        out = tmp_path / f"out-{processes}-{hash_seed}"
        done = sim_process(
            "compare", path, "--out", out, "--processes", processes, "--quiet", env={"PYTHONHASHSEED": hash_seed}
        )
        assert done.returncode == 0, done.stderr
        results = json.loads((out / "code-test" / "results.json").read_text())
        outputs.append(json.dumps(results["variants"], sort_keys=True))
        outputs.append((out / "code-test" / "records.csv").read_bytes())
    assert outputs[0] == outputs[2] == outputs[4] and outputs[1] == outputs[3] == outputs[5]
