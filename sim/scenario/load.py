"""Read a scenario file: TOML → defaults → validation → `Scenario`.

Variants are parsed with the scenario's own settings as their defaults, so a
variant names only what it changes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim import distributions as d
from sim.metrics.thresholds import Threshold, ThresholdError, parse_threshold
from sim.scenario.model import (
    BACKOFF_KINDS,
    Backoff,
    CacheSettings,
    LockSettings,
    Scenario,
    ScenarioError,
    ScriptedCustomer,
    Services,
    Variant,
    Workload,
)
from sim.scenario.reader import MISSING, Reader

DEFAULT_LOCK = LockSettings(ttl=120.0, timeout=30.0, backoff=Backoff("fixed", delay=0.1), log_every=10)
DEFAULT_CACHE = CacheSettings(enabled=False, ttl=300.0)
DEFAULT_SERVICES = Services(
    crm=d.Uniform(8.0, 10.0), llm=d.Uniform(15.0, 20.0), installation_points=d.UniformCount(1, 3)
)
DEFAULT_WORKERS = 10
DEFAULT_RTT = 0.001
DEFAULT_REPLICATIONS = 10
VARIANT_SECTIONS = ("lock", "cache", "workers", "redis", "services")
MAX_BURSTS = 5_000_000  # per run: past this, memory and patience run out; split the run instead
MAX_COUNT = 1000  # messages in one burst, installation points of one customer
MAX_REPLICATIONS = 10_000
MIN_BACKOFF = 0.001  # a retry sooner than a millisecond is a busy loop, not a policy


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
    duration = head.duration("duration", _default_duration(workload, head))
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
    head.done()
    top.done()
    return Scenario(name, file, seed, duration, replications, baseline, workload, variants, thresholds)


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


def _default_duration(workload: Workload, head: Reader) -> Any:
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
    if base is not None:
        section.done()
    return Variant(name, lock, cache, workers, rtt, services)


def parse_lock(r: Reader, base: LockSettings) -> LockSettings:
    ttl = r.duration("ttl", base.ttl, positive=True)
    timeout = r.duration("timeout", base.timeout)
    backoff_table = r.table("backoff")
    backoff = parse_backoff(backoff_table) if backoff_table else base.backoff
    log_every = r.number("log_every", base.log_every, minimum=1, integer=True)
    r.done()
    return LockSettings(ttl, timeout, backoff, log_every)


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
    r.done()
    return CacheSettings(enabled, ttl)


def parse_services(r: Reader, base: Services) -> Services:
    crm = parse_distribution(r, "crm", base.crm)
    llm = parse_distribution(r, "llm", base.llm)
    points = parse_count(r, "installation_points", base.installation_points, minimum=0)
    r.done()
    return Services(crm, llm, points)


def parse_workload(r: Reader) -> Workload:
    rate = r.number("customers_per_hour", 0.0)
    population = r.number("population", 0, integer=True)
    burst_size = parse_count(r, "burst_size", d.FixedCount(1), minimum=1)
    burst_gap = parse_distribution(r, "burst_gap", d.Exponential(5.0))
    scripted = tuple(_scripted_customer(s) for s in r.tables("script"))
    r.done()
    if rate == 0 and not scripted:
        r.fail("customers_per_hour", "the workload is empty: set customers_per_hour > 0 or add [[workload.script]]")
    return Workload(float(rate), population, burst_size, burst_gap, scripted)


def _scripted_customer(r: Reader) -> ScriptedCustomer:
    name = r.string("customer")
    tax_id = r.string("tax_id", name)
    times = r.list_of("messages")
    at = tuple(Reader(r.file, r.section, {"messages": t}).duration("messages") for t in times)
    if not at:
        r.fail("messages", "needs at least one arrival time, e.g. ['0s', '12s']")
    r.done()
    return ScriptedCustomer(name, tax_id, tuple(sorted(at)))


DISTRIBUTION_KINDS = ("fixed", "uniform", "exponential", "lognormal")
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
    else:
        median, p95 = r.duration("median", positive=True), r.duration("p95", positive=True)
        if not median < p95 <= 1000 * median:
            r.fail("p95", f"must be above the median ({median:g} s) and at most 1000× it, got {p95:g} s")
        dist = d.LogNormal(median, p95)
    r.done()
    return dist


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
