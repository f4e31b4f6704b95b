"""The `[tune]` section and `sim tune`'s flags: a search space, objectives and constraints.

Its syntax lives here, beside the rest of the scenario file's, so one parser serves the
file and the command line and every error names `[tune]key` (or the flag). Nothing here
searches: `sim.tune` does, from the frozen records this module builds.

    space = ["lock.timeout=10s..120s", "lock.backoff.cap=200ms..5s:log", "workers.count=4..64:int",
             "lock.backoff.kind=exponential,full_jitter"]
    objectives = ["redis_commands*1e-6 + llm_calls*0.01 + busy*0.5"]
    constraints = ["busy_rate<0.01"]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sim.core.durations import MAX_DURATION, parse_duration
from sim.metrics.catalog import METRICS
from sim.metrics.thresholds import Threshold, ThresholdError, parse_threshold
from sim.metrics.tuning import EXTRA_METRICS
from sim.scenario.reader import SETTING_KEY, Reader

# SETTING_KEY is sim.experiment.sweep's GRID_KEY; SETTING_VALUE the same as its GRID_VALUE (a test holds them
# equal; importing sim.experiment.sweep here would be a cycle): a candidate's values become its variant's name.
SETTING_VALUE = re.compile(r"[A-Za-z0-9._+-]{1,32}")
MAX_DIMENSIONS = 16  # settings in one space: past this no budget explores it
MAX_CHOICES = 32  # values of one categorical setting
MAX_OBJECTIVES = 4  # objectives of one study (two give the Pareto front's plot)
MAX_TERMS = 16  # terms of one cost expression
MAX_TEXT = 400  # characters of one space entry, objective or constraint
MAX_WEIGHT = 1e12  # a cost weight; beyond it the sum of a run's costs loses every digit
MAX_TRIALS = 10_000
MAX_REPLICATIONS = 1000  # per candidate during the search, and per finalist in the confirmation
MAX_FINALISTS = 20
MAX_BUDGET = 7 * 86400.0  # a week of wall time: longer is a typo
MAX_RUNS = 100_000  # trials × replications: simulations one search may ask for (as `sim sweep`)
DEFAULT_TRIALS = 30
DEFAULT_FINALISTS = 4
DEFAULT_CONFIRMATION = 40
T = TypeVar("T")  # at most this many fresh replications per finalist


class TuneSpecError(ValueError):
    """A space entry, objective or constraint that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Range:
    """A numeric setting searched from `low` to `high` (seconds for durations)."""

    key: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    duration: bool = False  # the bounds were durations ('10s'): values are written as durations


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """A setting searched over listed values, each written as in a scenario file ('exponential', 'true')."""

    key: str
    values: tuple[str, ...]


Dimension = Range | Choice


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    name: str  # a metric, or a numeric setting of the space (`workers.count`)
    weight: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """A weighted sum to minimise: `redis_commands*1e-6 + busy*0.5`, or a bare metric."""

    text: str
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TuneSettings:
    variant: str | None  # the variant the search starts from and is compared with; None: the baseline
    space: tuple[Dimension, ...]
    objectives: tuple[Cost, ...]
    constraints: tuple[Threshold, ...] = ()
    trials: int = DEFAULT_TRIALS
    budget: float | None = None  # wall seconds of search; None: only the trial count stops it
    replications: int | None = None  # per candidate at most; None: the scenario's
    finalists: int = DEFAULT_FINALISTS
    delta: float | None = None  # the indifference zone, in objective units; None: 1 % of the leader's cost
    confirmation: int = DEFAULT_CONFIRMATION


def parse_tune_section(top: Reader) -> TuneSettings | None:
    """`[tune]` of a scenario file, or None without one."""
    r = top.table("tune")
    if r is None:
        return None
    variant = r.string("variant") if r.has("variant") else None
    r.raw("variant", None)
    space = tuple(_spec(r, "space", parse_dimension, item) for item in _strings(r, "space"))
    objectives = tuple(_spec(r, "objectives", parse_cost, item) for item in _strings(r, "objectives"))
    constraints = tuple(_spec(r, "constraints", parse_constraint, item) for item in _strings(r, "constraints", []))
    budget = r.duration("budget", positive=True) if r.has("budget") else None
    if budget is not None and budget > MAX_BUDGET:
        r.fail("budget", f"must be at most 7 days, got {budget:g} s")
    r.raw("budget", None)
    replications = _optional_number(r, "replications", minimum=2, maximum=MAX_REPLICATIONS, integer=True)
    delta = _optional_number(r, "delta", minimum=0.0, maximum=1e15, integer=False)
    settings = TuneSettings(
        variant=variant,
        space=space,
        objectives=objectives,
        constraints=constraints,
        trials=r.number("trials", DEFAULT_TRIALS, minimum=1, maximum=MAX_TRIALS, integer=True),
        budget=budget,
        replications=None if replications is None else int(replications),
        finalists=r.number("finalists", DEFAULT_FINALISTS, minimum=2, maximum=MAX_FINALISTS, integer=True),
        delta=None if delta is None else float(delta),
        confirmation=r.number("confirmation", DEFAULT_CONFIRMATION, minimum=2, maximum=MAX_REPLICATIONS, integer=True),
    )
    r.done()
    if settings.delta is not None and settings.delta <= 0:
        r.fail("delta", f"must be greater than zero, got {settings.delta:g}")
    try:
        check_settings(settings)
    except TuneSpecError as error:
        r.fail(error.args[1] if len(error.args) > 1 else "space", str(error.args[0]))
    return settings


