"""Which cases a sensitivity study runs: each axis alone around the scenario as written, or every
combination — counted, bounded and checked before any simulation runs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sim.core.errors import ArgumentError, ScenarioError
from sim.scenario.limits import MAX_BURSTS
from sim.scenario.model import Scenario
from sim.scenario.work import check_work, expected_bursts
from sim.sensitivity.axes import AXES, Axis, Case

AS_WRITTEN = "as written"
MAX_CASES = 64  # each case is a whole comparison: 64 of peak-hour's 10 replications is over an hour on 2 cores


class Design(StrEnum):
    ONE_AT_A_TIME = "one-at-a-time"  # each case changes one axis; the rest as written
    FULL = "full"  # every combination of every axis's cases


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedCase:
    name: str  # "as written", "light burst mix", "light burst mix + half the workers"
    changes: tuple[str, ...]  # per axis changed: "burst mix: burst sizes 1–5 weighted …"
    scenario: Scenario


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    design: Design
    axes: tuple[Axis, ...]
    cases: tuple[PlannedCase, ...]  # the first is the scenario as written
    unchanged: tuple[str, ...]  # cases that change nothing in this scenario (population 0 halved): not run


def parse_axes(text: str | None) -> tuple[Axis, ...]:
    """`--axes burst-mix,workers` → those axes in the order given; None → every registered axis."""
    if text is None:
        return tuple(AXES.values())
    keys = [k.strip() for k in text.split(",")]
    unknown = [k for k in keys if k not in AXES]
    if unknown or not keys or len(set(keys)) != len(keys):
        raise ArgumentError(
            f"--axes {text[:100]!r}: expected distinct names from {', '.join(AXES)}, separated by commas"
        )
    return tuple(AXES[k] for k in keys)


def case_count(design: Design, axes: Sequence[Axis]) -> int:
    """How many comparisons the design asks for, the scenario as written included."""
    if design is Design.FULL:
        return math.prod(1 + len(a.cases) for a in axes)
    return 1 + sum(len(a.cases) for a in axes)


def plan(scenario: Scenario, design: Design, axes: Sequence[Axis]) -> Plan:
    """The cases to run; refused (exit 2) above MAX_CASES or when a case's scenario breaks a run limit."""
    count = case_count(design, axes)
    if count > MAX_CASES:
        raise ArgumentError(
            f"--sensitivity {design}: {count:,} cases over {len(axes)} axes; the limit is {MAX_CASES} "
            "(choose fewer with --axes, or one at a time)"
        )
    combos = _full(axes) if design is Design.FULL else _one_at_a_time(axes)
    cases, unchanged = [PlannedCase(name=AS_WRITTEN, changes=(), scenario=scenario)], []
    for combo in combos:
        case = _apply(scenario, combo)
        if case.scenario == scenario:
            unchanged.append(case.name)
        else:
            _check_limits(case)
            cases.append(case)
    return Plan(design=design, axes=tuple(axes), cases=tuple(cases), unchanged=tuple(unchanged))


Combo = tuple[tuple[Axis, Case], ...]  # the axes a case changes, each with its alternative


def _one_at_a_time(axes: Sequence[Axis]) -> list[Combo]:
    return [((axis, case),) for axis in axes for case in axis.cases]


def _full(axes: Sequence[Axis]) -> list[Combo]:
    """Every combination but the scenario as written (which comes first anyway)."""
    options = [[None, *axis.cases] for axis in axes]
    combos = []
    for chosen in itertools.product(*options):
        combo = tuple((axis, case) for axis, case in zip(axes, chosen, strict=True) if case is not None)
        if combo:
            combos.append(combo)
    return combos


def _apply(scenario: Scenario, combo: Combo) -> PlannedCase:
    for _, case in combo:
        scenario = case.transform(scenario)
    return PlannedCase(
        name=" + ".join(case.name for _, case in combo),
        changes=tuple(f"{axis.name}: {case.words}" for axis, case in combo),
        scenario=scenario,
    )


def _check_limits(case: PlannedCase) -> None:
    """A transformed scenario meets the limits a scenario file must (1.5× the traffic of a big day may not)."""
    s = case.scenario
    try:
        base, surges = expected_bursts(s.workload, s.duration)
        if base + surges > MAX_BURSTS:
            raise ScenarioError(f"~{base + surges:,.0f} bursts per run; the limit is {MAX_BURSTS:,}")
        check_work(s)
    except ScenarioError as error:
        raise ScenarioError(f"--sensitivity case {case.name!r}: {error}") from None
