"""k6-style thresholds that state a claim about the variants, judged on replications.

Three forms, each `LEFT OP RIGHT` with OP one of `<  <=  >  >=`:

- absolute: `after.latency_p95_s < 60s`, `busy_rate < 1%` (no variant: every variant). The limit
  takes the unit of its metric: a duration (`500ms`, `60s`, `2m`, as in scenario files) on a
  metric in seconds, a percentage on a ratio, a plain number on any metric (seconds, a share
  from 0 to 1, a count) as before.
- relative: `after.busy_rate <= 0.05 * before.busy_rate` (`k *` may be left out: k = 1).
- change: `change(after.busy_rate) <= -95%`, the change against the scenario's baseline variant.

An absolute threshold is judged on the 95 % confidence bound of the metric that is worst for
it — the upper bound for `<`/`<=`, the lower bound for `>`/`>=` — so it passes only when the
whole interval is on the right side.

The other two forms are judged on the *paired* difference, replication by replication (the
variants ran on common random numbers): `after ≤ k·before` holds exactly when the mean of
d_i = after_i − k·before_i is ≤ 0, and `change(after.m) ≤ c` is `after ≤ (1 + c)·before`, so
k = 1 + c. The threshold passes when d's worst 95 % bound (a paired t-interval) is on the
right side of 0. Pairing removes the noise both variants share: two overlapping unpaired
intervals can still give a paired one that decides.

For a reader, the judgement is put in the threshold's own terms: the factor k* at which d's
worst bound is exactly 0 (Fieller's 95 % bound on the ratio of the two means), or the change
k* − 1. The threshold holds exactly when its own factor is beyond k*, so "change ≤ -97.1 %
(upper 95 % bound)" is the judgement itself, said as a change. When the reference's mean is not
clearly above 0 there is no such bound, and the bound of d is shown instead.

With fewer than two replications there is no interval: the bound is the single run's value,
and the outcome says so (`single_run`); `sim compare` refuses that in CI mode.

A claim that cannot be judged is *not applicable*, never met by default: an absolute threshold
on a metric that applies to no replication of its variant (a cache hit ratio without a cache),
and a relative or change claim whose reference is 0 in every replication (a change from 0 is
undefined: "at least halves" cannot be shown when there is nothing to halve) or that has no
replication where the metric applies to both sides. Such an outcome is not met (`sim compare`
exits 1) unless the threshold ends in `or n/a`, which says that a claim that does not apply is
fine (`change(after.busy_rate) <= -50% or n/a`). Either way every report says "not applicable"
and why, never a number.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sim.metrics.catalog import ALL_METRICS, CONVERSATION_METRICS, LOCK_SAFETY_METRICS, Unit
from sim.metrics.stats import Estimate, mean_ci

SINGLE_RUN = "judged on a single run"  # what an outcome without a confidence interval says
# The largest factor k of `variant <= k * reference` (and 1 + c of a change): k times a metric, its spread
# squared, stays far inside float range; a claim a billion times over is no claim.
MAX_FACTOR = 1e9
OR_NOT_APPLICABLE = "or n/a"  # the suffix that lets a claim that does not apply pass


class ThresholdError(ValueError):
    """A threshold expression that cannot be judged (bad syntax, unknown metric or variant, nonsense)."""


class Op(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    @property
    def bound(self) -> str:
        """The confidence bound that is worst for this operator."""
        return "upper" if self in (Op.LT, Op.LE) else "lower"

    def holds(self, value: float, limit: float) -> bool:
        match self:
            case Op.LT:
                return value < limit
            case Op.LE:
                return value <= limit
            case Op.GT:
                return value > limit
            case Op.GE:
                return value >= limit


class Status(StrEnum):
    """How a threshold outcome ended."""

    MET = "met"
    BREACHED = "breached"
    NOT_APPLICABLE = "not applicable"  # the claim cannot be judged (see the module docstring)


class Form(StrEnum):
    ABSOLUTE = "absolute"  # after.latency_p95_s < 60s
    RELATIVE = "relative"  # after.busy_rate <= 0.05 * before.busy_rate
    CHANGE = "change"  # change(after.busy_rate) <= -95%


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    expression: str
    variant: str | None  # None: every variant (but the reference, for a relative or change form)
    metric: str
    op: Op
    # absolute: in the metric's unit (seconds, a 0–1 share, a count); relative: the factor k;
    # change: a fraction (-0.95 for -95 %)
    limit: float
    form: Form = Form.ABSOLUTE
    reference: str | None = None  # relative: the variant on the right; change: None (the baseline)
    allow_not_applicable: bool = False  # `… or n/a`: a claim that does not apply passes

    @property
    def factor(self) -> float:
        """k of `variant ≤ k·reference`."""
        return 1.0 + self.limit if self.form is Form.CHANGE else self.limit


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdOutcome:
    expression: str
    variant: str
    metric: str
    form: Form
    op: Op
    limit: float  # as in Threshold: the metric's unit, the factor k, or the change as a fraction
    reference: str | None  # the variant compared against (the baseline for a change); None if absolute
    bound: str  # which CI bound was judged: "upper" or "lower"
    # The judged bound in the threshold's terms, compared with `limit` by `op`: a metric value (absolute),
    # the bound on the factor or on the change (relative, change). When the reference's mean is not
    # clearly above 0 there is no bound on a ratio: then the bound of d, in the metric's unit.
    value: float
    difference: Estimate  # what was judged: the metric (absolute) or the paired d = variant − k·reference
    judged: str  # the value in words: "change ≤ -97.1 % (upper 95 % bound)", or why it does not apply
    single_run: bool  # one replication where the metric applies: no interval, `value` is one run's
    passed: bool  # met, or not applicable and allowed to be (`or n/a`)
    applicable: bool = True  # False: NaN `value`, `judged` says why (see the module docstring)

    @property
    def status(self) -> Status:
        if not self.applicable:
            return Status.NOT_APPLICABLE
        return Status.MET if self.passed else Status.BREACHED

    @property
    def note(self) -> str:
        """Short text for a report: empty, or "judged on a single run"."""
        return SINGLE_RUN if self.single_run else ""

    @property
    def verdict(self) -> str:
        """The outcome in words, for a report line: "", "BREACHED", "NOT MET (not applicable)" or
        "not applicable, allowed (or n/a)"."""
        match self.status:
            case Status.MET:
                return ""
            case Status.BREACHED:
                return "BREACHED"
            case Status.NOT_APPLICABLE:
                return f"not applicable, allowed ({OR_NOT_APPLICABLE})" if self.passed else "NOT MET (not applicable)"


# ---------------------------------------------------------------- parsing

_OPERATOR = re.compile(r"<=|>=|<|>")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^({_NUMBER})\s*(%|ms|s|min|m|h)?$")
_SCALED = re.compile(rf"^(?:({_NUMBER})\s*\*\s*)?(.+)$")
_CHANGE = re.compile(r"^change\s*\(\s*(.*?)\s*\)$")
_SUFFIX = re.compile(r"\s+or\s+n/a$")  # `… or n/a` (a metric or variant name cannot hold a "/")
# [variant.]metric, the variant as a scenario may name it (dots included: the last one ends it)
_TERM = re.compile(r"^(?:([A-Za-z0-9][A-Za-z0-9 ._+-]*)\.)?([a-z0-9_]+)$")
_FORMS = (
    "is not of the form [variant.]metric<limit, variant.metric<=k*other.metric "
    "or change(variant.metric)<=-50%, optionally followed by 'or n/a' (ops: < <= > >=)"
)


def parse_threshold(
    expression: str,
    variants: Sequence[str],
    baseline: str | None = None,
    *,
    conversations: bool = True,
    lock_safety: bool = True,
) -> Threshold:
    """The threshold `expression` states over `variants`; `baseline` (when known) is checked too.
    `conversations`: whether the scenario has customers who wait for answers (their metrics need them);
    `lock_safety`: whether it measures lock safety (a failover, replicas, fencing or WAIT).

    Every error is one line naming the expression.
    """
    text = expression.strip()
    claim, allow = _without_suffix(text)
    threshold = _parsed(text, claim, variants, baseline, conversations, lock_safety)
    return dataclasses.replace(threshold, allow_not_applicable=allow) if allow else threshold


def _without_suffix(text: str) -> tuple[str, bool]:
    """The claim without a trailing `or n/a`, and whether it had one."""
    found = _SUFFIX.search(text)
    return (text[: found.start()].strip(), True) if found else (text, False)


def _parsed(
    text: str, claim: str, variants: Sequence[str], baseline: str | None, conversations: bool, lock_safety: bool
) -> Threshold:
    """The threshold `claim` states; errors and the expression name the whole `text`."""
    found = _OPERATOR.search(claim)
    if found is None or _OPERATOR.search(claim, found.end()):
        raise ThresholdError(f"threshold {_quoted(text)} {_FORMS}")
    left, op, right = claim[: found.start()].strip(), Op(found.group()), claim[found.end() :].strip()
    if not right:
        raise _error(text, f"no limit after {op.value!r}")
    change = _CHANGE.match(left)
    variant, metric = _term(text, change.group(1) if change else left, variants)
    if change:
        threshold = _change(text, variant, metric, op, right)
    elif _VALUE.match(right):
        threshold = _absolute(text, variant, metric, op, right)
    else:
        threshold = _relative(text, variant, metric, op, right, variants)
    if baseline is not None:
        _check_reference(threshold, variants, baseline)
    if not conversations and metric in CONVERSATION_METRICS:
        raise _error(text, f"{metric} needs customers who wait for answers ([workload.conversations])")
    if not lock_safety and metric in LOCK_SAFETY_METRICS:
        raise _error(text, f"{metric} is measured only with a failover fault, [redis]replicas or [lock]fencing")
    return threshold


def _term(text: str, term: str, variants: Sequence[str]) -> tuple[str | None, str]:
    match = _TERM.match(term)
    if not match:
        raise ThresholdError(f"threshold {_quoted(text)} {_FORMS}")
    variant, metric = match.groups()
    if metric not in ALL_METRICS:
        raise _error(text, f"unknown metric {_quoted(metric)} (metrics: {', '.join(ALL_METRICS)})")
    if variant is not None and variant not in variants:
        raise _error(text, f"unknown variant {_quoted(variant)} (variants: {', '.join(variants)})")
    return variant, metric


def _absolute(text: str, variant: str | None, metric: str, op: Op, right: str) -> Threshold:
    return Threshold(
        expression=text, variant=variant, metric=metric, op=op, limit=_limit(text, metric, right), form=Form.ABSOLUTE
    )


def _limit(text: str, metric: str, right: str) -> float:
    """The limit in the metric's unit: `60s`, `500ms`, `2m` on seconds, `1%` on a ratio, a plain number on any."""
    try:
        return metric_value(metric, right)
    except ValueError as error:
        raise _error(text, str(error)) from None


