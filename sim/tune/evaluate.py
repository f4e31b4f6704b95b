"""Run candidates' replications and turn them into per-replication costs.

Every candidate runs on the scenario seed's replications 0, 1, 2, …: the same customers
and latencies (common random numbers), so two candidates' costs are paired replication
by replication.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.core.errors import ExitCode, ScenarioError, SimError
from sim.experiment import DaskUnavailable, Records, run_replications
from sim.metrics.catalog import METRICS
from sim.metrics.comparison import Comparison
from sim.metrics.stats import Estimate, mean_ci
from sim.metrics.thresholds import Threshold, ThresholdOutcome, judge
from sim.metrics.tuning import EXTRA_METRICS
from sim.scenario.model import Scenario, Variant
from sim.scenario.tune import Cost
from sim.tune.space import numeric_setting


class InvariantBroken(SimError):
    """A candidate's run broke one of the simulator's invariants: a bug, not a result (exit 3)."""

    exit_code = ExitCode.BROKEN


@dataclass(frozen=True, slots=True, kw_only=True)
class Runner:
    """Where replications run: `processes` local cores, or a Dask scheduler."""

    processes: int = 1
    scheduler: str | None = None

    def run(self, scenario: Scenario, replications: Sequence[int], *, keep: bool = False) -> Comparison:
        """`keep`: the runs send their records back (the confirmation's records.csv, when it is small)."""
        try:
            c = run_replications(
                scenario,
                processes=self.processes,
                scheduler=self.scheduler,
                replications=replications,
                records=Records(keep=keep),
            )
        except DaskUnavailable as error:
            raise ScenarioError(str(error)) from None
        except OSError as error:
            if self.scheduler is None:
                raise
            raise ScenarioError(f"--scheduler {self.scheduler}: {error}") from None
        if c.violations:
            raise InvariantBroken(f"INVARIANT BROKEN in {scenario.name}: {'; '.join(c.violations[:3])}")
        return c


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """A candidate's numbers, replication by replication (in replication order)."""

    costs: tuple[tuple[float, ...], ...]  # objective → replication → cost
    metrics: dict[str, tuple[float, ...]]  # every metric a constraint names → replication → value

    @property
    def replications(self) -> int:
        return len(self.costs[0]) if self.costs else 0

    def means(self) -> tuple[float, ...]:
        return tuple(sum(c) / len(c) for c in self.costs)

    def extended(self, more: Sample) -> Sample:
        return Sample(
            costs=tuple(a + b for a, b in zip(self.costs, more.costs, strict=True)),
            metrics={m: self.metrics[m] + more.metrics[m] for m in self.metrics},
        )

    def first(self, n: int) -> Sample:
        return Sample(costs=tuple(c[:n] for c in self.costs), metrics={m: v[:n] for m, v in self.metrics.items()})

    def judged(self, constraints: Sequence[Threshold]) -> list[ThresholdOutcome]:
        """The constraints judged as thresholds are: on the 95 % CI bound worst for each."""
        runs = [{m: values[i] for m, values in self.metrics.items()} for i in range(self.replications)]
        return [outcome for t in constraints for outcome in judge(t, {"candidate": runs}, "candidate")]

    def estimate(self, objective: int = 0) -> Estimate:
        return mean_ci(self.costs[objective])


def sample_of(c: Comparison, variant: Variant, objectives: Sequence[Cost], constraints: Sequence[Threshold]) -> Sample:
    """The per-replication costs and constraint metrics of `variant` in a comparison's runs."""
    per_rep = c.per_replication[variant.name]
    runs = sorted(c.runs[variant.name], key=lambda r: r.replication)
    extra = {name: [run.extra_metrics[name] for run in runs] for name in EXTRA_METRICS if _uses(objectives, name)}
    costs = []
    for cost in objectives:
        per = [0.0] * len(per_rep)
        for term in cost.terms:
            for i in range(len(per_rep)):
                per[i] += term.weight * _value(term.name, i, per_rep, extra, variant)
        costs.append(tuple(per))
    metrics = {t.metric: tuple(rep[t.metric] for rep in per_rep) for t in constraints}
    return Sample(costs=tuple(costs), metrics=metrics)


def _uses(objectives: Sequence[Cost], name: str) -> bool:
    return any(term.name == name for cost in objectives for term in cost.terms)


def _value(
    name: str, i: int, per_rep: list[dict[str, float]], extra: dict[str, list[float]], variant: Variant
) -> float:
    if name in METRICS:
        return per_rep[i][name]
    if name in extra:
        return extra[name][i]
    return numeric_setting(variant, name)  # a searched setting (the cost of the workers)
