"""mypy checks what a step may yield and what it returns (`Effect`, `Step[T]`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import ROOT


def _mypy(*paths: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *map(str, paths)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_system_under_test_passes_mypy_strict(tmp_path):
    checked = _mypy("sim/sut", cache=tmp_path)
    assert checked.returncode == 0, checked.stdout


def test_the_whole_package_passes_mypy_strict(tmp_path):
    checked = _mypy("sim", cache=tmp_path)  # pyproject.toml's overrides say, with reasons, what is let off
    assert checked.returncode == 0, checked.stdout


def test_mypy_rejects_a_step_that_yields_a_non_effect_or_returns_the_wrong_type(tmp_path):
    misuse = tmp_path / "misuse.py"
    misuse.write_text(
        textwrap.dedent(
            """
            from sim.sut.effects import Step
            from sim.sut.lock import ThreadLock

            def returns_the_acquisition_as_an_int(lock: ThreadLock) -> Step[int]:
                got = yield from lock.acquire("thread", "token")
                return got

            def yields_a_number() -> Step[None]:
                yield 42
            """
        )
    )
    checked = _mypy(misuse, cache=tmp_path / "cache")
    assert 'misuse.py:7: error: Incompatible return value type (got "Acquisition", expected "int")' in checked.stdout
    assert 'misuse.py:10: error: Incompatible types in "yield"' in checked.stdout
