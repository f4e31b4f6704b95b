"""Named sets of claims a sensitivity study checks in every case (`--claims NAME`).

A claim is a threshold expression with a name; it never changes the exit code (the scenario's
thresholds do): it says, per case, what was measured and whether the claim holds.
"""

from __future__ import annotations

from sim.core.errors import ArgumentError
from sim.metrics.sensitivity import Claim
from sim.metrics.thresholds import ThresholdError, parse_threshold
from sim.scenario.model import Scenario

# The seed's team, on their change from *before* to *after* (docs/system.md): "still processing"
# errors down by 95 %+, "could not acquire lock" in < 1 % of messages, a cache hit ratio of about
# 80 % (counted as holding from 75 %), 99 % fewer CRM calls per customer (the same customers in
# both variants: 99 % fewer CRM calls).
CLAIM_SETS: dict[str, tuple[tuple[str, str], ...]] = {
    "seed": (
        ("fewer apologies (95 %+ fewer)", "change(after.busy_rate) <= -95%"),
        ("lock failures < 1 %", "after.busy_rate < 1%"),
        ("cache hit ratio ~80 % (≥ 75 %)", "after.cache_hit_ratio >= 75%"),
        ("CRM calls −99 %", "change(after.crm_calls) <= -99%"),
    ),
}


def claims(name: str | None, scenario: Scenario) -> tuple[Claim, ...]:
    """The set's claims over the scenario's variants; a set that names a variant it lacks is exit 2."""
    if name is None:
        return ()
    names = [v.name for v in scenario.variants]
    try:
        return tuple(
            Claim(name=label, threshold=parse_threshold(expression, names, scenario.baseline))
            for label, expression in CLAIM_SETS[name]
        )
    except ThresholdError as error:
        raise ArgumentError(f"--claims {name}: {scenario.name}: {error}") from None
