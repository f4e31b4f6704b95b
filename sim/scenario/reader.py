"""Typed access to one TOML table that remembers which keys were read.

Every error names the file, the `[section]key` and what is allowed, in one
line. `done()` rejects any key nobody read, so a typo never passes silently.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from sim.core.durations import DURATION_HELP, MAX_DURATION, MIN_DURATION, is_whole_ms, parse_duration
from sim.core.errors import ScenarioError
from sim.core.text import one_line, shown

MISSING: Any = object()
MAX_FLOAT = sys.float_info.max  # a TOML integer beyond this has no float: refused before float() overflows
# A setting as `--grid`, `--space` and `[tune]` name it: `lock.backoff.cap`; a team's own settings under
# `code.settings.` keep the names the team gave them (digits, capitals, '-').
SETTING_KEY = re.compile(r"[a-z_]+(\.[a-z_]+)*|code\.settings(\.[A-Za-z0-9_-]{1,64})+")


class Reader:
    def __init__(self, file: str, section: str, data: dict[str, Any]) -> None:
        self.file = file
        self.section = section
        self.data = data
        self.used: list[str] = []

    def fail(self, key: str, message: str) -> NoReturn:
        """One line, always: a key, section or file name holding a newline or an escape code is shown escaped."""
        where = f"[{self.section}]{key}" if self.section else key
        raise ScenarioError(one_line(f"{self.file}: {where}: {message}"))

    def raw(self, key: str, default: Any = MISSING) -> Any:
        if key not in self.used:
            self.used.append(key)
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            self.fail(key, "is required")
        return default

    def has(self, key: str) -> bool:
        return key in self.data

    def beside(self, key: str, name: str) -> Path:
        """The file `name` (this section's `key`) relative to the scenario file, refused when it resolves
        outside the scenario's folder (`..`, an absolute path, a symlink out): a scenario file from a
        pull request must not read the runner's files."""
        if "\0" in name:  # Path.resolve would raise ValueError
            self.fail(key, f"{shown(name[:100])}: a file name with a NUL byte")
        folder = Path(self.file).parent.resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(folder):
            self.fail(key, f"{shown(name[:100])} is outside the scenario's folder: put the file beside the scenario")
        return path

    def duration(
        self,
        key: str,
        default: Any = MISSING,
        *,
        positive: bool = False,
        minimum: float = 0.0,
        whole_ms: bool = False,
    ) -> float:
        """Seconds from 0 (or `minimum`) to 1000 days; not zero: at least 1 µs.

        `whole_ms`: a TTL Redis keeps (PX, PEXPIRE), which it counts in whole milliseconds.
        """
        value = self.raw(key, default)
        seconds = parse_duration(value)
        if seconds is None:
            self.fail(key, f"expected {DURATION_HELP}, got {shown(value)}")
        if seconds < 0 or (positive and seconds == 0):
            self.fail(key, f"must be {'greater than zero' if positive else 'zero or more'}, got {shown(value)}")
        if seconds < minimum:
            self.fail(key, f"must be at least {minimum * 1000:g} ms, got {shown(value)}")
        if seconds > MAX_DURATION:
            self.fail(key, f"must be at most 1000 days, got {shown(value)}")
        if 0 < seconds < MIN_DURATION:
            self.fail(key, f"must be 0 or at least 1 µs (1e-06 s), got {shown(value)}")
        if whole_ms and not is_whole_ms(seconds):
            self.fail(
                key, f"Redis keeps TTLs in whole milliseconds: must be 1 ms or more, in whole ms, got {shown(value)}"
            )
        return seconds

    def optional_duration(self, key: str, default: float | None, *, positive: bool = True) -> float | None:
        """A duration that may be absent (then `default`, possibly None)."""
        if key not in self.data:
            self.raw(key, None)
            return default
        return self.duration(key, positive=positive)

    def number(
        self,
        key: str,
        default: Any = MISSING,
        *,
        minimum: float = 0.0,
        maximum: float = math.inf,
        integer: bool = False,
    ) -> Any:
        value = self.raw(key, default)
        kind = "a whole number" if integer else "a number"
        allowed = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed) or _non_finite_float(value):
            self.fail(key, f"expected {kind} >= {minimum:g}, got {shown(value)}")
        # Compared as they are, before anything turns them into floats: an int and a float compare
        # exactly in Python, while `math.isfinite` or `float()` overflows on an integer of 400 digits.
        if value < minimum:
            self.fail(key, f"must be >= {minimum:g}, got {shown(value)}")
        if value > maximum:
            self.fail(key, f"must be <= {maximum:g}, got {shown(value)}")
        if value > MAX_FLOAT:
            self.fail(key, f"must be at most {MAX_FLOAT:g} (a float), got {shown(value)}")
        return value

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {shown(value)}")
        return value

    def string(self, key: str, default: Any = MISSING, *, choices: tuple[str, ...] = ()) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {shown(value)}")
        if choices and value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}, got {shown(value)}")
        return value

    def list_of(self, key: str, default: Any = MISSING) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {shown(value)}")
        return value

    def table(self, key: str) -> Reader | None:
        """The sub-table `key` as a Reader, or None when absent."""
        value = self.raw(key, None)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {shown(value)}")
        return Reader(self.file, f"{self.section}.{key}" if self.section else key, value)

    def tables(self, key: str) -> list[Reader]:
        """An array of tables (`[[section.key]]`) as Readers."""
        items = self.list_of(key, [])
        readers = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(key, f"entry {i + 1} must be a table, got {item!r}")
            section = f"{self.section}.{key}" if self.section else key  # `[faults#2]`, not `[.faults#2]`
            readers.append(Reader(self.file, f"{section}#{i + 1}", item))
        return readers

    def done(self) -> None:
        for key in self.data:
            if key not in self.used:
                allowed = ", ".join(self.used) or "nothing"
                self.fail(key, f"unknown key (allowed here: {allowed})")


def _non_finite_float(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)
