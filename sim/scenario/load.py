"""Read a scenario file: TOML → defaults → validation → `Scenario`.

Variants are parsed with the scenario's own settings as their defaults, so a
variant names only what it changes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from sim import distributions as d
from sim.metrics.thresholds import Threshold, ThresholdError, parse_threshold
from sim.scenario.model import (
    BACKOFF_KINDS,
    FAULT_KINDS,
    Backoff,
    CacheSettings,
    Fault,
    HandlerSettings,
    LockSettings,
    Scenario,
    ScenarioError,
    ScriptedCustomer,
    Services,
    Surge,
    Variant,
    Workload,
)
from sim.scenario.reader import MISSING, Reader, parse_duration

DEFAULT_LOCK = LockSettings(ttl=120.0, timeout=30.0, backoff=Backoff("fixed", delay=0.1), log_every=10)
DEFAULT_CACHE = CacheSettings(enabled=False, ttl=300.0)
DEFAULT_SERVICES = Services(
    crm=d.Uniform(8.0, 10.0), llm=d.Uniform(15.0, 20.0), installation_points=d.UniformCount(1, 3)
)
DEFAULT_WORKERS = 10
DEFAULT_RTT = 0.001
DEFAULT_REPLICATIONS = 10
VARIANT_SECTIONS = ("lock", "cache", "workers", "redis", "services", "handler")
MAX_BURSTS = 5_000_000  # per run: past this, memory and patience run out; split the run instead
MAX_COUNT = 1000  # messages in one burst, installation points of one customer
MAX_REPLICATIONS = 10_000
MIN_BACKOFF = 0.001  # a retry sooner than a millisecond is a busy loop, not a policy
# The name becomes a folder under --out: a plain file name, never a path ("..", "/x", "a/b").
REPORT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
REPORT_NAME_HELP = "letters, digits, '-', '_' and '.' (not first), at most 100 characters"


def load_scenario(path: str | Path) -> Scenario:
    """Parse and validate; raises `ScenarioError` with a one-line message."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{file}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{file}: cannot read: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{file}: invalid TOML: {error}") from None
    return parse_scenario(data, file)


def parse_scenario(data: dict[str, Any], file: str) -> Scenario:
    top = Reader(file, "", data)
    head = _section(top, "scenario")
    name = head.string("name", Path(file).stem)
    seed = head.number("seed", 1, integer=True)
    replications = head.number("replications", DEFAULT_REPLICATIONS, minimum=1, maximum=MAX_REPLICATIONS, integer=True)
    workload_section = _section(top, "workload")
    workload = parse_workload(workload_section)
    duration = head.duration("duration", _default_duration(workload))
    expected_bursts = workload.customers_per_hour * duration / 3600
    if expected_bursts > MAX_BURSTS:
        workload_section.fail(
            "customers_per_hour",
            f"{workload.customers_per_hour:g}/h over {duration:g} s is ~{expected_bursts:,.0f} bursts; "
            f"the limit is {MAX_BURSTS:,} per run",
        )
    base = parse_variant("default", top, None)
    variants = tuple(
        parse_variant(vname, Reader(file, f"variants.{vname}", _table(top, "variants", vname)), base)
        for vname in _table(top, "variants", None)
    ) or (base,)
    names = tuple(v.name for v in variants)
    baseline = head.string("baseline", names[0], choices=names)
    thresholds = tuple(_threshold(head, expression, names) for expression in head.list_of("thresholds", []))
    faults = tuple(parse_fault(f) for f in top.tables("faults"))
    _check_report_name(head, name, Path(file))
    head.done()
    top.done()
    return Scenario(name, file, seed, duration, replications, baseline, workload, variants, thresholds, faults)


def _check_report_name(head: Reader, name: str, file: Path) -> None:
    """Reports go to OUT/<name>/, so the name must be a plain file name, never a path."""
    if REPORT_NAME.fullmatch(name):
        return
    if not head.has("name"):
        head.fail("name", f"the file name {file.name!r} cannot be used as a report folder name; set [scenario]name")
    shown = repr(name) if len(name) <= 100 else f"a name of {len(name):,} characters"
    head.fail("name", f"{shown} cannot be a report folder name: use {REPORT_NAME_HELP}")


