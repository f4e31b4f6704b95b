"""What `sim compare --sensitivity` adds to `sim compare`: the study checked before any
simulation, run after the scenario as written, written beside its report."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sim.core.errors import ArgumentError
from sim.metrics.comparison import Comparison
from sim.metrics.sensitivity import Claim, Sensitivity
from sim.scenario.model import Scenario
from sim.sensitivity.claims import CLAIM_SETS, claims
from sim.sensitivity.design import Design, Plan, parse_axes, plan
from sim.sensitivity.run import Replicate, run_study


@dataclass(frozen=True, slots=True)
class Study:
    plan: Plan
    claims: tuple[Claim, ...]

    def run(self, written: Comparison, replicate: Replicate) -> Sensitivity:
        return run_study(self.plan, written, replicate, self.claims)


def studies(args: argparse.Namespace, scenarios: list[Scenario]) -> dict[str, Study]:
    """Per scenario, its study (none without --sensitivity); every problem is exit 2, before any run."""
    if args.sensitivity is None:
        if args.axes is not None or args.claims is not None:
            raise ArgumentError("--axes and --claims need --sensitivity")
        return {}
    if args.claims is not None and args.claims not in CLAIM_SETS:
        raise ArgumentError(f"--claims {args.claims[:40]!r}: expected one of {', '.join(CLAIM_SETS)}")
    axes, design = parse_axes(args.axes), Design(args.sensitivity)
    return {s.name: Study(plan(s, design, axes), claims(args.claims, s)) for s in scenarios}