def _optional_number(r: Reader, key: str, *, minimum: float, maximum: float, integer: bool) -> int | float | None:
    if not r.has(key):
        r.raw(key, None)
        return None
    value: int | float = r.number(key, minimum=minimum, maximum=maximum, integer=integer)
    return value


def _strings(r: Reader, key: str, default: list[str] | None = None) -> list[str]:
    items = r.list_of(key) if default is None else r.list_of(key, default)
    for item in items:
        if not isinstance(item, str):
            r.fail(key, f"expected strings, got {str(item)[:40]!r}")
    return items


def _spec(r: Reader, key: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except TuneSpecError as error:
        r.fail(key, str(error))


def check_settings(settings: TuneSettings) -> None:
    """What only the whole study can tell: sizes, repeated settings, cost terms that name the space.

    Raises TuneSpecError(message, key).
    """
    if not settings.space:
        raise TuneSpecError("needs at least one setting to search, e.g. 'lock.timeout=10s..120s'", "space")
    if len(settings.space) > MAX_DIMENSIONS:
        raise TuneSpecError(f"{len(settings.space)} settings; the limit is {MAX_DIMENSIONS}", "space")
    keys = [d.key for d in settings.space]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise TuneSpecError(f"{repeated[0]} is in the space twice", "space")
    if not settings.objectives:
        raise TuneSpecError("needs an objective, e.g. 'redis_commands' or 'busy*0.5 + llm_calls*0.01'", "objectives")
    if len(settings.objectives) > MAX_OBJECTIVES:
        raise TuneSpecError(f"{len(settings.objectives)} objectives; the limit is {MAX_OBJECTIVES}", "objectives")
    numeric = {d.key for d in settings.space if isinstance(d, Range)}
    for cost in settings.objectives:
        for term in cost.terms:
            if "." in term.name and term.name not in numeric:
                raise TuneSpecError(
                    f"{cost.text!r}: {term.name} is not a numeric range of the space (a cost may weigh a "
                    f"searched setting such as workers.count; searched ranges: {', '.join(sorted(numeric)) or 'none'})",
                    "objectives",
                )


def parse_dimension(text: str) -> Dimension:
    """`KEY=LOW..HIGH[:log][:int]` or `KEY=V1,V2,…`."""
    shown = _shown(text)
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise TuneSpecError(f"{shown}: expected KEY=LOW..HIGH or KEY=V1,V2,… such as lock.timeout=10s..120s")
    if not SETTING_KEY.fullmatch(key):
        raise TuneSpecError(f"{shown}: {key[:40]!r} is not a setting name such as lock.timeout")
    if ".." in spec:
        return _range(shown, key, spec)
    values = tuple(v.strip() for v in spec.split(","))
    for value in values:
        if not SETTING_VALUE.fullmatch(value):
            raise TuneSpecError(
                f"{shown}: a value must be letters, digits, '.', '_', '+' and '-', at most 32 characters, "
                f"got {value[:40]!r}"
            )
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise TuneSpecError(f"{shown}: {repeated[0]} given twice; each value once")
    if not 2 <= len(values) <= MAX_CHOICES:
        raise TuneSpecError(f"{shown}: a choice needs 2 to {MAX_CHOICES} values (one value is not a search)")
    return Choice(key=key, values=values)


def _range(shown: str, key: str, spec: str) -> Range:
    bounds, *flags = spec.split(":")
    low_text, _, high_text = bounds.partition("..")
    unknown = sorted(set(flags) - {"log", "int"})
    if unknown or len(set(flags)) != len(flags):
        raise TuneSpecError(f"{shown}: after the range come ':log' and/or ':int', each once")
    durations = any(_has_unit(t) for t in (low_text, high_text))
    low, high = (_bound(shown, t.strip(), durations) for t in (low_text, high_text))
    integer = "int" in flags
    if integer and (durations or low != int(low) or high != int(high)):
        raise TuneSpecError(f"{shown}: ':int' needs whole-number bounds without a unit, such as 4..64:int")
    if not low < high:
        raise TuneSpecError(f"{shown}: the low end must be below the high end")
    if "log" in flags and low <= 0:
        raise TuneSpecError(f"{shown}: a ':log' range must start above zero")
    return Range(key=key, low=low, high=high, log="log" in flags, integer=integer, duration=durations)


def _has_unit(text: str) -> bool:
    return bool(re.search(r"[a-z]\s*$", text.strip()))


def _bound(shown: str, text: str, duration: bool) -> float:
    if duration:
        seconds = parse_duration(text)
        if seconds is None or not 0 <= seconds <= MAX_DURATION:
            raise TuneSpecError(f"{shown}: {text[:40]!r} is not a duration such as '200ms', '30s', '1h'")
        return seconds
    if not re.fullmatch(r"\d+(\.\d+)?([eE][+-]?\d+)?", text):
        raise TuneSpecError(f"{shown}: {text[:40]!r} is not a number of zero or more (nor a duration such as '30s')")
    value = float(text)
    if not math.isfinite(value) or value > 1e15:
        raise TuneSpecError(f"{shown}: {text[:40]!r} is beyond 1e15")
    return value


_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[a-z_][a-z0-9_]*(?:\.[a-z_]+)*)|(?P<op>[-+*]))"
)