def parse_fault(r: Reader) -> Fault:
    kind = r.string("kind", choices=FAULT_KINDS)
    start = r.duration("start")
    if kind == "redis_restart":
        fault = Fault(kind, start)
    elif kind == "crm_errors":
        fault = Fault(kind, start, r.duration("duration", positive=True), rate=r.number("rate", maximum=1.0))
    elif kind == "stall":
        fault = Fault(kind, start, r.duration("duration", positive=True), extra=r.duration("extra", positive=True))
    else:
        fault = Fault(kind, start, r.duration("duration", positive=True))
    r.done()
    return fault


def _threshold(head: Reader, expression: Any, variants: tuple[str, ...]) -> Threshold:
    if not isinstance(expression, str):
        head.fail("thresholds", f"expected strings like 'busy_rate<0.01', got {expression!r}")
    try:
        return parse_threshold(expression, variants)
    except ThresholdError as error:
        head.fail("thresholds", str(error))


def _section(parent: Reader, key: str) -> Reader:
    return parent.table(key) or Reader(parent.file, key, {})


def _table(top: Reader, key: str, sub: str | None) -> dict[str, Any]:
    """`[variants]` or `[variants.NAME]`, checked to be a table."""
    section = top.table(key) or Reader(top.file, key, {})
    if sub is None:
        return section.data
    value = section.data[sub]
    if not isinstance(value, dict):
        section.fail(sub, f"expected a table of overrides ({', '.join(VARIANT_SECTIONS)}), got {value!r}")
    section.used.append(sub)
    return value


def _default_duration(workload: Workload) -> Any:
    if workload.customers_per_hour > 0:
        return MISSING  # an open workload needs an explicit duration
    return max((max(c.at) for c in workload.scripted if c.at), default=0.0)


def parse_variant(name: str, section: Reader, base: Variant | None) -> Variant:
    """A variant from `section`; absent keys default to `base` (or the built-in defaults)."""
    lock = parse_lock(_section(section, "lock"), base.lock if base else DEFAULT_LOCK)
    cache = parse_cache(_section(section, "cache"), base.cache if base else DEFAULT_CACHE)
    workers_table = _section(section, "workers")
    workers = workers_table.number("count", base.workers if base else DEFAULT_WORKERS, minimum=1, integer=True)
    workers_table.done()
    redis_table = _section(section, "redis")
    rtt = redis_table.duration("rtt", base.redis_rtt if base else DEFAULT_RTT)
    redis_table.done()
    services = parse_services(_section(section, "services"), base.services if base else DEFAULT_SERVICES)
    handler = parse_handler(_section(section, "handler"), base.handler if base else HandlerSettings())
    if base is not None:
        section.done()
    return Variant(name, lock, cache, workers, rtt, services, handler)


def parse_handler(r: Reader, base: HandlerSettings) -> HandlerSettings:
    skip = r.boolean("outage_notice_skips_llm", base.outage_notice_skips_llm)
    debounce = r.duration("debounce", base.debounce)
    r.done()
    return HandlerSettings(skip, debounce)


def parse_lock(r: Reader, base: LockSettings) -> LockSettings:
    ttl = r.duration("ttl", base.ttl, positive=True)
    timeout = r.duration("timeout", base.timeout)
    backoff_table = r.table("backoff")
    backoff = parse_backoff(backoff_table) if backoff_table else base.backoff
    log_every = r.number("log_every", base.log_every, minimum=1, integer=True)
    fair = r.boolean("fair", base.fair)
    watchdog = r.boolean("watchdog", base.watchdog)
    r.done()
    return LockSettings(ttl, timeout, backoff, log_every, fair, watchdog)


def parse_backoff(r: Reader) -> Backoff:
    kind = r.string("kind", choices=BACKOFF_KINDS)
    if kind == "fixed":
        backoff = Backoff(kind, delay=r.duration("delay", minimum=MIN_BACKOFF))
    else:
        base = r.duration("base", minimum=MIN_BACKOFF)
        factor = r.number("factor", 2.0, minimum=1.0, maximum=1000.0)
        cap = r.duration("cap", minimum=MIN_BACKOFF)
        if cap < base:
            r.fail("cap", f"must be at least base ({base:g} s), got {cap:g} s")
        backoff = Backoff(kind, base=base, factor=float(factor), cap=cap)
    r.done()
    return backoff


