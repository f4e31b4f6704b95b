"""What a terminal shows: the plain-text table `sim run` prints and its JSON twin, and the
headline and threshold checks `sim compare` prints before the report's path."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from sim.metrics.catalog import ALL_METRICS, METRICS
from sim.metrics.comparison import CHANGED, Comparison
from sim.report.document import Block, Checks
from sim.report.headline import Headline, headlines, rest_clauses
from sim.report.numbers import rounded
from sim.scenario.model import Scenario


def run_json(scenario: Scenario, metrics: Mapping[str, Mapping[str, float]]) -> str:
    variants = {name: {k: rounded(v) for k, v in values.items()} for name, values in metrics.items()}
    return json.dumps({"scenario": scenario.name, "seed": scenario.seed, "variants": variants}, indent=2)


def run_table(scenario: Scenario, metrics: Mapping[str, Mapping[str, float]], replication: int = 0) -> str:
    """The metrics of one run per variant, a column each, aligned whatever the names' lengths.

    A metric that does not apply to a variant's run (NaN) reads "n/a", and a note under the table
    says why; no `nan` or `inf` is ever printed.
    """
    names = list(metrics)
    keys = list(next(iter(metrics.values()), METRICS))  # METRICS, and the conversations' when the runs have them
    cells = {n: [_cell(metrics[n][k]) for k in keys] for n in names}
    label = max(len("metric"), *map(len, keys)) + 2
    widths = {n: max(12, len(n) + 2, *(len(c) + 2 for c in cells[n])) for n in names}
    lines = [f"{scenario.name}: seed {scenario.seed}, replication {replication}"]
    lines += [f"  {variant.name}: {variant.describe()}" for variant in scenario.variants]
    lines.append("")
    lines.append(f"{'metric':<{label}}" + "".join(f"{n:>{widths[n]}}" for n in names))
    lines += [f"{k:<{label}}" + "".join(f"{cells[n][i]:>{widths[n]}}" for n in names) for i, k in enumerate(keys)]
    return "\n".join(lines + _not_applicable_notes(metrics, keys))


def _not_applicable_notes(metrics: Mapping[str, Mapping[str, float]], keys: list[str]) -> list[str]:
    """One line per metric that reads n/a somewhere: which variants, and why it does not apply."""
    notes = []
    for key in keys:
        missing = [n for n, values in metrics.items() if not math.isfinite(values[key])]
        if missing:
            why = ALL_METRICS[key].undefined if key in ALL_METRICS else ""
            notes.append(f"n/a: {key} does not apply to {', '.join(missing)}" + (f" ({why})" if why else ""))
    return [""] + notes if notes else []


def _cell(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.1f}"


def headline_lines(c: Comparison | None) -> str:
    """The headlines of a comparison as `sim compare` prints them, then a blank line; empty for None."""
    return first_screen(list(headlines(c))) + "\n\n" if c is not None else ""


def first_screen(blocks: list[Block]) -> str:
    """The headlines, a finding a line after its verdict, then the threshold checks."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Headline):
            lines.append(f"{block.title}:")
            width = max([len(f.verdict) for f in block.findings] + [len(CHANGED)])
            lines += [f"  {f.verdict:<{width}}  {f.text}" for f in block.findings]
            lines += [f"  {clause}" for clause in rest_clauses(block)]
        elif isinstance(block, Checks):
            lines.append("thresholds:")
            lines += [f"  {c.mark} {c.text}" for c in block.items]
    return "\n".join(lines)
