"""`sim sweep`: one variant of a scenario over a grid of settings, with replications.

`--grid lock.timeout=30s,45s,60s` names a setting the way the scenario file
does (`[lock] timeout`). Each grid point becomes a variant parsed and
validated exactly like a `[variants.NAME]` table, so errors read the same.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from typing import Any

from sim.core.distributions import Distribution
from sim.core.errors import ScenarioError
from sim.core.text import one_line
from sim.scenario.load import BACKOFF_KEYS, VARIANT_SECTIONS, parse_variant
from sim.scenario.model import Backoff, Scenario, Variant
from sim.scenario.reader import MAX_FLOAT, SETTING_KEY, Reader

Axis = tuple[str, tuple[str, ...]]  # ("lock.timeout", ("30s", "45s", "60s"))
MAX_POINTS = 1000  # grid points of one sweep: each is a variant with its own replications
MAX_RUNS = 100_000  # grid points × replications: simulations one sweep may ask for
# Grid keys and values become the points' variant names ("lock.timeout=30s, workers.count=5"), shown in
# reports, plot labels, Markdown, HTML and CSV: plain characters only, so every such name is safe.
GRID_KEY = SETTING_KEY
GRID_VALUE = re.compile(r"[A-Za-z0-9._+-]{1,32}")
GRID_VALUE_HELP = "letters, digits, '.', '_', '+' and '-', at most 32 characters"


def parse_grid(specs: list[str]) -> list[Axis]:
    axes: list[Axis] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        parts = tuple(v.strip() for v in values.split(",") if v.strip())
        if not sep or not key.strip() or not parts:
            raise ScenarioError(f"--grid {spec!r}: expected KEY=V1,V2,… such as lock.timeout=30s,60s")
        _check_charset(spec, key.strip(), parts)
        if key.strip() in (a[0] for a in axes):
            raise ScenarioError(f"--grid {spec!r}: {key.strip()} is already on the grid")
        repeated = sorted({v for v in parts if parts.count(v) > 1})
        if repeated:
            raise ScenarioError(f"--grid {spec!r}: {', '.join(repeated)} given twice; each value once")
        axes.append((key.strip(), parts))
    points = math.prod(len(values) for _, values in axes)
    if points > MAX_POINTS:
        raise ScenarioError(f"--grid: {points:,} grid points; the limit is {MAX_POINTS:,} (sweep fewer values)")
    return axes


def _check_charset(spec: str, key: str, values: tuple[str, ...]) -> None:
    shown = repr(spec) if len(spec) <= 200 else f"of {len(spec):,} characters"
    if not GRID_KEY.fullmatch(key):
        raise ScenarioError(one_line(f"--grid {shown}: {key!r} is not a setting name such as lock.timeout"))
    for value in values:
        if not GRID_VALUE.fullmatch(value):
            raise ScenarioError(one_line(f"--grid {shown}: a value must be {GRID_VALUE_HELP}, got {value[:40]!r}"))


def grid_scenario(scenario: Scenario, axes: list[Axis], base_name: str | None = None) -> Scenario:
    """The scenario whose variants are the grid points, each derived from `base_name` (default: the baseline)."""
    base = scenario.variant(base_name or scenario.baseline)
    count = math.prod(len(values) for _, values in axes)
    if count * scenario.replications > MAX_RUNS:
        raise ScenarioError(
            f"--grid: {count:,} grid points × {scenario.replications:,} replications is "
            f"{count * scenario.replications:,} runs; the limit is {MAX_RUNS:,} (fewer points or --replications)"
        )
    points = [dict(zip((k for k, _ in axes), combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]
    variants = tuple(_point_variant(base, point) for point in points)
    refuse_same_settings(variants, "--grid")
    return dataclasses.replace(scenario, variants=variants, baseline=variants[0].name, thresholds=())


def refuse_same_settings(variants: tuple[Variant, ...], where: str) -> None:
    """Two points that spell one configuration two ways (`30s` and `30.0s`, `5` and `5.0`) would run the
    same simulations twice under two names: refused, naming both."""
    seen: dict[str, str] = {}
    for variant in variants:
        settings = repr(dataclasses.replace(variant, name=""))
        if settings in seen:
            raise ScenarioError(
                one_line(f"{where}: {seen[settings]} and {variant.name} are the same settings; give each value once")
            )
        seen[settings] = variant.name


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
        if isinstance(table.get(path[-1]), dict) or (len(path) == 1 and path[0] in VARIANT_SECTIONS):
            raise ScenarioError(f"--grid: {key} is a section, not a setting; name one of its keys, e.g. lock.timeout")
        table[path[-1]] = _value(value)
    lock = overrides.get("lock")
    backoff = lock.get("backoff") if isinstance(lock, dict) else None
    if isinstance(lock, dict) and isinstance(backoff, dict):  # a backoff table replaces the whole policy
        lock["backoff"] = _merged_backoff(base, backoff)
    _merge_distributions(base, overrides)
    return parse_variant(point_name(point), Reader("--grid", "", overrides), base)


def _merged_backoff(base: Variant, grid: dict[str, Any]) -> dict[str, Any]:
    """The base variant's backoff with the grid's keys over it; base keys the grid's kind has no use for are dropped.

    A key of another kind (`lock.backoff.cap` over a fixed backoff) is refused with a hint:
    start from a variant whose backoff has it.
    """
    inherited = backoff_table(base.lock.backoff)
    kind = grid.get("kind", inherited["kind"])
    allowed = BACKOFF_KEYS.get(kind, ())
    for key in grid:
        if allowed and key not in allowed:
            users = [k for k, keys in BACKOFF_KEYS.items() if key in keys]
            if users:
                raise ScenarioError(
                    f"--grid: lock.backoff.{key} applies to backoff kinds {', '.join(users)}, not to {kind!r} "
                    f"(variant {base.name!r}): start from another variant with --variant, "
                    "or put lock.backoff.kind on the grid"
                )
    return {**{k: v for k, v in inherited.items() if k in allowed}, **grid}


def backoff_table(backoff: Backoff) -> dict[str, Any]:
    """The backoff as the scenario file writes it: its kind and its fields."""
    return {"kind": backoff.kind} | {f.name: getattr(backoff, f.name) for f in dataclasses.fields(backoff)}


DISTRIBUTION_KEYS = ("crm", "llm")  # the [services] keys that hold a latency distribution


def _merge_distributions(base: Variant, overrides: dict[str, Any]) -> None:
    """`services.llm.median=10s`: the grid's keys over the base variant's whole distribution table.

    A distribution table replaces the whole distribution, so without this a lognormal
    swept on its median alone would have no `dist` and no `p95`.
    """
    services = overrides.get("services")
    if not isinstance(services, dict):
        return
    for key in DISTRIBUTION_KEYS:
        if isinstance(services.get(key), dict):
            services[key] = _merged_distribution(f"services.{key}", getattr(base.services, key), services[key])


def _merged_distribution(name: str, inherited: Distribution, grid: dict[str, Any]) -> dict[str, Any]:
    """The grid's table over `inherited`'s; a grid that names another `dist` inherits nothing."""
    if "dist" in grid:
        return grid
    try:
        table = inherited.to_table()
    except ValueError as error:
        raise ScenarioError(f"--grid: {name}: {error}; put {name}.dist on the grid with all its parameters") from None
    unknown = sorted(set(grid) - set(table))
    if unknown:
        raise ScenarioError(
            f"--grid: {name}.{unknown[0]}: the base variant's {name} is a {table['dist']} distribution "
            f"({', '.join(k for k in table if k != 'dist')}): name one of those, or put {name}.dist on the grid"
        )
    return {**table, **grid}


def _value(text: str) -> Any:
    """A grid value as TOML would read it: a boolean, a number, or a string such as '30s'.

    An integer past float range stays an int: the setting's reader refuses it by its limit,
    before anything turns it into a float (which would overflow).
    """
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if abs(number) <= MAX_FLOAT else text  # '1e999': no number; the reader says what it expected
