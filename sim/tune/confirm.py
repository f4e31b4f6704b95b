"""The final re-run: the search's leaders on fresh replications, and the choice with its guarantee.

The search looked at the scenario seed's replications and kept the candidates that did best
on them, so its estimates are optimistic. The confirmation runs the finalists and the base
variant on the replications of another seed, `seed + 2**32` (mod 2**63): streams
`SeedSequence([seed + 2**32, r])` the search never drew. `sim compare --seed` with that
seed and the printed `[variants.tuned]` table reproduces the comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sim.experiment import keeps_records
from sim.metrics.comparison import Comparison, compare
from sim.metrics.digest import RunDigest
from sim.metrics.stats import Estimate, paired_difference
from sim.metrics.thresholds import Threshold
from sim.metrics.tuning import Finalist, Guarantee
from sim.scenario.describe import context
from sim.scenario.limits import MAX_SEED
from sim.scenario.model import Scenario, Variant
from sim.tune import guarantee
from sim.tune.evaluate import Runner, Sample, sample_of
from sim.tune.search import Evaluated, Plan
from sim.tune.space import candidate

FRESH_OFFSET = 2**32
TUNED = "tuned"


def fresh_seed(seed: int) -> int:
    return (seed + FRESH_OFFSET) % (MAX_SEED + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    finalists: tuple[Finalist, ...]
    chosen: str | None
    guarantee: Guarantee
    comparison: Comparison  # the chosen one (as "tuned") against the base variant
    variant: Variant  # the chosen one's variant (or the leader's, when none met the constraints)
    base_fresh: tuple[Estimate, ...]  # the base variant's objectives on the fresh replications
    gains: tuple[Estimate, ...]  # per objective, chosen (or leader) − base, paired over the fresh replications


def finalists(done: Sequence[Evaluated], count: int, objectives: int) -> list[Evaluated]:
    """The leaders among candidates that got every replication: constraint-meeting ones first,
    by the first objective; with several objectives, the Pareto front's members first."""
    full = [e for e in done if not e.dropped and e.repeat_of is None]
    front = (
        {e.number for e in full if not any(_dominates(o, e) for o in full if o.feasible)} if objectives > 1 else set()
    )
    return sorted(full, key=lambda e: (not e.feasible, e.number not in front, e.sample.means()[0], e.number))[:count]


def _dominates(a: Evaluated, b: Evaluated) -> bool:
    x, y = a.sample.means(), b.sample.means()
    return all(p <= q for p, q in zip(x, y, strict=True)) and x != y


def confirm(plan: Plan, leaders: list[Evaluated], runner: Runner, delta: float) -> Confirmation:
    tune = plan.tune
    base = plan.scenario.variant(plan.base)
    names = [f"finalist-{i + 1}" for i in range(len(leaders))]
    variants = [
        dataclasses.replace(candidate(plan.scenario, plan.base, e.point).variants[0], name=n)
        for e, n in zip(leaders, names, strict=True)
    ]
    seed = fresh_seed(plan.scenario.seed)
    fresh = dataclasses.replace(plan.scenario, seed=seed, variants=(base, *variants), baseline=base.name, thresholds=())
    n0 = plan.replications
    keep = keeps_records(dataclasses.replace(fresh, replications=max(tune.confirmation, n0)))
    first = runner.run(fresh, range(n0), keep=keep)
    costs = {v.name: sample_of(first, v, tune.objectives, tune.constraints).costs[0] for v in variants}
    cap = max(tune.confirmation, n0)
    needed = guarantee.needed_replications(costs, delta) if len(variants) > 1 else n0
    total = min(needed, cap)
    runs = {name: list(rs) for name, rs in first.runs.items()}
    if total > n0:
        second = runner.run(fresh, range(n0, total), keep=keep)
        for name, rs in second.runs.items():
            runs[name] += rs
    fresh = dataclasses.replace(fresh, replications=total)  # described as it ran: "What was simulated" counts them
    descriptions = {v.name: v.describe() for v in fresh.variants}
    every = compare(fresh.name, seed, base.name, descriptions, runs, tune.constraints, context(fresh), fresh.meaningful)
    samples = {v.name: sample_of(every, v, tune.objectives, tune.constraints) for v in variants}
    records = tuple(_finalist(n, e, samples[n], tune.constraints) for n, e in zip(names, leaders, strict=True))
    feasible = [f for f in records if f.feasible]
    chosen = min(feasible, key=lambda f: (f.fresh[0].mean, f.trial), default=None)
    pool = {f.name: samples[f.name].costs[0] for f in feasible}
    runners_up, bound = guarantee.comparisons_with_the_best(pool, chosen.name) if chosen else ((), 0.0)
    shown = chosen or min(records, key=lambda f: (f.fresh[0].mean, f.trial))
    winner = next(v for v in variants if v.name == shown.name)
    against = sample_of(every, base, tune.objectives, tune.constraints)  # the base variant, on the same replications
    return Confirmation(
        finalists=records,
        chosen=chosen.name if chosen else None,
        guarantee=Guarantee(
            procedure=guarantee.PROCEDURE,
            confidence=1 - guarantee.ALPHA,
            delta=delta,
            bound=bound,
            seed=seed,
            first_stage=n0,
            replications=total,
            capped=needed > cap,
            needed=needed,
            runners_up=runners_up,
        ),
        comparison=_against_base(fresh, base, winner, runs, tune.constraints),
        variant=winner,
        base_fresh=tuple(against.estimate(i) for i in range(len(tune.objectives))),
        gains=tuple(
            paired_difference(samples[shown.name].costs[i], against.costs[i]) for i in range(len(tune.objectives))
        ),
    )


def _finalist(name: str, e: Evaluated, sample: Sample, constraints: Sequence[Threshold]) -> Finalist:
    return Finalist(
        name=name,
        trial=e.number,
        point=e.point,
        search=e.sample.means(),
        fresh=tuple(sample.estimate(i) for i in range(len(sample.costs))),
        constraints=tuple(sample.judged(constraints)),
    )


def _against_base(
    fresh: Scenario, base: Variant, winner: Variant, runs: dict[str, list[RunDigest]], constraints: Sequence[Threshold]
) -> Comparison:
    """`sim compare`'s model of the chosen one, named `tuned`, against the base variant, on the fresh replications."""
    name = TUNED if base.name != TUNED else f"{TUNED}-new"
    tuned = [dataclasses.replace(r, variant=name) for r in runs[winner.name]]
    return compare(
        fresh.name,
        fresh.seed,
        base.name,
        {base.name: base.describe(), name: winner.describe()},
        {base.name: runs[base.name], name: tuned},
        constraints,
        context(fresh),
        fresh.meaningful,
    )