def parse_cache(r: Reader, base: CacheSettings) -> CacheSettings:
    enabled = r.boolean("enabled", base.enabled)
    ttl = r.duration("ttl", base.ttl, positive=True)
    single_flight = r.boolean("single_flight", base.single_flight)
    beta = float(r.number("xfetch_beta", base.xfetch_beta, maximum=100.0))
    r.done()
    return CacheSettings(enabled, ttl, single_flight, beta)


def parse_services(r: Reader, base: Services) -> Services:
    crm = parse_distribution(r, "crm", base.crm)
    llm = parse_distribution(r, "llm", base.llm)
    points = parse_count(r, "installation_points", base.installation_points, minimum=0)
    crm_timeout = r.optional_duration("crm_timeout", base.crm_timeout)
    llm_timeout = r.optional_duration("llm_timeout", base.llm_timeout)
    r.done()
    return Services(crm, llm, points, crm_timeout, llm_timeout)


def parse_workload(r: Reader) -> Workload:
    rate, hourly = _rates(r)
    population = r.number("population", 0, integer=True)
    burst_size = parse_count(r, "burst_size", d.FixedCount(1), minimum=1)
    burst_gap = parse_distribution(r, "burst_gap", d.Exponential(5.0))
    scripted = tuple(_scripted_customer(s) for s in r.tables("script"))
    surges = tuple(_surge(s) for s in r.tables("surge"))
    r.done()
    if rate == 0 and not scripted:
        r.fail("customers_per_hour", "the workload is empty: set customers_per_hour > 0 or add [[workload.script]]")
    return Workload(float(rate), population, burst_size, burst_gap, scripted, hourly, surges)


def _rates(r: Reader) -> tuple[float, tuple[float, ...]]:
    """`customers_per_hour`: one rate, or 24 rates by hour of day (returned with their mean)."""
    value = r.raw("customers_per_hour", 0.0)
    if not isinstance(value, list):
        return float(r.number("customers_per_hour", 0.0)), ()
    if len(value) != 24:
        r.fail("customers_per_hour", f"a daily curve needs 24 hourly rates, got {len(value)}")
    hourly = tuple(float(_positive(r, "customers_per_hour", v)) for v in value)
    return sum(hourly) / 24, hourly


def _surge(r: Reader) -> Surge:
    surge = Surge(r.duration("start"), r.duration("duration", positive=True), float(r.number("multiplier", minimum=1)))
    r.done()
    return surge


def _scripted_customer(r: Reader) -> ScriptedCustomer:
    name = r.string("customer")
    tax_id = r.string("tax_id", name)
    times = r.list_of("messages")
    at = tuple(Reader(r.file, r.section, {"messages": t}).duration("messages") for t in times)
    if not at:
        r.fail("messages", "needs at least one arrival time, e.g. ['0s', '12s']")
    r.done()
    return ScriptedCustomer(name, tax_id, tuple(sorted(at)))


DISTRIBUTION_KINDS = ("fixed", "uniform", "exponential", "lognormal", "empirical", "mixture")
COUNT_KINDS = ("fixed", "uniform", "geometric", "choice")


def parse_distribution(parent: Reader, key: str, default: d.Distribution) -> d.Distribution:
    """A latency: a bare duration (fixed) or a table with `dist` and its parameters."""
    if not parent.has(key):
        parent.raw(key, None)
        return default
    if not isinstance(parent.data[key], dict):
        return d.Fixed(parent.duration(key))
    r = parent.table(key)
    assert r is not None
    kind = r.string("dist", choices=DISTRIBUTION_KINDS)
    if kind == "fixed":
        dist: d.Distribution = d.Fixed(r.duration("value"))
    elif kind == "uniform":
        low, high = r.duration("low"), r.duration("high")
        if high < low:
            r.fail("high", f"must be at least low ({low:g} s), got {high:g} s")
        dist = d.Uniform(low, high)
    elif kind == "exponential":
        dist = d.Exponential(r.duration("mean", positive=True))
    elif kind == "lognormal":
        median, p95 = r.duration("median", positive=True), r.duration("p95", positive=True)
        if not median < p95 <= 1000 * median:
            r.fail("p95", f"must be above the median ({median:g} s) and at most 1000× it, got {p95:g} s")
        dist = d.LogNormal(median, p95)
    elif kind == "empirical":
        dist = _empirical(r)
    else:
        dist = _mixture(r)
    r.done()
    return dist


