"""Run a scenario's variants: the glue between scenario, world and metrics."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sim.metrics.summary import summarize
from sim.scenario.model import Scenario
from sim.world.model import RunResult, simulate


@dataclass(frozen=True, slots=True)
class VariantRun:
    run: RunResult
    metrics: dict[str, float]


def select(scenario: Scenario, variant: str | None = None, seed: int | None = None) -> Scenario:
    """The scenario narrowed to one variant and/or re-seeded (from the command line)."""
    if variant is not None:
        chosen = scenario.variant(variant)
        scenario = dataclasses.replace(scenario, variants=(chosen,), baseline=chosen.name)
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    return scenario


def run_once(scenario: Scenario, replication: int = 0, *, trace: bool = False) -> dict[str, VariantRun]:
    """Every variant on the same replication's random streams."""
    results = {}
    for variant in scenario.variants:
        run = simulate(scenario, variant, replication, trace=trace)
        results[variant.name] = VariantRun(run, summarize(run.records))
    return results
