"""Typed access to one TOML table that remembers which keys were read.

Every error names the file, the `[section]key` and what is allowed, in one
line. `done()` rejects any key nobody read, so a typo never passes silently.
"""

from __future__ import annotations

import math
import re
from typing import Any, NoReturn

from sim.scenario.model import ScenarioError

MISSING: Any = object()
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
MAX_DURATION = 1000 * 86400.0  # beyond this a value is a typo, and floats lose the millisecond
DURATION_HELP = "a duration such as '100ms', '30s', '5m', '1h' or a number of seconds"


class Reader:
    def __init__(self, file: str, section: str, data: dict[str, Any]) -> None:
        self.file = file
        self.section = section
        self.data = data
        self.used: list[str] = []

    def fail(self, key: str, message: str) -> NoReturn:
        where = f"[{self.section}]{key}" if self.section else key
        raise ScenarioError(f"{self.file}: {where}: {message}")

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

    def duration(self, key: str, default: Any = MISSING, *, positive: bool = False, minimum: float = 0.0) -> float:
        value = self.raw(key, default)
        seconds = parse_duration(value)
        if seconds is None:
            self.fail(key, f"expected {DURATION_HELP}, got {value!r}")
        if seconds < 0 or (positive and seconds == 0):
            self.fail(key, f"must be {'greater than zero' if positive else 'zero or more'}, got {value!r}")
        if seconds < minimum:
            self.fail(key, f"must be at least {minimum * 1000:g} ms, got {value!r}")
        if seconds > MAX_DURATION:
            self.fail(key, f"must be at most 1000 days, got {value!r}")
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
        if isinstance(value, bool) or not isinstance(value, allowed) or not math.isfinite(value):
            self.fail(key, f"expected {kind} >= {minimum:g}, got {value!r}")
        if value < minimum:
            self.fail(key, f"must be >= {minimum:g}, got {value!r}")
        if value > maximum:
            self.fail(key, f"must be <= {maximum:g}, got {value!r}")
        return value

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {value!r}")
        return value

    def string(self, key: str, default: Any = MISSING, *, choices: tuple[str, ...] = ()) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {value!r}")
        if choices and value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def list_of(self, key: str, default: Any = MISSING) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {value!r}")
        return value

    def table(self, key: str) -> Reader | None:
        """The sub-table `key` as a Reader, or None when absent."""
        value = self.raw(key, None)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {value!r}")
        return Reader(self.file, f"{self.section}.{key}" if self.section else key, value)

    def tables(self, key: str) -> list[Reader]:
        """An array of tables (`[[section.key]]`) as Readers."""
        items = self.list_of(key, [])
        readers = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(key, f"entry {i + 1} must be a table, got {item!r}")
            readers.append(Reader(self.file, f"{self.section}.{key}#{i + 1}", item))
        return readers

    def done(self) -> None:
        for key in self.data:
            if key not in self.used:
                allowed = ", ".join(self.used) or "nothing"
                self.fail(key, f"unknown key (allowed here: {allowed})")


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or a '30s'-style string; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return None
