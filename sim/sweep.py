"""`sim sweep`: one variant of a scenario over a grid of settings, with replications.

`--grid lock.timeout=30s,45s,60s` names a setting the way the scenario file
does (`[lock] timeout`). Each grid point becomes a variant parsed and
validated exactly like a `[variants.NAME]` table, so errors read the same.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from sim.scenario.load import parse_variant
from sim.scenario.model import Backoff, Scenario, ScenarioError, Variant
from sim.scenario.reader import Reader

Axis = tuple[str, tuple[str, ...]]  # ("lock.timeout", ("30s", "45s", "60s"))


def parse_grid(specs: list[str]) -> list[Axis]:
    axes: list[Axis] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        parts = tuple(v.strip() for v in values.split(",") if v.strip())
        if not sep or not key.strip() or not parts:
            raise ScenarioError(f"--grid {spec!r}: expected KEY=V1,V2,… such as lock.timeout=30s,60s")
        if key.strip() in (a[0] for a in axes):
            raise ScenarioError(f"--grid {spec!r}: {key.strip()} is already on the grid")
        axes.append((key.strip(), parts))
    return axes


def grid_scenario(scenario: Scenario, axes: list[Axis], base_name: str | None = None) -> Scenario:
    """The scenario whose variants are the grid points, each derived from `base_name` (default: the baseline)."""
    base = scenario.variant(base_name or scenario.baseline)
    points = [dict(zip((k for k, _ in axes), combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]
    variants = tuple(_point_variant(base, point) for point in points)
    return dataclasses.replace(scenario, variants=variants, baseline=variants[0].name, thresholds=())


def point_name(point: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in point.items())


def _point_variant(base: Variant, point: dict[str, str]) -> Variant:
    overrides: dict[str, Any] = {}
    for key, value in point.items():
        path = key.split(".")
        table = overrides
        for part in path[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ScenarioError(f"--grid: {key} is not a setting (see scenarios/README.md)")
        table[path[-1]] = _value(value)
    backoff = overrides.get("lock", {}).get("backoff")
    if isinstance(backoff, dict):  # a backoff table replaces the whole policy: start from the base's
        overrides["lock"]["backoff"] = {**_backoff_table(base.lock.backoff), **backoff}
    return parse_variant(point_name(point), Reader("--grid", "", overrides), base)


def _backoff_table(backoff: Backoff) -> dict[str, Any]:
    if backoff.kind == "fixed":
        return {"kind": "fixed", "delay": backoff.delay}
    return {"kind": backoff.kind, "base": backoff.base, "factor": backoff.factor, "cap": backoff.cap}


def _value(text: str) -> Any:
    """A grid value as TOML would read it: a boolean, a number, or a string such as '30s'."""
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