def parse_cost(text: str) -> Cost:
    """`redis_commands*1e-6 + llm_calls*0.01 + busy*0.5`: terms of a metric (or a searched setting)
    times a weight, joined by + or -. No eval(): a small grammar, term by term."""
    shown = _shown(text)
    tokens = _tokens(shown, text)
    terms: list[Term] = []
    sign = 1.0
    position = 0
    while position < len(tokens):
        if tokens[position] in ("+", "-"):
            sign = -1.0 if tokens[position] == "-" else 1.0
            position += 1
        term, position = _term(shown, tokens, position, sign)
        terms.append(term)
        if position < len(tokens) and tokens[position] not in ("+", "-"):
            raise TuneSpecError(f"{shown}: expected + or - between terms, got {tokens[position][:20]!r}")
        sign = 1.0
    if not terms:
        raise TuneSpecError(f"{shown}: empty; expected a metric such as redis_commands, or a weighted sum")
    if len(terms) > MAX_TERMS:
        raise TuneSpecError(f"{shown}: {len(terms)} terms; the limit is {MAX_TERMS}")
    names = [t.name for t in terms]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TuneSpecError(f"{shown}: {repeated[0]} appears twice; give it one weight")
    single = terms[0] if len(terms) == 1 else None
    metric = METRICS.get(single.name) if single else None
    if single and metric and metric.better and single.weight > 0:
        raise TuneSpecError(
            f"{shown}: objectives are minimised, and more {single.name} is better: write -{single.name} "
            f"(on the command line --objective=-{single.name}: a value starting with '-' needs the '=')"
        )
    return Cost(text=" ".join(text.split()), terms=tuple(terms))


def _tokens(shown: str, text: str) -> list[str]:
    if len(text) > MAX_TEXT:
        raise TuneSpecError(f"{shown}: longer than {MAX_TEXT} characters")
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise TuneSpecError(
                f"{shown}: cannot read {text[position : position + 20].strip()!r} (terms are METRIC*NUMBER)"
            )
        tokens.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return tokens


def _term(shown: str, tokens: list[str], at: int, sign: float) -> tuple[Term, int]:
    """NAME, NAME*NUMBER or NUMBER*NAME from `tokens[at]`; the next position."""
    parts = tokens[at : at + 3]
    if len(parts) >= 3 and parts[1] == "*":
        first, second = parts[0], parts[2]
        number, name = (first, second) if _is_number(first) else (second, first)
        if not _is_number(number) or _is_number(name) or name in "+-*":
            raise TuneSpecError(f"{shown}: a term is METRIC*NUMBER or NUMBER*METRIC, got {' '.join(parts)!r}")
        return Term(name=_known(shown, name), weight=sign * _weight(shown, number)), at + 3
    if not parts or _is_number(parts[0]) or parts[0] in "+-*":
        raise TuneSpecError(f"{shown}: expected a metric name at {(parts[0] if parts else 'the end')!r}")
    return Term(name=_known(shown, parts[0]), weight=sign), at + 1


def _is_number(token: str) -> bool:
    return bool(token) and (token[0].isdigit() or token[0] == ".")


def _weight(shown: str, text: str) -> float:
    value = float(text)
    if not value <= MAX_WEIGHT:
        raise TuneSpecError(f"{shown}: weight {text[:30]} is beyond {MAX_WEIGHT:g}")
    return value


def _known(shown: str, name: str) -> str:
    if name in METRICS or name in EXTRA_METRICS or "." in name:  # a setting is checked against the space
        return name
    known = ", ".join([*METRICS, *EXTRA_METRICS])
    raise TuneSpecError(f"{shown}: unknown metric {name[:40]!r} (metrics: {known}; or a searched setting)")


def parse_constraint(text: str) -> Threshold:
    """`busy_rate<0.01`: the threshold syntax, applied to every candidate, judged on the CI bound."""
    try:
        return parse_threshold(text, ())
    except ThresholdError as error:
        raise TuneSpecError(str(error)) from None


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 120 else f"an entry of {len(text):,} characters"
