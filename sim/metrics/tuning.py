"""The results model of a tuning study (`sim tune`): trials, finalists, the guarantee.

Plain data for the report, like `Comparison` for `sim compare`; the search that fills
it lives in `sim.tune`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.metrics.comparison import Comparison
from sim.metrics.stats import Estimate
from sim.metrics.summary import EXTRA_METRICS as EXTRA_METRICS  # re-exported: `sim tune` names them from here
from sim.metrics.thresholds import ThresholdOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialRecord:
    """One candidate the search evaluated."""

    number: int
    point: dict[str, str]  # setting → value, as a scenario file writes it
    values: tuple[float, ...]  # each objective's mean over the replications the candidate got
    replications: int
    feasible: bool  # every constraint met on its worst 95 % CI bound
    dropped: str = ""  # why racing stopped it before its last replication; "" if it got them all
    repeat_of: int | None = None  # the same point as this earlier trial: its results were reused


@dataclass(frozen=True, slots=True, kw_only=True)
class Finalist:
    """A leading candidate, re-run on fresh replications."""

    name: str
    trial: int
    point: dict[str, str]
    search: tuple[float, ...]  # the search's estimates of the objectives (optimistic: it picked the best)
    fresh: tuple[Estimate, ...]  # the objectives over the fresh replications
    constraints: tuple[ThresholdOutcome, ...]  # judged on the fresh replications

    @property
    def feasible(self) -> bool:
        return all(t.passed for t in self.constraints)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerUp:
    name: str
    difference: Estimate  # chosen − runner-up, first objective, paired over the fresh replications
    upper: float  # the Bonferroni-adjusted one-sided 95 % upper bound of that difference


@dataclass(frozen=True, slots=True, kw_only=True)
class Guarantee:
    """How sure the choice is: Hsu's multiple comparisons with the best on fresh replications."""

    procedure: str
    confidence: float
    delta: float  # the indifference zone asked for, in units of the first objective
    bound: float  # with `confidence`, the chosen one's expected cost is at most this above the best finalist's
    seed: int  # the fresh replications' seed (never the search's)
    first_stage: int
    replications: int  # per finalist in the end
    capped: bool  # the replications needed for δ were above the cap: `bound` is what they bought
    runners_up: tuple[RunnerUp, ...]
    needed: int = 0  # the replications the first stage asked for, before the cap

    @property
    def within_delta(self) -> bool:
        return self.bound <= self.delta


@dataclass(frozen=True, slots=True, kw_only=True)
class TuneResult:
    scenario: str
    seed: int
    base: str  # the variant the search started from and the recommendation is compared with
    space: tuple[str, ...]
    objectives: tuple[str, ...]
    constraints: tuple[str, ...]
    trials: tuple[TrialRecord, ...]
    stopped_by: str  # "trials" or "budget"
    resumed: int  # trials found in the journal of an earlier, interrupted run
    finalists: tuple[Finalist, ...]
    chosen: str | None  # the recommended finalist's name; None: no finalist met every constraint
    guarantee: Guarantee
    toml: str  # the recommendation as a ready-to-paste [variants.tuned] table
    sensitivity: dict[str, float] = field(default_factory=dict)  # setting → Shapley share of the additive model's R²
    unexplained: float | None = None  # the first objective's variance the settings' additive model leaves: 1 − R²
    comparison: Comparison | None = None  # tuned vs the base variant on the fresh replications
    base_fresh: tuple[Estimate, ...] = ()  # the base variant's objectives on the fresh replications
    gains: tuple[Estimate, ...] = ()  # per objective, the recommendation − the base variant, paired
