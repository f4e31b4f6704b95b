"""asyncio on simulated time: what a team's handler awaits behaves as on a real loop, and no wall time passes."""

from __future__ import annotations

import asyncio
import datetime
import time

import pytest

from sim.world.event_loop import MAX_STEPS_AT_ONE_INSTANT
from tests.code.kit import BareLoop

REAL_MONOTONIC = time.monotonic


def test_sleep_moves_simulated_time_by_exactly_its_seconds_and_no_wall_time():
    bare = BareLoop()

    async def main():
        loop = asyncio.get_running_loop()
        stamps = [loop.time()]
        for seconds in (0.1, 2.5, 3600.0):
            await asyncio.sleep(seconds)
            stamps.append(loop.time())
        return stamps

    started = REAL_MONOTONIC()
    assert bare.run(main) == [0.0, 0.1, 2.6, 3602.6]
    assert REAL_MONOTONIC() - started < 5.0  # an hour simulated, nothing like it waited


def test_time_module_reads_the_simulated_clock_inside_a_run():
    bare = BareLoop()

    async def main():
        await asyncio.sleep(42.0)
        return time.monotonic(), time.perf_counter(), time.time(), time.time_ns(), time.monotonic_ns()

    monotonic, perf, wall, wall_ns, mono_ns = bare.run(main)
    assert monotonic == perf == 42.0
    assert wall == 1_000_042.0 and wall_ns == 1_000_042_000_000_000 and mono_ns == 42_000_000_000
    assert time.time() > 1.7e9  # outside the run: the real clock again


def test_gather_create_task_and_call_later_interleave_on_simulated_time():
    bare = BareLoop()
    order: list[tuple[str, float]] = []

    async def worker(name: str, seconds: float) -> str:
        await asyncio.sleep(seconds)
        order.append((name, asyncio.get_running_loop().time()))
        return name

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(1.5, lambda: order.append(("timer", loop.time())))
        background = asyncio.create_task(worker("c", 3.0))
        names = await asyncio.gather(worker("a", 2.0), worker("b", 1.0))
        await background
        return names

    assert bare.run(main) == ["a", "b"]
    assert order == [("b", 1.0), ("timer", 1.5), ("a", 2.0), ("c", 3.0)]


def test_wait_for_and_timeout_expire_on_simulated_time():
    bare = BareLoop()

    async def main():
        loop = asyncio.get_running_loop()
        outcomes = []
        try:
            await asyncio.wait_for(asyncio.sleep(10.0), timeout=2.0)
        except TimeoutError:
            outcomes.append(("wait_for", loop.time()))
        try:
            async with asyncio.timeout(3.0):
                await asyncio.sleep(10.0)
        except TimeoutError:
            outcomes.append(("timeout", loop.time()))
        outcomes.append(("done", await asyncio.wait_for(asyncio.sleep(1.0, result="ok"), timeout=5.0)))
        return outcomes

    assert bare.run(main) == [("wait_for", 2.0), ("timeout", 5.0), ("done", "ok")]


def test_event_lock_and_queue_hand_over_in_order_on_simulated_time():
    bare = BareLoop()

    async def main():
        loop = asyncio.get_running_loop()
        lock, event, queue = asyncio.Lock(), asyncio.Event(), asyncio.Queue()
        held: list[tuple[str, float]] = []

        async def hold(name: str) -> None:
            async with lock:
                held.append((name, loop.time()))
                await asyncio.sleep(1.0)

        async def produce() -> None:
            for item in range(3):
                await asyncio.sleep(0.5)
                await queue.put(item)
            event.set()

        await asyncio.gather(hold("first"), hold("second"), produce())
        await event.wait()
        items = [queue.get_nowait() for _ in range(queue.qsize())]
        return held, items, loop.time()

    held, items, ended = bare.run(main)
    assert held == [("first", 0.0), ("second", 1.0)]
    assert items == [0, 1, 2] and ended == 2.0


def test_datetime_now_reads_the_simulated_clock_for_a_handler_module(tmp_path):
    from sim.code.clock_shims import DATETIME

    bare = BareLoop()

    async def main():
        await asyncio.sleep(3600.0)
        return DATETIME.datetime.now(datetime.UTC), DATETIME.datetime.now(), DATETIME.date.today()

    aware, naive, today = bare.run(main)
    assert aware == datetime.datetime.fromtimestamp(1_003_600.0, datetime.UTC)
    assert naive == aware.replace(tzinfo=None)  # local time is UTC in a simulation
    assert today == aware.date() and isinstance(aware, datetime.datetime)


def test_a_loop_that_never_lets_time_pass_is_stopped():
    bare = BareLoop()

    async def main():
        while True:
            await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match=f"{MAX_STEPS_AT_ONE_INSTANT:,} callbacks at one simulated instant"):
        bare.run(main)


def test_sleep_jitter_applies_to_the_codes_sleeps_only():
    bare = BareLoop(jitter=lambda seconds: seconds + 0.25)

    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(1.0)  # jittered: a timer of the code
        slept = loop.time()
        try:
            async with asyncio.timeout(1.0):  # a deadline, not a sleep: never jittered
                await asyncio.Event().wait()
        except TimeoutError:
            pass
        return slept, loop.time()

    assert bare.run(main) == (1.25, 2.25)


def test_the_same_seed_gives_the_same_randomness_and_another_seed_another():
    import os
    import random
    import secrets
    import uuid

    async def draws():
        await asyncio.sleep(1.0)
        unseeded = random.Random().random()
        return (random.random(), uuid.uuid4(), secrets.token_hex(8), os.urandom(4), uuid.uuid1(), unseeded)

    first, again, other = BareLoop(seed=5).run(draws), BareLoop(seed=5).run(draws), BareLoop(seed=6).run(draws)
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    assert first[4].time == round((1_000_001.0) * 1e7) + 0x01B21DD213814000  # uuid1 stamps the simulated time
