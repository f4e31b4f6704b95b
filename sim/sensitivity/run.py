"""Run a sensitivity study: the comparison of the scenario as written (already run by `sim
compare`), then each other case's comparison with the same seed, replications and thresholds."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sim.metrics.comparison import Comparison
from sim.metrics.sensitivity import CaseResult, Claim, Sensitivity, case_result, rows
from sim.scenario.model import Scenario
from sim.sensitivity.design import Plan

Replicate = Callable[[Scenario], Comparison]  # one case's scenario → its comparison (CRN, its replications)


def run_study(plan: Plan, written: Comparison, replicate: Replicate, claims: Sequence[Claim] = ()) -> Sensitivity:
    """`written` is the comparison of `plan.cases[0]` (the scenario as written): it is not run again."""
    results: list[CaseResult] = []
    for case in plan.cases:
        comparison = written if not results else replicate(case.scenario)
        results.append(case_result(case.name, case.changes, comparison, claims))
    first = plan.cases[0].scenario
    return Sensitivity(
        scenario=first.name,
        seed=first.seed,
        baseline=first.baseline,
        design=str(plan.design),
        axes=tuple((a.name, a.words) for a in plan.axes),
        cases=tuple(results),
        unchanged=plan.unchanged,
        rows=rows(results),
    )
