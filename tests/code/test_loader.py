"""`[code] handler = …`: found, imported afresh each run, and refused in one line (exit 2) when it cannot be."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.scenario.load import load_scenario
from sim.scenario.model import ScenarioError
from tests.code.kit import handler_scenario, run

REPLY = """
async def handle(message, ctx):
    await ctx.reply("answered")
"""


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def handle(message, ctx):\n    pass\n", "bot.py:1: handle must be `async def handle(message, ctx)`"),
        ("async def handle(message):\n    pass\n", "bot.py:1: handle must take two arguments, (message, ctx)"),
        ("async def other(message, ctx):\n    pass\n", "no function 'handle'"),
        ("import no_such_module\n", "bot.py:1: ModuleNotFoundError: No module named 'no_such_module'"),
        ("x = 1\nraise RuntimeError('boom')\n", "bot.py:2: RuntimeError: boom"),
        ("async def handle(message, ctx)\n    pass\n", "bot.py:1: SyntaxError"),
        # sys.exit() at import made `sim compare` exit 0 with no report; a BaseException of its own was a traceback
        ("import sys\nsys.exit(0)\n", "bot.py:2: SystemExit: 0"),
        ("class Stop(BaseException):\n    pass\nraise Stop('no')\n", "bot.py:3: Stop: no"),
    ],
)
def test_a_handler_that_cannot_run_is_one_line_naming_its_file_and_line(tmp_path, capsys, code, expected):
    path = handler_scenario(tmp_path, code)
    with pytest.raises(ScenarioError, match="scenario.toml: \\[code\\]handler: ") as caught:
        load_scenario(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert main(["run", str(path)]) == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("missing.py:handle", "no such file"),
        ("bot.py", "expected FILE.py:FUNCTION or package.module:FUNCTION"),
        ("bot.py:not-a-name", "expected FILE.py:FUNCTION"),
        ("no_such_package.module:handle", "no Python module 'no_such_package'"),
        ("os.path:join", "no Python module 'os'"),  # a compiled or frozen module is no team's handler
    ],
)
def test_a_handler_spec_that_names_nothing_importable_is_refused(tmp_path, spec, expected):
    path = handler_scenario(tmp_path, REPLY)
    path.write_text(path.read_text().replace('handler = "bot.py:handle"', f'handler = "{spec}"'))
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(path)


def test_each_run_imports_the_handler_afresh_so_module_state_starts_over(tmp_path):
    path = handler_scenario(
        tmp_path,
        """
        import helper

        async def handle(message, ctx):
            helper.SEEN.append(message.id)
            await ctx.reply("answered" if len(helper.SEEN) == message.id + 1 else "failed")
        """,
    )
    (tmp_path / "helper.py").write_text("SEEN = []\n")
    for replication in (0, 1, 0):
        [result] = run(path, replication)
        assert [r.outcome for r in result.records] == ["answered"] * 3  # no state left by an earlier run


def test_a_variant_may_run_another_version_of_the_code(tmp_path):
    path = handler_scenario(tmp_path, REPLY, extra='[variants.v1]\n[variants.v2.code]\nhandler = "bot2.py:handle"\n')
    (tmp_path / "bot2.py").write_text("async def handle(message, ctx):\n    await ctx.reply('busy')\n")
    v1, v2 = run(path)
    assert {r.outcome for r in v1.records} == {"answered"} and {r.outcome for r in v2.records} == {"busy"}


def test_settings_of_a_variant_merge_over_the_base_table_by_table(tmp_path):
    path = handler_scenario(
        tmp_path,
        REPLY,
        extra="""
        [code.settings]
        lock = { ttl = 120, timeout = 30 }
        name = "base"

        [variants.a]
        [variants.b.code.settings]
        lock = { timeout = 60 }
        """,
    )
    a, b = load_scenario(path).variants
    assert a.code.settings == {"lock": {"ttl": 120, "timeout": 30}, "name": "base"}
    assert b.code.settings == {"lock": {"ttl": 120, "timeout": 60}, "name": "base"}


def test_the_handlers_own_modules_see_the_simulated_datetime_and_never_replace_a_loaded_module(tmp_path):
    path = handler_scenario(
        tmp_path,
        """
        import asyncio
        import datetime as dt
        from datetime import datetime
        import queue  # a name the standard library has: the library's module, not a file beside the bot

        async def handle(message, ctx):
            await asyncio.sleep(3600)
            stamp = datetime.now(dt.UTC).isoformat()
            ok = stamp.startswith("2025-10-27T01:00") and hasattr(queue, "SimpleQueue")
            await ctx.reply("answered" if ok else "failed")
        """,
        messages='["0s"]',
    )
    (tmp_path / "queue.py").write_text("raise RuntimeError('a file named like a standard module was imported')\n")
    [result] = run(path)
    assert [r.outcome for r in result.records] == ["answered"]
