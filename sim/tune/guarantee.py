"""How sure the choice is: a two-stage indifference-zone procedure on fresh replications.

Procedure (Clark & Yang 1986; with common random numbers, Nelson & Matejcik 1995): the K
finalists run n0 fresh replications with common random numbers. With S² the largest sample
variance of a paired difference Xᵢ − Xⱼ and t the one-sided t quantile at 1 − α/(K−1) with
n0 − 1 degrees of freedom (Bonferroni over the K − 1 comparisons with the best), each runs
N = max(n0, ⌈(t·S/δ)²⌉) replications in all. The one with the lowest mean is chosen.

The statement then rests on Hsu's multiple comparisons with the best (MCB) with
Bonferroni-adjusted paired t bounds: with probability ≥ 1 − α, for every j ≠ chosen,
μ_chosen − μⱼ ≤ D̄ⱼ + t·Sⱼ/√N, so the chosen one's expected cost is at most
max(0, maxⱼ of those bounds) above the best finalist's. Stage 2 sized N so that bound
is about δ; the report gives the bound the replications actually bought (if N hit its
cap, it may be above δ — and the report says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from sim.metrics.stats import mean_ci
from sim.metrics.tuning import RunnerUp

ALPHA = 0.05
PROCEDURE = (
    "two-stage indifference-zone selection with common random numbers and Bonferroni-adjusted paired t bounds "
    "(Clark & Yang 1986; Nelson & Matejcik 1995), stated as Hsu's multiple comparisons with the best"
)


def one_sided_t(level: float, dof: int) -> float:
    from scipy import stats  # ~0.8 s to import: only when a study reaches its confirmation

    return float(stats.t.ppf(level, dof))


def _bonferroni_t(k: int, n: int) -> float:
    return one_sided_t(1 - ALPHA / max(k - 1, 1), n - 1)


def needed_replications(first_stage: Mapping[str, Sequence[float]], delta: float) -> int:
    """N for all finalists after `first_stage` (name → costs of the n0 fresh replications), uncapped:
    the caller runs min(N, cap), and the cap bound exactly when N is above it."""
    n0 = len(next(iter(first_stage.values())))
    if len(first_stage) < 2:
        return n0
    t = _bonferroni_t(len(first_stage), n0)
    variance = max(
        float(np.var(np.subtract(first_stage[a], first_stage[b]), ddof=1))
        for a in first_stage
        for b in first_stage
        if a < b
    )
    # (t·S/δ)² computed as a square of t·S/δ: δ² of a tiny δ (1e-200) underflows to 0 (it divided by zero)
    ratio = t * math.sqrt(variance) / delta
    needed = ratio * ratio
    return max(n0, math.ceil(needed) if needed < MAX_NEEDED else MAX_NEEDED)


MAX_NEEDED = 10**9  # a noisy first stage and a tiny δ: far past any cap, and still an int


def comparisons_with_the_best(costs: Mapping[str, Sequence[float]], chosen: str) -> tuple[tuple[RunnerUp, ...], float]:
    """The paired differences chosen − each other finalist with their Bonferroni upper bounds, and
    the MCB bound: how far above the best finalist the chosen one can be, with probability ≥ 1 − α."""
    others = [name for name in costs if name != chosen]
    if not others:
        return (), 0.0
    n = len(costs[chosen])
    t = _bonferroni_t(len(costs), n)
    runners = []
    for name in others:
        difference = np.subtract(costs[chosen], costs[name])
        spread = float(np.std(difference, ddof=1)) if n > 1 else math.inf
        upper = float(difference.mean()) + t * spread / math.sqrt(n)
        runners.append(RunnerUp(name=name, difference=mean_ci(list(difference)), upper=upper))
    return tuple(runners), max(0.0, max(r.upper for r in runners))