def _empirical(r: Reader) -> d.Empirical:
    """Seconds observed in production, one per line of a CSV (first column; a header line is skipped)."""
    name = r.string("file")
    path = Path(r.file).parent / name
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        r.fail("file", f"cannot read {str(path)!r}: {error.__class__.__name__}")
    values = []
    for number, line in enumerate(lines, start=1):
        cell = line.split(",")[0].strip()
        seconds = parse_duration(_number_or_text(cell))
        if seconds is None or seconds < 0:
            if number == 1 or not cell:
                continue  # a header, or a blank line
            r.fail("file", f"{name} line {number}: expected seconds, got {cell!r}")
        values.append(seconds)
    if not values:
        r.fail("file", f"{name} holds no observations")
    return d.Empirical(tuple(values), name)


def _number_or_text(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def _mixture(r: Reader) -> d.Mixture:
    """`components = [{ weight = 0.98, dist = "uniform", … }, { weight = 0.02, dist = "fixed", value = "30s" }]`."""
    weights, parts = [], []
    for i, item in enumerate(r.list_of("components")):
        if not isinstance(item, dict) or "weight" not in item:
            r.fail("components", f"entry {i + 1} must be a table with a weight and a dist, got {item!r}")
        part = Reader(
            r.file, f"{r.section}.components#{i + 1}", {"component": {k: v for k, v in item.items() if k != "weight"}}
        )
        weights.append(float(Reader(r.file, part.section, item).number("weight")))
        if item.get("dist") == "mixture":
            part.fail("dist", "a mixture cannot contain a mixture")
        parts.append(parse_distribution(part, "component", d.Fixed(0.0)))
    if not parts or sum(weights) <= 0:
        r.fail("components", "needs at least one component with a weight > 0")
    return d.Mixture(tuple(weights), tuple(parts))


def parse_count(parent: Reader, key: str, default: d.CountDistribution, *, minimum: int) -> d.CountDistribution:
    """A whole-number distribution: a bare integer (fixed) or a table with `dist`."""
    if not parent.has(key):
        parent.raw(key, None)
        return default
    if not isinstance(parent.data[key], dict):
        return d.FixedCount(parent.number(key, minimum=minimum, maximum=MAX_COUNT, integer=True))
    r = parent.table(key)
    assert r is not None
    kind = r.string("dist", choices=COUNT_KINDS)
    if kind == "fixed":
        count: d.CountDistribution = d.FixedCount(r.number("value", minimum=minimum, maximum=MAX_COUNT, integer=True))
    elif kind == "uniform":
        low = r.number("low", minimum=minimum, maximum=MAX_COUNT, integer=True)
        high = r.number("high", minimum=low, maximum=MAX_COUNT, integer=True)
        count = d.UniformCount(low, high)
    elif kind == "geometric":
        count = d.GeometricCount(float(r.number("mean", minimum=max(1, minimum), maximum=MAX_COUNT / 10)))
    else:
        values = tuple(_whole(r, "values", v, minimum) for v in r.list_of("values"))
        weights = tuple(float(_positive(r, "weights", w)) for w in r.list_of("weights", [1.0] * len(values)))
        if not values or len(weights) != len(values):
            r.fail("weights", f"needs one weight per value ({len(values)} values), got {len(weights)}")
        count = d.ChoiceCount(values, weights)
    r.done()
    return count


def _whole(r: Reader, key: str, value: Any, minimum: int) -> int:
    return Reader(r.file, r.section, {key: value}).number(key, minimum=minimum, maximum=MAX_COUNT, integer=True)


def _positive(r: Reader, key: str, value: Any) -> float:
    return Reader(r.file, r.section, {key: value}).number(key, minimum=0.0)


__all__ = ["ScenarioError", "load_scenario", "parse_scenario"]