def metric_value(metric: str, value: str) -> float:
    """`value` in `metric`'s unit, as a threshold's limit reads it (`--precision` targets too).

    A duration (`500ms`, `60s`, `2m`) on a metric in seconds, a percentage on a ratio (`1%` is
    0.01), a plain number on any. Anything else is a `ValueError` saying why in one line.
    """
    match = _VALUE.match(value.strip())
    if match is None:
        raise ValueError(f"expected a number, a duration such as '500ms' or a percentage, got {_quoted(value)}")
    number, suffix = match.groups()
    unit = ALL_METRICS[metric].unit
    if not math.isfinite(float(number)):
        raise ValueError(f"{_quoted(number)} is not a finite number")
    if suffix is None:
        return float(number)
    if suffix == "%":
        if unit is not Unit.RATIO:
            raise ValueError(f"a percentage fits a ratio ({_names(Unit.RATIO)}), not {metric}")
        return float(number) / 100
    if unit is not Unit.SECONDS:
        raise ValueError(f"a duration fits a metric in seconds ({_names(Unit.SECONDS)}), not {metric}")
    # Imported here: the scenario package imports this module (a Threshold is part of a Scenario).
    from sim.core.durations import DURATION_HELP, parse_duration

    seconds = parse_duration(value.replace(" ", ""))
    if seconds is None:
        raise ValueError(f"expected {DURATION_HELP}, got {_quoted(value)}")
    return seconds


