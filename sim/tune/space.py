"""The search space as Optuna sees it, and a candidate as the simulator runs it.

A candidate is a point: setting → value text, written as a scenario file writes it
(`lock.timeout=37.5s`). It becomes a variant through `sim sweep`'s mechanism (a grid of
one point over the base variant), so it is parsed and validated like a `[variants.NAME]`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from sim.core.durations import parse_duration
from sim.core.errors import ScenarioError
from sim.experiment.sweep import grid_scenario, point_name, refuse_same_settings
from sim.scenario.model import Scenario, Variant
from sim.scenario.tune import Choice, Dimension
from sim.scenario.work import check_work

Point = dict[str, str]
MAX_CORNERS = 4096  # every range's ends × every choice: each is checked before the first simulation


def distributions(space: tuple[Dimension, ...]) -> dict[str, BaseDistribution]:
    return {d.key: _distribution(d) for d in space}


def _distribution(d: Dimension) -> BaseDistribution:
    if isinstance(d, Choice):
        return CategoricalDistribution(d.values)
    if d.integer:
        return IntDistribution(int(d.low), int(d.high), log=d.log)
    return FloatDistribution(d.low, d.high, log=d.log)


def point(space: tuple[Dimension, ...], params: dict[str, Any]) -> Point:
    """Optuna's raw values as settings' text: durations to 3 significant digits in whole ms, numbers to 3 digits."""
    return {d.key: render(d, params[d.key]) for d in space}


def render(d: Dimension, raw: Any) -> str:
    if isinstance(d, Choice):
        return str(raw)
    if d.integer:
        return str(int(raw))
    value = min(max(float(f"{float(raw):.3g}"), d.low), d.high)
    if not d.duration:
        return f"{value:g}"
    ms = round(value * 1000)
    if ms == 0:
        return "0s"
    return f"{ms}ms" if ms < 1000 else f"{ms / 1000:g}s"


def candidate(scenario: Scenario, base: str, p: Point) -> Scenario:
    """The scenario narrowed to one variant: `base` with the point's settings."""
    grid: list[tuple[str, tuple[str, ...]]] = [(key, (value,)) for key, value in p.items()]
    one = grid_scenario(scenario, grid, base)
    check_work(one)
    return one


def check_corners(scenario: Scenario, base: str, space: tuple[Dimension, ...]) -> None:
    """Before any simulation: every combination of the ranges' ends and the choices makes a valid variant.

    The settings' limits are intervals (cap ≥ base, polls per wait), so valid corners make every
    point inside valid. An error names the corner.
    """
    ends = [_ends(d) for d in space]
    count = math.prod(len(e) for e in ends)
    if count > MAX_CORNERS:
        raise ScenarioError(
            f"[tune]space: {count:,} corners (each range's two ends × each choice); the limit is {MAX_CORNERS:,} "
            "so that every one is checked before the run: fewer settings or choices"
        )
    for combo in itertools.product(*ends):
        p = {d.key: value for d, value in zip(space, combo, strict=True)}
        try:
            candidate(scenario, base, p)
        except ScenarioError as error:
            raise ScenarioError(f"[tune]space at {point_name(p)}: {error}") from None
    first = {d.key: e[0] for d, e in zip(space, ends, strict=True)}
    for d in space:
        if isinstance(d, Choice):  # `30s,30.0s`: one setting twice, a category the sampler would try twice
            variants = tuple(candidate(scenario, base, {**first, d.key: v}).variants[0] for v in d.values)
            refuse_same_settings(variants, "[tune]space")


def _ends(d: Dimension) -> tuple[str, ...]:
    return d.values if isinstance(d, Choice) else (render(d, d.low), render(d, d.high))


def base_params(variant: Variant, space: tuple[Dimension, ...]) -> dict[str, Any] | None:
    """The base variant's own values as Optuna parameters, if every one lies in the space (the first trial)."""
    params: dict[str, Any] = {}
    for d in space:
        value = setting_value(variant, d.key)
        if isinstance(d, Choice):
            found = next((v for v in d.values if _same(v, value)), None)
            if found is None:
                return None
            params[d.key] = found
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and d.low <= value <= d.high:
            params[d.key] = int(value) if d.integer else float(value)
        else:
            return None
    return params


def _same(text: str, value: object) -> bool:
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, (int, float)):
        return parse_duration(text) == float(value)
    return text == value


def setting_value(variant: Variant, key: str) -> object:
    """A variant's setting by its scenario-file name (`lock.backoff.cap`); None if it has none."""
    special = {"workers.count": variant.workers, "redis.rtt": variant.redis_rtt}
    if key in special:
        return special[key]
    value: object = variant
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)  # code.settings: a table
        if value is None:
            return None
    return value


def numeric_setting(variant: Variant, key: str) -> float:
    value = setting_value(variant, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"[tune]objectives: {key} is not a number in variant {variant.name!r}")
    return float(value)
