"""How reports round numbers: one place, so results.json, `sim run --json`, the sweep's
results.json and records.csv agree on every digit.

Display values are rounded to DECIMALS places (a microsecond, for the times in seconds),
so that they read the same on any machine whatever its last-bit float noise; whole
numbers (counts) stay whole. A metric that does not apply (NaN in the results model) is
None here, `null` in every JSON file: NaN is not JSON.
"""

from __future__ import annotations

import math

from sim.metrics.stats import Estimate

DECIMALS = 6  # a microsecond of simulated time; far below anything a metric can resolve


def rounded(value: float) -> float | None:
    """A display value: an int as it is, NaN (not applicable) or ±inf (no bound) None, any other number rounded to
    DECIMALS places: strict JSON has no NaN or Infinity."""
    if isinstance(value, int):
        return value
    return round(float(value), DECIMALS) if math.isfinite(value) else None


def rounded_estimate(e: Estimate) -> dict[str, float | None]:
    """An estimate's mean and 95 % interval as display values."""
    return {"mean": rounded(e.mean), "low": rounded(e.low), "high": rounded(e.high)}


def decimal_text(value: float) -> str:
    """A number as plain decimal text: at most DECIMALS places, no trailing zeros, never an
    exponent (a spreadsheet or `cut` reads 0.000123 the same everywhere, 1.23e-04 not)."""
    text = f"{round(value, DECIMALS):.{DECIMALS}f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return "0" if text == "-0" else text
