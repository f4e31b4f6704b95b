"""The search: Optuna proposes candidates, racing spends replications where they matter.

Optuna (TPE for one objective, NSGA-II for several) proposes; each candidate runs its
replications in rungs (3, 6, 12, … up to R), all on the scenario seed's replications, so
a candidate and the incumbent — the best candidate that got all R and met every
constraint — are compared pair by pair. After each rung a candidate is dropped when it
clearly breaches a constraint (even its CI bound best for it fails) or, with one
objective, when it is clearly worse than the incumbent (the paired 95 % CI of the
difference lies above zero). Optuna is told the mean over the replications it got.

Same seed and trial count ⇒ the same trials: the sampler is re-seeded for every trial from
(seed, trial number), and every decision depends only on the trials before it, which the
journal holds. So an interrupted study resumed from its journal continues exactly as
the uninterrupted one would have (the trial that was running is run again).
"""

from __future__ import annotations

import dataclasses
import operator
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from sim.metrics.stats import mean_ci, paired_difference
from sim.metrics.thresholds import Threshold
from sim.metrics.tuning import TrialRecord
from sim.scenario.model import Scenario
from sim.scenario.tune import TuneSettings
from sim.tune.evaluate import Runner, Sample, sample_of
from sim.tune.journal import Unreadable, checked_attributes
from sim.tune.space import Point, base_params, candidate, distributions, point

