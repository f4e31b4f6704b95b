"""What changed against a previous run's results.json (unpaired: the code may differ).

A baseline file is hostile input like any other. It is read only if it is a regular file
(not a FIFO, not /dev/zero) of at most `MAX_BYTES`, in UTF-8, as strict JSON (no NaN or
Infinity, no number so large it becomes infinite), every metric is zero or of a magnitude
from `MIN_MAGNITUDE` to `MAX_MAGNITUDE`, and its whole structure is checked once when it is
loaded; an error names the culprit (`variants.after.replications[2].busy_rate`). A metric
that did not apply to a replication is `null` there (format 2) and reads as NaN; a change
on a metric that applies to neither side, or only one, is "not applicable".

A change is judged like a verdict of `sim compare` (`sim.metrics.comparison`): its Welch p-value
goes through Holm–Bonferroni over every change of the run (variant × metric), its interval is the
Welch interval at the level Holm tested it at (so it excludes zero exactly when the change is
significant), and an interval within ± the metric's minimal meaningful effect (relative ones of the
previous run's mean) is no meaningful difference. Identical samples are no change. Samples with
no spread on either side (a deterministic metric) but different values are a certain change, so
significant. With a single replication on either side there is no spread to judge by, and any
difference counts as significant.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.core.errors import BaselineError
from sim.metrics.catalog import ALL_METRICS, Unit
from sim.metrics.comparison import BETTER, CHANGED, EQUIVALENT, NOT_APPLICABLE, SAME, WORSE, Comparison, Judgement
from sim.metrics.meaningful import Margin, default_margin, within
from sim.metrics.stats import CONFIDENCE, Estimate, holm_levels, welch_difference, welch_p_value

FORMAT_VERSION = 3  # 3: verdicts' adjusted intervals and margins, threshold status (json_report); 2: nulls
READABLE_VERSIONS = (1, 2, 3)  # only the replications are read, and they have kept their shape since format 1
MAX_BYTES = 64 * 1024 * 1024  # a results.json of 10,000 replications × 20 variants is about 40 MiB
MAX_NAMED = 10  # baseline-only variants named one by one; a hostile file may hold a million
# Every metric is a count, a rate or seconds. Past these bounds a value is not a metric, and the statistics
# would overflow (fsum of 1.7e308s, a variance's square) or underflow to 0/0 (a spread of 1e-160 squared twice).
MAX_MAGNITUDE = 1e15
MIN_MAGNITUDE = 1e-30  # for a value that is not exactly zero


@dataclass(frozen=True, slots=True)
class Previous:
    """A validated baseline: per variant, the metrics of each of its replications."""

    path: str
    scenario: str
    variants: dict[str, list[dict[str, float]]]


@dataclass(frozen=True, slots=True)
class Change:
    variant: str
    metric: str
    old: float
    new: float
    difference: Estimate  # new − old, Welch interval at `confidence`
    significant: bool
    old_replications: int
    new_replications: int
    confidence: float = CONFIDENCE  # the level Holm tested the change at (`changes`)
    margin: float = 0.0  # the minimal meaningful effect in the metric's unit
    p_value: float = math.nan  # Welch's, unadjusted

    @property
    def verdict(self) -> Judgement:
        """BETTER | WORSE | CHANGED (a metric with no better direction) | EQUIVALENT | SAME | NOT_APPLICABLE."""
        if not self.difference.applies:
            return NOT_APPLICABLE
        if self.difference.n >= 2 and within(self.difference.low, self.difference.high, self.margin):
            return EQUIVALENT
        if not self.significant:
            return SAME
        direction = ALL_METRICS[self.metric].better
        if direction is None:
            return CHANGED
        return BETTER if (self.difference.mean > 0) == direction else WORSE


@dataclass(frozen=True, slots=True)
class BaselineDiff:
    """Every change against the baseline, what could not be compared, and what fails the run."""

    source: str  # the results.json compared against
    changes: tuple[Change, ...]
    not_compared: tuple[str, ...]  # one sentence each: a new variant, a metric the baseline lacks
    watched: tuple[str, ...] = ()  # the metrics of --fail-on-regression

    @property
    def family_size(self) -> int:
        """The changes Holm–Bonferroni adjusted together (the applicable ones)."""
        return sum(1 for ch in self.changes if ch.verdict != NOT_APPLICABLE)

    @property
    def regressions(self) -> list[Change]:
        return [ch for ch in self.changes if ch.metric in self.watched and ch.verdict == WORSE]


def load_previous(path: str | Path) -> Previous:
    """Reads and checks a whole results.json; every problem is a one-line `BaselineError`."""
    data = _parse(_read(Path(path)), path)
    return Previous(str(path), *_checked(data, str(path)))


def read_results(path: str | Path) -> Any:
    """A results.json's JSON, read as a baseline is (a regular file, at most MAX_BYTES, UTF-8, strict JSON);
    every problem is a one-line `BaselineError`. Its structure is the caller's to check."""
    return _parse(_read(Path(path)), path)


