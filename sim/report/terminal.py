"""What a terminal shows: the plain-text table `sim run` prints and its JSON twin, and the
headline and threshold checks `sim compare` prints before the report's path."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sim.metrics.comparison import CHANGED
from sim.metrics.summary import METRICS
from sim.report.document import Block, Checks
from sim.report.headline import Headline, unchanged_clause
from sim.report.numbers import rounded
from sim.scenario.model import Scenario


def run_json(scenario: Scenario, metrics: Mapping[str, Mapping[str, float]]) -> str:
    variants = {name: {k: rounded(v) for k, v in values.items()} for name, values in metrics.items()}
    return json.dumps({"scenario": scenario.name, "seed": scenario.seed, "variants": variants}, indent=2)


def run_table(scenario: Scenario, metrics: Mapping[str, Mapping[str, float]], replication: int = 0) -> str:
    names = list(metrics)
    width = max([12, *(len(n) + 2 for n in names)])
    lines = [f"{scenario.name}: seed {scenario.seed}, replication {replication}"]
    for variant in scenario.variants:
        lines.append(f"  {variant.name}: {variant.describe()}")
    lines.append("")
    lines.append(f"{'metric':<18}" + "".join(f"{n:>{width}}" for n in names))
    for key in next(iter(metrics.values()), METRICS):  # METRICS, and the conversations' when the runs have them
        lines.append(f"{key:<18}" + "".join(f"{_cell(metrics[n][key]):>{width}}" for n in names))
    return "\n".join(lines)


def _cell(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"


def first_screen(blocks: list[Block]) -> str:
    """The headlines, a finding a line after its verdict, then the threshold checks."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Headline):
            lines.append(f"{block.variant} vs {block.baseline}:")
            width = max([len(f.verdict) for f in block.findings] + [len(CHANGED)])
            lines += [f"  {f.verdict:<{width}}  {f.text}" for f in block.findings]
            lines += [f"  {unchanged_clause(block.unchanged)}"] if block.unchanged else []
        elif isinstance(block, Checks):
            lines.append("thresholds:")
            lines += [f"  {c.mark} {c.text}" for c in block.items]
    return "\n".join(lines)
