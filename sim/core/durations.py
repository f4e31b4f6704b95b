"""Durations as scenario files and flags write them: `"100ms"`, `"30s"`, `"5m"`, `"1h"` or a number of seconds.

One home for the syntax, below everything that reads one (the scenario, thresholds, flags).
"""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)\s*$")
DURATION_PATTERN = _DURATION.pattern  # the JSON Schema of scenario files (sim.scenario.schema) checks strings with it
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
MAX_DURATION = 1000 * 86400.0  # beyond this a value is a typo, and floats lose the millisecond
# The shortest duration other than zero: at t = 1000 days a float still tells t + 1 µs from t,
# so every wait a scenario asks for moves the clock (a 1e-300 s round trip never would).
MIN_DURATION = 1e-6
DURATION_HELP = "a duration such as '100ms', '30s', '5m', '1h' or a number of seconds"


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or a '30s'-style string; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # beyond float range: past every limit, which the caller names
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return None


def is_whole_ms(seconds: float) -> bool:
    """1 ms or more, a whole number of them (up to float round-off: 0.1 s × 1000 is 100.00000000000001)."""
    ms = seconds * 1000
    return ms >= 1 - 1e-9 and abs(ms - round(ms)) <= 1e-9 * max(1.0, ms)