def changes(previous: Previous, comparison: Comparison, watched: Collection[str] = ()) -> BaselineDiff:
    """Per variant present in both runs, per metric: old mean, new mean, difference (module docstring)."""
    pairs: list[tuple[str, str, list[float], list[float]]] = []
    skipped: list[str] = []
    for variant, reps in comparison.per_replication.items():
        old_reps = previous.variants.get(variant)
        if old_reps is None:
            skipped.append(f"baseline has no variant {variant!r}: no comparison for it")
            continue
        for metric in comparison.metrics:
            if any(metric not in r for r in old_reps):
                skipped.append(f"baseline has no metric {metric!r} for variant {variant!r}: no comparison for it")
                continue
            pairs.append((variant, metric, [r[metric] for r in reps], [r[metric] for r in old_reps]))
    gone = [v for v in previous.variants if v not in comparison.per_replication]
    skipped += [f"baseline variant {v[:60]!r} is not in this run: no comparison for it" for v in gone[:MAX_NAMED]]
    if len(gone) > MAX_NAMED:
        skipped.append(f"{len(gone) - MAX_NAMED} more baseline variants are not in this run")
    levels = holm_levels([welch_p_value(new, old) for _, _, new, old in pairs])
    found = [
        _change(variant, metric, new, old, level, comparison.margins.get(metric) or default_margin(metric))
        for (variant, metric, new, old), level in zip(pairs, levels, strict=True)
    ]
    return BaselineDiff(previous.path, tuple(found), tuple(skipped), tuple(watched))


def regression_metrics(text: str) -> tuple[str, ...]:
    """`busy_rate,latency_p95_s` → the metrics whose significant worsening fails the run."""
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        if name not in ALL_METRICS:
            raise ValueError(f"unknown metric {name!r} (one of {', '.join(ALL_METRICS)})")
        if ALL_METRICS[name].better is None:
            raise ValueError(f"{name!r} has no better or worse direction, so it cannot regress")
    return names


def _change(variant: str, metric: str, new: list[float], old: list[float], level: float, margin: Margin) -> Change:
    """One change, judged at the level Holm tested it at (NaN: not applicable, nothing tested)."""
    confidence = CONFIDENCE if math.isnan(level) else 1 - level
    diff = welch_difference(new, old, confidence)
    p = welch_p_value(new, old)
    significant = diff.applies and p <= level
    before = _mean(old)
    return Change(
        variant, metric, before, _mean(new), diff, significant, len(old), len(new),
        confidence=confidence, margin=margin.of(before), p_value=p,
    )  # fmt: skip


def _mean(values: list[float]) -> float:
    """The mean over the replications where the metric applies; NaN if it applies to none."""
    applicable = [v for v in values if not math.isnan(v)]
    return math.fsum(applicable) / len(applicable) if applicable else math.nan