def _relative(text: str, variant: str | None, metric: str, op: Op, right: str, variants: Sequence[str]) -> Threshold:
    match = _SCALED.match(right)
    assert match is not None  # `.+` matches any non-empty right side
    factor, term = match.groups()
    reference, other = _term(text, term, variants)
    if reference is None:
        raise _error(text, f"name the variant on the right, e.g. 0.5 * before.{metric}")
    if other != metric:
        raise _error(text, f"compares {metric} with {other}; both sides must be one metric")
    if reference == variant:
        raise _error(text, f"compares {variant} with itself")
    k = 1.0 if factor is None else _finite(text, factor)
    if not 0 <= k <= MAX_FACTOR:
        raise _error(text, f"the factor must be from 0 to {MAX_FACTOR:g}, got {_quoted(str(factor))}")
    return Threshold(
        expression=text, variant=variant, metric=metric, op=op, limit=k, form=Form.RELATIVE, reference=reference
    )


def _change(text: str, variant: str | None, metric: str, op: Op, right: str) -> Threshold:
    match = _VALUE.match(right)
    if not match or match.group(2) != "%":
        raise _error(text, f"a change is a percentage, e.g. change({metric}) <= -50%")
    change = _finite(text, match.group(1)) / 100
    if change < -1:
        raise _error(text, f"a change below -100 % would need a negative {metric}")
    if 1 + change > MAX_FACTOR:
        raise _error(text, f"a change above {(MAX_FACTOR - 1) * 100:g} % claims nothing")
    return Threshold(expression=text, variant=variant, metric=metric, op=op, limit=change, form=Form.CHANGE)


