"""Code a simulation cannot run truthfully ends the run: one line naming the handler's line and the message, exit 3."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.world import code_engine
from tests.code.kit import handler_scenario

CASES = {
    "blocking sleep": (
        "import time\nasync def handle(message, ctx):\n    time.sleep(0.1)\n",
        "bot.py:3",
        "time.sleep(0.1)",
    ),
    "real socket": (
        "import socket\nasync def handle(message, ctx):\n    socket.create_connection(('crm.example', 443))\n",
        "bot.py:3",
        "would reach the real network",
    ),
    "asyncio socket": (
        "import asyncio\nasync def handle(message, ctx):\n    await asyncio.open_connection('crm.example', 443)\n",
        "bot.py:3",
        "would open a real socket",
    ),
    "busy at one instant": (
        "import asyncio\nasync def handle(message, ctx):\n    while True:\n        await asyncio.sleep(0)\n",
        "bot.py",
        "callbacks at one simulated instant",
    ),
    "never finishes": (
        "import asyncio\nasync def handle(message, ctx):\n    await asyncio.Event().wait()\n",
        "bot.py",
        "never finished: it waits for something that can never happen",
    ),
    "runs away on simulated time": (
        "import asyncio\nasync def handle(message, ctx):\n    while True:\n        await asyncio.sleep(60)\n",
        "bot.py",
        "still running 3600 s after it started at 0 s ([code]max_handling)",
    ),
    # Found by a hostile tester: sys.exit() in a handler made `sim compare` exit 0 with no report, os._exit
    # left a worker pool waiting forever, a real thread kept the process alive after its results.
    "sys.exit in the handler": (
        "import sys\nasync def handle(message, ctx):\n    sys.exit(0)\n",
        "bot.py:3",
        "called sys.exit(0): a bot's process would end here",
    ),
    "sys.exit in a task it starts": (
        "import asyncio, sys\nasync def boom():\n    sys.exit(0)\nasync def handle(message, ctx):\n"
        "    asyncio.get_running_loop().create_task(boom())\n    await asyncio.sleep(1)\n",
        "bot.py:3",
        "called sys.exit(0)",
    ),
    "os._exit": (
        "import os\nasync def handle(message, ctx):\n    os._exit(7)\n",  # 7: if it got through, pytest fails
        "bot.py:3",
        "os._exit would end or signal the simulator's own process",
    ),
    "a signal to itself": (
        "import os\nasync def handle(message, ctx):\n    os.kill(os.getpid(), 0)\n",
        "bot.py:3",
        "os.kill would end or signal the simulator's own process",
    ),
    "a real thread": (
        "import threading\nasync def handle(message, ctx):\n    threading.Thread(target=print).start()\n",
        "bot.py:3",
        "threading.Thread.start would run code on a real thread",
    ),
    "GeneratorExit": (
        "async def handle(message, ctx):\n    raise GeneratorExit()\n",
        "bot.py:2",
        "raised GeneratorExit, a BaseException that ends the event loop, not one message",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_code_that_cannot_be_simulated_stops_the_run_with_one_line_and_exit_3(tmp_path, capsys, case):
    code, where, what = CASES[case]
    path = handler_scenario(tmp_path, code, messages='["0s"]')
    assert main(["run", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"{tmp_path}/{where}" in err and "handler bot.py:handle, message 0" in err and what in err


def test_a_step_that_never_yields_to_the_loop_is_stopped_after_the_hang_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(code_engine, "HUNG_AFTER", 0.5)
    endless = "async def handle(message, ctx):\n    while True:\n        pass\n"
    path = handler_scenario(tmp_path, endless, messages='["0s"]')
    assert main(["run", str(path)]) == 3
    err = capsys.readouterr().err
    assert "handler bot.py:handle, message 0" in err and "without yielding to the loop" in err


def test_max_handling_is_the_scenarios_to_set(tmp_path, capsys):
    code = "import asyncio\nasync def handle(message, ctx):\n    await asyncio.sleep(100)\n"
    path = handler_scenario(tmp_path, code, messages='["0s"]', extra='max_handling = "50s"\n')  # in [code]
    assert main(["run", str(path)]) == 3
    assert "still running 50 s after it started" in capsys.readouterr().err


def test_the_run_lock_and_the_shared_random_state_are_given_back_after_a_runaway(tmp_path):
    import random

    from sim.code.containment import RUN_LOCK

    random.seed(123)
    expected = random.random()
    random.seed(123)
    path = handler_scenario(tmp_path, CASES["blocking sleep"][0], messages='["0s"]')
    assert main(["run", str(path)]) == 3
    assert not RUN_LOCK.locked() and random.random() == expected


@pytest.mark.parametrize(
    "code",
    [
        "import asyncio\nasync def handle(message, ctx):\n    raise asyncio.CancelledError()\n",
        "import asyncio\nasync def handle(message, ctx):\n"
        "    asyncio.current_task().cancel()\n    await asyncio.sleep(1)\n",
    ],
    ids=["raises CancelledError", "cancels its own task"],
)
def test_a_handler_that_cancels_itself_fails_its_message_and_the_run_goes_on(tmp_path, capsys, code):
    """Both printed a 45-line traceback and exited 1 (the threshold code)."""
    path = handler_scenario(tmp_path, code, messages='["0s", "1s"]')
    assert main(["run", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and '"failed": 2' in out and '"handler_errors": 2' in out