_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluated:
    number: int
    point: Point
    sample: Sample
    dropped: str = ""
    repeat_of: int | None = None
    feasible: bool = False

    def record(self) -> TrialRecord:
        return TrialRecord(
            number=self.number,
            point=self.point,
            values=self.sample.means(),
            replications=self.sample.replications,
            feasible=self.feasible,
            dropped=self.dropped,
            repeat_of=self.repeat_of,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    scenario: Scenario
    base: str
    tune: TuneSettings
    replications: int  # R: per candidate at most
    trials: int
    budget: float | None


def rungs(replications: int) -> list[int]:
    """3, 6, 12, … and finally R: where racing looks at a candidate (at 2, t's quantile is 12.7: nothing is clear)."""
    steps, n = [], 3
    while n < replications:
        steps.append(n)
        n *= 2
    return [*steps, replications]


def search(
    plan: Plan, study: optuna.Study, runner: Runner, on_trial: Callable[[], None] = lambda: None
) -> tuple[list[Evaluated], str]:
    """Runs trials until `plan.trials` exist (or the budget is spent); returns them all and what stopped it."""
    done = _restore(study, plan)
    for _ in done:
        on_trial()
    if not study.trials:
        first = base_params(plan.scenario.variant(plan.base), plan.tune.space)
        if first is not None:
            study.enqueue_trial(first)  # the search starts from the configuration in use
    deadline = None if plan.budget is None else time.monotonic() + plan.budget
    while len(done) < plan.trials:
        if deadline is not None and time.monotonic() >= deadline:
            return done, "budget"
        done.append(_trial(plan, study, runner, done))
        on_trial()
    return done, "trials"


def _trial(plan: Plan, study: optuna.Study, runner: Runner, done: list[Evaluated]) -> Evaluated:
    number = len(done)
    study.sampler = _sampler(plan, number)
    trial = study.ask(distributions(plan.tune.space))
    p = point(plan.tune.space, trial.params)
    same = next((e for e in done if e.point == p and e.repeat_of is None), None)
    if same is not None:  # TPE proposes a point again: its replications would be the same ones
        evaluated = dataclasses.replace(same, number=number, repeat_of=same.number)
    else:
        evaluated = _evaluate(plan, runner, number, p, _incumbent(done, len(plan.tune.objectives)))
    for key, value in _attributes(evaluated, plan.tune.constraints).items():
        trial.set_user_attr(key, value)
    study.tell(trial, list(evaluated.sample.means()))
    return evaluated


def _evaluate(plan: Plan, runner: Runner, number: int, p: Point, incumbent: Evaluated | None) -> Evaluated:
    one = candidate(plan.scenario, plan.base, p)
    variant = one.variants[0]
    tune = plan.tune
    sample: Sample | None = None
    for rung in rungs(plan.replications):
        start = sample.replications if sample else 0
        c = runner.run(one, range(start, rung))
        more = sample_of(c, variant, tune.objectives, tune.constraints)
        sample = sample.extended(more) if sample else more
        if rung < plan.replications:
            reason = _race(sample, incumbent, tune.constraints)
            if reason:
                return Evaluated(number=number, point=p, sample=sample, dropped=reason)
    assert sample is not None
    feasible = all(o.passed for o in sample.judged(tune.constraints))
    return Evaluated(number=number, point=p, sample=sample, feasible=feasible)


def _race(sample: Sample, incumbent: Evaluated | None, constraints: Sequence[Threshold]) -> str:
    """Why the candidate is clearly out after these replications; "" if it stays in."""
    for t in constraints:
        e = mean_ci(sample.metrics[t.metric])
        best_case = e.low if t.op.startswith("<") else e.high
        if not _OPERATORS[t.op](best_case, t.limit):
            n = sample.replications
            return f"{t.expression} clearly breached after {n} replications (95 % CI {e.low:.4g}..{e.high:.4g})"
    if incumbent is None or len(sample.costs) != 1:
        return ""
    n = sample.replications
    diff = paired_difference(sample.costs[0], incumbent.sample.costs[0][:n])
    if n > 1 and diff.low > 0:
        return f"clearly worse than trial {incumbent.number} after {n} replications (paired, +{diff.mean:.4g})"
    return ""


def _incumbent(done: list[Evaluated], objectives: int) -> Evaluated | None:
    if objectives != 1:
        return None
    full = [e for e in done if e.feasible and not e.dropped]
    return min(full, key=lambda e: (e.sample.means()[0], e.number), default=None)


def _attributes(e: Evaluated, constraints: Sequence[Threshold]) -> dict[str, Any]:
    """What the journal keeps of a trial, so that a resumed study knows everything it decided on."""
    return {
        "point": e.point,
        "costs": [list(c) for c in e.sample.costs],
        "metrics": {m: list(v) for m, v in e.sample.metrics.items()},
        "dropped": e.dropped,
        "repeat_of": e.repeat_of,
        "feasible": e.feasible,
        "constraints": _violations(e.sample, constraints),
    }


def _violations(sample: Sample, constraints: Sequence[Threshold]) -> list[float]:
    """Per constraint, how far its worst CI bound is past the limit (≤ 0: met), for the sampler."""
    out = []
    for o, t in zip(sample.judged(constraints), constraints, strict=True):
        out.append(o.value - t.limit if t.op.startswith("<") else t.limit - o.value)
    return out


def _restore(study: optuna.Study, plan: Plan) -> list[Evaluated]:
    """The trials a journal already holds, in order (a resumed study).

    A trial that was running when the earlier run was interrupted is marked failed (the
    samplers ignore failed trials) and its point queued again, so it runs next with the
    same settings, as it would have without the interruption.
    """
    done: list[Evaluated] = []
    for t in study.trials:
        if t.state == optuna.trial.TrialState.RUNNING:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            study.enqueue_trial(t.params)
            break
        if t.state != optuna.trial.TrialState.COMPLETE:
            continue
        try:
            a = checked_attributes(t, len(plan.tune.objectives), plan.replications, len(plan.tune.constraints))
        except Unreadable as error:
            raise Unreadable(f"trial {t.number}: {error}") from None
        if set(a["point"]) != {d.key for d in plan.tune.space}:
            raise Unreadable(f"trial {t.number}: its point does not name the settings searched")
        if a.get("repeat_of") is not None and a["repeat_of"] >= len(done):
            raise Unreadable(f"trial {t.number}: repeats trial {a['repeat_of']}, which is not before it")
        sample = Sample(
            costs=tuple(tuple(float(x) for x in c) for c in a["costs"]),
            metrics={m: tuple(float(x) for x in v) for m, v in a["metrics"].items()},
        )
        done.append(
            Evaluated(
                number=len(done),
                point=dict(a["point"]),
                sample=sample,
                dropped=a["dropped"],
                repeat_of=a.get("repeat_of"),
                feasible=a["feasible"],
            )
        )
    return done


def _constraints_of(trial: optuna.trial.FrozenTrial) -> Sequence[float]:
    return list(trial.user_attrs.get("constraints", []))


def _sampler(plan: Plan, number: int) -> optuna.samplers.BaseSampler:
    """A sampler seeded from (seed, trial number): the same proposals whether or not the study was resumed."""
    seed = int(np.random.SeedSequence([plan.scenario.seed, number]).generate_state(1)[0])
    constraints = _constraints_of if plan.tune.constraints else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)  # constraints_func: 5.0's replacement is not in 4.x
        if len(plan.tune.objectives) > 1:
            population = max(4, min(50, plan.trials // 5))
            return optuna.samplers.NSGAIISampler(population_size=population, seed=seed, constraints_func=constraints)
        startup = max(4, min(10, plan.trials // 3))
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup, multivariate=True, constraints_func=constraints
        )