def _check_reference(threshold: Threshold, variants: Sequence[str], baseline: str) -> None:
    """A change of the baseline against itself, or a comparison with nothing to compare, is refused."""
    if threshold.form is Form.ABSOLUTE:
        return
    reference = baseline if threshold.form is Form.CHANGE else threshold.reference
    if threshold.form is Form.CHANGE and threshold.variant == baseline:
        raise _error(
            threshold.expression,
            f"change() is against the baseline variant {baseline!r}, so the baseline's own change is always 0",
        )
    if not [v for v in variants if v != reference and threshold.variant in (None, v)]:
        raise _error(threshold.expression, f"no variant besides {reference!r} to compare")


def _finite(text: str, number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise _error(text, f"{_quoted(number)} is not a finite number")
    return value


def _error(expression: str, message: str) -> ThresholdError:
    return ThresholdError(f"threshold {_quoted(expression)}: {message}")


def _quoted(text: str) -> str:
    """The expression as an error shows it: quoted, escaped, and cut short if it is huge."""
    return repr(text) if len(text) <= 200 else f"{text[:200]!r}… ({len(text):,} characters)"


def _names(unit: Unit) -> str:
    return ", ".join(name for name, m in ALL_METRICS.items() if m.unit is unit)


# ---------------------------------------------------------------- judging


def judge(
    threshold: Threshold, per_replication: Mapping[str, Sequence[Mapping[str, float]]], baseline: str
) -> list[ThresholdOutcome]:
    """One outcome per variant the threshold applies to.

    `per_replication`: variant → the metrics of each replication, in replication order (paired).
    `baseline`: the variant a change() is measured against.
    """
    reference = baseline if threshold.form is Form.CHANGE else threshold.reference
    return [
        _judge_one(threshold, variant, reference, per_replication)
        for variant in per_replication
        if threshold.variant in (None, variant) and variant != reference
    ]


def _judge_one(
    threshold: Threshold,
    variant: str,
    reference: str | None,
    per_replication: Mapping[str, Sequence[Mapping[str, float]]],
) -> ThresholdOutcome:
    op, metric = threshold.op, threshold.metric
    # A metric a run does not have (a conversation metric without conversations) does not apply: NaN.
    values = [float(rep.get(metric, math.nan)) for rep in per_replication[variant]]
    before = [] if reference is None else [float(rep.get(metric, math.nan)) for rep in per_replication[reference]]
    why = _why_not_applicable(threshold, variant, reference, values, before)
    if reference is None:
        difference = mean_ci(values)
        value = _worst(difference, op)
        passed = op.holds(value, threshold.limit)
        words = f"{metric} {_sign(op, difference)} {_shown(metric, value)}"
    else:
        difference = mean_ci(_paired(values, threshold.factor, before))  # the judgement: exact paired t
        passed = not why and op.holds(_worst(difference, op), 0.0)
        value, words = (math.nan, "") if why else _relative_value(threshold, variant, reference, values, before)
    outcome = ThresholdOutcome(
        expression=threshold.expression,
        variant=variant,
        metric=metric,
        form=threshold.form,
        op=op,
        limit=threshold.limit,
        reference=reference,
        bound=op.bound,
        value=value,
        difference=difference,
        judged=words + (f" ({SINGLE_RUN})" if difference.n < 2 else f" ({op.bound} 95 % bound)"),
        single_run=difference.n == 1,
        passed=passed,
    )
    if why:
        return dataclasses.replace(
            outcome, value=math.nan, judged=f"not applicable: {why}", single_run=False,
            passed=threshold.allow_not_applicable, applicable=False,
        )  # fmt: skip
    return outcome


def _why_not_applicable(
    threshold: Threshold, variant: str, reference: str | None, values: Sequence[float], before: Sequence[float]
) -> str:
    """Why the claim cannot be judged (see the module docstring); empty when it can."""
    metric = threshold.metric
    if reference is None:
        return "" if any(not math.isnan(v) for v in values) else _nowhere(metric, variant)
    pairs = [(a, b) for a, b in zip(values, before, strict=True) if not (math.isnan(a) or math.isnan(b))]
    if not pairs:
        side = reference if all(math.isnan(b) for b in before) else variant
        return _nowhere(metric, side)
    if all(b == 0 for _, b in pairs):
        undefined = "a change from 0" if threshold.form is Form.CHANGE else "a ratio to 0"
        return f"{reference}.{metric} is 0 in every replication: {undefined} is undefined"
    return ""


def _nowhere(metric: str, variant: str) -> str:
    why = ALL_METRICS[metric].undefined
    return f"{metric} applies to no replication of {variant}" + (f" ({why})" if why else "")


def _relative_value(
    threshold: Threshold, variant: str, reference: str, values: Sequence[float], before: Sequence[float]
) -> tuple[float, str]:
    """The judgement in the threshold's terms: the bound of the factor, or of the change (module docstring)."""
    metric, op = threshold.metric, threshold.op
    difference = mean_ci(_paired(values, threshold.factor, before))
    sign = _sign(op, difference)
    ratio = _ratio_bound(values, before, op)
    if ratio is None:  # no bound on the ratio: show d itself, in the metric's unit
        worst = _worst(difference, op)
        return worst, f"{variant}.{metric} − {threshold.factor:g} × {reference}.{metric} {sign} {_shown(metric, worst)}"
    if threshold.form is Form.CHANGE:
        return ratio - 1, f"change {sign} {(ratio - 1) * 100:+.1f} %"
    return ratio, f"{variant}.{metric} {sign} {ratio:.3g} × {reference}.{metric}"


def _ratio_bound(values: Sequence[float], before: Sequence[float], op: Op) -> float | None:
    """Fieller's bound on mean(values) / mean(before): the factor k at which d = values − k·before has its
    worst 95 % bound at exactly 0, so the threshold holds just when its own factor is beyond it.

    The bound solves (ā − k·b̄)² = h(k)², h(k) the half-width of d's interval, a quadratic in k:
    h(k)² = h(a)² − 2k·c + k²·h(b)², with c = (h(a)² + h(b)² − h(a − b)²) / 2 — every h from `mean_ci`.
    None when b̄ is not clearly above 0 (b̄ ≤ h(b)): then the set of factors that hold is not bounded.
    """
    (a_mean, h_a), (b_mean, h_b) = _mean_half(values), _mean_half(before)
    h_diff = _mean_half([x - y for x, y in zip(values, before, strict=True)])[1]
    square = b_mean * b_mean - h_b * h_b
    if b_mean <= 0 or square <= 0:
        return None
    cross = a_mean * b_mean - (h_a * h_a + h_b * h_b - h_diff * h_diff) / 2
    constant = a_mean * a_mean - h_a * h_a
    root = math.sqrt(max(cross * cross - square * constant, 0.0))  # ≥ 0 in exact arithmetic when square > 0
    return (cross + root) / square if op.bound == "upper" else (cross - root) / square


def _mean_half(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95 % interval (0 for a single run)."""
    e = mean_ci(values)
    return e.mean, (e.high - e.low) / 2


def _paired(values: Sequence[float], k: float, before: Sequence[float]) -> list[float]:
    """d_i = variant_i − k·reference_i, replication by replication (common random numbers)."""
    if len(values) != len(before):
        raise ValueError("paired samples need the same number of replications")
    return [a - k * b for a, b in zip(values, before, strict=True)]


def _worst(estimate: Estimate, op: Op) -> float:
    return estimate.high if op.bound == "upper" else estimate.low


def _sign(op: Op, estimate: Estimate) -> str:
    if estimate.n < 2:
        return "="
    return "≤" if op.bound == "upper" else "≥"


def _shown(metric: str, value: float) -> str:
    match ALL_METRICS[metric].unit:
        case Unit.SECONDS:
            return f"{value:.4g} s"
        case Unit.RATIO:
            return f"{value * 100:.3g} %"
        case Unit.COUNT:
            return f"{value:.4g}"