def _read(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of at most MAX_BYTES (never blocks on a FIFO)."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise BaselineError(f"{path}: {kind}, expected a results.json")
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such results file") from None
    except OSError as error:
        raise BaselineError(f"{path}: cannot be read: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise BaselineError(f"{path}: larger than {MAX_BYTES // 2**20} MiB, not a results.json")
    return data


def _parse(data: bytes, path: str | Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError as error:
        raise BaselineError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except RecursionError:
        raise BaselineError(f"{path}: nested too deeply to be a results.json") from None
    except ValueError as error:  # json.JSONDecodeError, the two below, an int of more than 4,300 digits
        raise BaselineError(f"{path}: not valid JSON: {_first_line(str(error))}") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a results.json holds")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]!r} is too large")
    return value


def _checked(data: Any, path: str) -> tuple[str, dict[str, list[dict[str, float]]]]:
    """The scenario name and per-variant replications, once every part has been checked."""
    if not isinstance(data, dict):
        raise BaselineError(f"{path}: expected a JSON object, got {_kind(data)}")
    if data.get("kind") == "sweep":
        raise BaselineError(f"{path}: the results of a sweep, not of `sim compare`")
    if type(data.get("format_version")) is not int or data["format_version"] not in READABLE_VERSIONS:
        versions = ", ".join(map(str, READABLE_VERSIONS[:-1])) + f" or {READABLE_VERSIONS[-1]}"
        raise BaselineError(f"{path}: format_version must be {versions}, got {data.get('format_version')!r:.40}")
    if not isinstance(data.get("scenario"), str):
        raise BaselineError(f"{path}: scenario must be a string, got {_kind(data.get('scenario'))}")
    variants = _field(data, "variants", dict, "variants", path)
    checked = {name: _replications(value, f"variants{_key(name)}", path) for name, value in variants.items()}
    return data["scenario"], checked


def _replications(variant: Any, where: str, path: str) -> list[dict[str, float]]:
    if not isinstance(variant, dict):
        raise BaselineError(f"{path}: {where} must be an object, got {_kind(variant)}")
    reps = _field(variant, "replications", list, where, path)
    if not reps:
        raise BaselineError(f"{path}: {where}.replications is empty")
    return [_metrics(rep, f"{where}.replications[{i}]", path) for i, rep in enumerate(reps)]


def _metrics(rep: Any, where: str, path: str) -> dict[str, float]:
    if not isinstance(rep, dict):
        raise BaselineError(f"{path}: {where} must be an object of metric → number, got {_kind(rep)}")
    return {name: _metric(value, f"{path}: {where}{_key(name)}", name) for name, value in rep.items()}


def _metric(value: Any, place: str, name: str) -> float:
    """A metric's value as a float, if it is a number a count, a rate or a time in seconds can be
    (within its unit's bounds, for a metric sim knows); NaN for null (the metric did not apply)."""
    if value is None:
        return math.nan
    if type(value) not in (int, float) or (type(value) is float and not math.isfinite(value)):
        raise BaselineError(f"{place} is not a finite number")
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:  # compared before converting: an int may not fit a float
        raise BaselineError(f"{place} is beyond ±{MAX_MAGNITUDE:.0e}: no count, rate or time in seconds is")
    if value and abs(value) < MIN_MAGNITUDE:
        raise BaselineError(f"{place} is closer to zero than {MIN_MAGNITUDE:.0e}: no count, rate or time in seconds is")
    metric = ALL_METRICS.get(name)
    if metric is not None:
        low, high = metric.unit.bounds
        if not low <= value <= high:
            raise BaselineError(f"{place} is {value:g}: impossible, {name} is {_WHAT[metric.unit]}")
    return float(value)


_WHAT = {Unit.COUNT: "a count (0 or more)", Unit.SECONDS: "a time (0 s or more)", Unit.RATIO: "a share (0 to 1)"}


def _field(data: Mapping[str, Any], name: str, kind: type, where: str, path: str) -> Any:
    place = name if where == name else f"{where}.{name}"
    if name not in data:
        raise BaselineError(f"{path}: {place} is missing")
    if not isinstance(data[name], kind):
        raise BaselineError(f"{path}: {place} must be {_kind_name(kind)}, got {_kind(data[name])}")
    return data[name]


def _key(name: str) -> str:
    """`.after` for a plain name; a quoted, shortened one for anything else (one line, always)."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", name):
        return f".{name}"
    return f"[{name[:40]!r}]"


def _kind(value: Any) -> str:
    return "nothing" if value is None else _kind_name(type(value))


def _kind_name(kind: type) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return names.get(kind, kind.__name__)


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else "unreadable"
