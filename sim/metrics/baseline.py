"""What changed against a previous run's results.json (unpaired: the code may differ)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import BaselineError
from sim.metrics.comparison import Comparison
from sim.metrics.stats import Estimate, welch_difference
from sim.metrics.summary import METRICS

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Change:
    variant: str
    metric: str
    old: float
    new: float
    difference: Estimate  # new − old, Welch interval
    significant: bool


def load_previous(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such results file") from None
    except (OSError, ValueError) as error:
        raise BaselineError(f"{path}: not a readable results.json: {error}") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise BaselineError(f"{path}: format_version must be {FORMAT_VERSION}, got {data.get('format_version')!r}")
    return data


def changes(previous: dict[str, Any], comparison: Comparison) -> list[Change]:
    """Per variant present in both runs, per metric: old mean, new mean, difference."""
    found = []
    for variant, reps in comparison.per_replication.items():
        old_variant = previous.get("variants", {}).get(variant)
        if not old_variant:
            continue
        old_reps = old_variant["replications"]
        for metric in METRICS:
            old = [float(r[metric]) for r in old_reps if metric in r]
            new = [float(r[metric]) for r in reps]
            if not old:
                continue
            diff = welch_difference(new, old)
            significant = diff.excludes_zero() or (diff.n < 2 and diff.mean != 0)
            found.append(Change(variant, metric, sum(old) / len(old), sum(new) / len(new), diff, significant))
    return found
