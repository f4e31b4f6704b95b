"""Read a scenario file: TOML → defaults → validation → `Scenario`.

Variants are parsed with the scenario's own settings as their defaults, so a
variant names only what it changes.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from sim.code.loader import HandlerError, parse_spec
from sim.code.loader import load as load_handler
from sim.core import distributions as d
from sim.core.durations import MAX_DURATION, MIN_DURATION, parse_duration
from sim.core.files import FileRefused, read_regular_file
from sim.core.text import one_line, shown
from sim.metrics.catalog import CONVERSATION_METRICS, LOCK_SAFETY_METRICS
from sim.metrics.meaningful import Margin, MarginError, margins_from, parse_margins
from sim.metrics.precision import DEFAULT_MAXIMUM, PrecisionError, Target, parse_targets, targets_from
from sim.metrics.thresholds import Threshold, ThresholdError, parse_threshold
from sim.scenario.limits import (
    DEFAULT_REPLICATIONS,
    DEFAULT_WORKERS,
    MAX_BURSTS,
    MAX_COUNT,
    MAX_ID,
    MAX_LOG_EVERY,
    MAX_MULTIPLIER,
    MAX_POPULATION,
    MAX_RATE,
    MAX_REPLICATIONS,
    MAX_SEED,
    MAX_SETTINGS_DEPTH,
    MAX_SHAPE,
    MAX_WORKERS,
    MIN_SHAPE,
)
from sim.scenario.model import (
    BACKOFF_KINDS,
    FAULT_KINDS,
    MAX_HANDLING,
    MAX_REPLICAS,
    MAX_RETRIES,
    MIN_BACKOFF,
    Backoff,
    CacheSettings,
    CodeSettings,
    Conversations,
    CrmErrors,
    DecorrelatedJitterBackoff,
    Failover,
    Fault,
    FixedBackoff,
    GrowingBackoff,
    HandlerSettings,
    LockSettings,
    RedisDown,
    RedisRestart,
    Replicas,
    Scenario,
    ScenarioError,
    ScriptedCustomer,
    Services,
    Stall,
    Surge,
    TimerSettings,
    Variant,
    WorkerModel,
    Workload,
)
from sim.scenario.reader import MAX_FLOAT, MISSING, Reader
from sim.scenario.schema import (
    BACKOFF,
    COUNT_KINDS,
    DISTRIBUTION_KINDS,
    REPORT_NAME,
    VARIANT,
    VARIANT_NAME,
    VARIANT_SECTIONS,
    Key,
    Latency,
    Section,
    SectionReader,
    reader_for,
)
from sim.scenario.trace import traced_workload
from sim.scenario.tune import parse_tune_section
from sim.scenario.work import check_work, expected_bursts, expected_sessions

DEFAULT_LOCK = LockSettings(ttl=120.0, timeout=30.0, backoff=FixedBackoff(0.1), log_every=10)
DEFAULT_CACHE = CacheSettings(enabled=False, ttl=300.0)
DEFAULT_SERVICES = Services(
    crm=d.Uniform(8.0, 10.0), llm=d.Uniform(15.0, 20.0), installation_points=d.UniformCount(1, 3)
)
DEFAULT_RTT = 0.001
DEFAULT_REPLICATION_LAG = d.Exponential(0.01)  # a replica in the same zone under moderate load: ~10 ms behind
MAX_REPLICATION_LAG = 60.0  # seconds, the mean: Redis's default repl-timeout; a replica further behind is dropped
MAX_SCENARIO_BYTES = 1024 * 1024  # the largest bundled scenario is a few kB
MAX_CSV_BYTES = 10 * 1024 * 1024  # an empirical latency file
MAX_CSV_ROWS = 1_000_000
REPORT_NAME_HELP = "letters, digits, '-', '_' and '.' (not first), at most 100 characters"
VARIANT_NAME_HELP = "letters, digits, space, '.', '_', '+' and '-', a letter or digit first, at most 64 characters"
# The keys each backoff kind reads; decorrelated_jitter reads `factor` too (files that set it still load)
# but has no use for it.
BACKOFF_KEYS = {kind: tuple(BACKOFF.keys_of(kind)) for kind in BACKOFF_KINDS}
# A mixture's component is read as the distribution `component` of a table of its own.
_COMPONENT = Section(name="component", keys=(Key(name="component", type=Latency(), about=""),))


def load_scenario(path: str | Path) -> Scenario:
    """Parse and validate; raises `ScenarioError` with a one-line message."""
    file = str(path)
    try:
        # utf-8-sig: an editor's byte-order mark is not text (TOML would refuse it as a bare key)
        text = read_regular_file(Path(path), MAX_SCENARIO_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(one_line(f"{file}: no such scenario file")) from None
    except FileRefused as error:
        raise ScenarioError(one_line(f"{file}: {error}")) from None
    except OSError as error:
        raise ScenarioError(one_line(f"{file}: cannot read: {error.strerror or error.__class__.__name__}")) from None
    except UnicodeDecodeError as error:
        raise ScenarioError(one_line(f"{file}: cannot read: not UTF-8 text (byte {error.start})")) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(one_line(f"{file}: invalid TOML: {error}")) from None
    except RecursionError:
        raise ScenarioError(one_line(f"{file}: invalid TOML: tables or arrays nested too deep")) from None
    except ValueError:  # tomllib hands an integer of over 4,300 digits to int(), which refuses it
        raise ScenarioError(one_line(f"{file}: invalid TOML: a number too long to read")) from None
    return parse_scenario(data, file)


def parse_scenario(data: dict[str, Any], file: str) -> Scenario:
    top = reader_for(file, data)
    head = _section(top, "scenario")
    name = head.string("name", Path(file).stem)
    if type(head.data.get("seed")) is int and head.data["seed"] > MAX_SEED:  # its own limit, not float range
        head.fail("seed", f"must be below 2**63, got {shown(head.data['seed'])}")
    seed = head.number("seed", 1, integer=True)
    replications = head.number("replications", DEFAULT_REPLICATIONS, minimum=1, maximum=MAX_REPLICATIONS, integer=True)
    precision = _precision(head)
    max_replications = head.number(
        "max_replications", DEFAULT_MAXIMUM, minimum=2, maximum=MAX_REPLICATIONS, integer=True
    )
    workload_section = _section(top, "workload")
    workload = parse_workload(workload_section)
    if workload.trace is not None and head.has("duration"):
        head.fail("duration", "the trace's window sets it: use [workload.trace]start and end")
    duration = head.duration("duration", _default_duration(workload))
    _check_run_size(workload_section, workload, duration)
    base = parse_variant("default", top, None)
    variants = tuple(
        parse_variant(
            _variant_name(top, vname),
            SectionReader(file, f"variants.{vname}", _table(top, "variants", vname), VARIANT),
            base,
        )
        for vname in _table(top, "variants", None)
    ) or (base,)
    names = tuple(v.name for v in variants)
    _check_names_differ_beyond_case(top, names)
    baseline = head.string("baseline", names[0], choices=names)
    fault_tables = top.tables("faults")
    faults = tuple(parse_fault(f) for f in fault_tables)
    _check_failovers(fault_tables, faults, variants)
    talk = workload.conversations is not None
    safety = Scenario.studies_lock_safety(faults, variants)
    thresholds = tuple(
        _threshold(head, expression, names, baseline, talk, safety) for expression in head.list_of("thresholds", [])
    )
    _check_precision(head, precision, talk, safety)
    meaningful = _meaningful(head)
    tune = parse_tune_section(top)
    if tune is not None and tune.variant is not None and tune.variant not in names:
        Reader(file, "tune", {}).fail("variant", f"no variant {tune.variant[:64]!r} (variants: {', '.join(names)})")
    _check_report_name(head, name, Path(file))
    head.done()
    top.done()
    scenario = Scenario(
        name=name,
        path=file,
        seed=seed,
        duration=duration,
        replications=replications,
        baseline=baseline,
        workload=workload,
        variants=variants,
        thresholds=thresholds,
        faults=faults,
        tune=tune,
        precision=precision,
        max_replications=max_replications,
        meaningful=meaningful,
    )
    check_work(scenario)
    return dataclasses.replace(scenario, warnings=scenario_warnings(scenario))


def scenario_warnings(scenario: Scenario) -> tuple[str, ...]:
    """Settings that are valid but almost surely not what was meant, one line each.

    A setting shared by several variants is reported once, naming them all.
    """
    by_text: dict[str, list[str]] = {}
    for variant in scenario.variants:
        for text in _variant_warnings(variant):
            by_text.setdefault(text, []).append(variant.name)
    found = [f"{_variants_label(names)}: {text}" for text, names in by_text.items()]
    workload = scenario.workload
    if scenario.duration == 0 and workload.customers_per_hour > 0:
        found.append("[scenario]duration is 0 s: customers_per_hour > 0 adds no customers (only the script runs)")
    found += [
        f"[workload.script]customer {c.name!r} is also the id of a random customer: their messages share one lock"
        for c in workload.scripted
        if _random_id_could_be(workload, c.name)
    ]
    fenced = [v.name for v in scenario.variants if v.lock.fencing]
    if fenced and any(isinstance(f, RedisRestart) for f in scenario.faults):
        found.append(
            f"{_variants_label(fenced)}: [lock]fencing with a redis_restart fault: the restart loses the fence "
            "counter and its epoch, so tokens start over and the store refuses each conversation's writes until "
            "the counter passes where it was (keep the counter where a restart cannot lose it)"
        )
    if workload.trace is not None and workload.trace.bad_rows:
        t = workload.trace
        found.append(f"[workload]trace: {t.bad_rows:,} bad rows of {t.file} not used (first: {t.first_bad})")
    return tuple(found)


def _variant_warnings(variant: Variant) -> list[str]:
    lock, services = variant.lock, variant.services
    found = []
    step = lock.backoff.first_delay()
    if not lock.fair and lock.timeout < step:
        found.append(
            f"[lock]timeout {lock.timeout:g} s is shorter than one backoff step ({step:g} s): "
            "a waiter tries at most twice and the backoff never applies"
        )
    handling = services.crm.mean() + services.llm.mean()
    if not lock.watchdog and lock.ttl < handling:
        found.append(
            f"[lock]ttl {lock.ttl:g} s is shorter than a typical handling time ({handling:g} s, CRM + LLM means): "
            "the lock expires while its holder still works"
        )
    return found


def _variants_label(names: list[str]) -> str:
    return f"variant {names[0]!r}" if len(names) == 1 else f"variants {', '.join(repr(n) for n in names)}"


def _random_id_could_be(workload: Workload, name: str) -> bool:
    """Random customers are `c0`, `c1`, … (`c0`…`c{population-1}` from a population) and surge customers `s0`, …."""
    match = re.fullmatch(r"([cs])(0|[1-9]\d*)", name)
    if match is None:
        return False
    prefix, number = match.group(1), int(match.group(2))
    if prefix == "s":
        return bool(workload.surges)
    if workload.customers_per_hour <= 0:
        return False
    return workload.population == 0 or number < workload.population


def _check_run_size(section: Reader, workload: Workload, duration: float) -> None:
    base, surges = expected_bursts(workload, duration)
    if base > MAX_BURSTS:
        section.fail(
            "customers_per_hour",
            f"over {duration:g} s the rates give ~{base:,.0f} bursts; the limit is {MAX_BURSTS:,} per run",
        )
    if base + surges > MAX_BURSTS:
        section.fail(
            "surge",
            f"the surges add ~{surges:,.0f} bursts to ~{base:,.0f}; the limit is {MAX_BURSTS:,} per run",
        )
    sessions = expected_sessions(workload, duration)
    if base + surges + sessions > MAX_BURSTS:
        section.fail(
            "conversations",
            f"over {duration:g} s ~{sessions:,.0f} conversations and ~{base + surges:,.0f} bursts; "
            f"the limit is {MAX_BURSTS:,} per run",
        )


def _variant_name(top: Reader, name: str) -> str:
    """`[variants.NAME]`: NAME must be plain text wherever a report shows it."""
    if VARIANT_NAME.fullmatch(name):
        return name
    shown = repr(name) if len(name) <= 100 else f"a name of {len(name):,} characters"
    Reader(top.file, "variants", {}).fail(name[:100], f"{shown} cannot be a variant name: use {VARIANT_NAME_HELP}")


def _check_names_differ_beyond_case(top: Reader, names: tuple[str, ...]) -> None:
    """Each variant writes files named after it (`records/NAME-1.csv.gz`): on a disk that ignores case
    (macOS, Windows) two names differing only in case would write the same files."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            Reader(top.file, "variants", {}).fail(name, f"differs from variant {other!r} only in case: rename one")


def _check_report_name(head: Reader, name: str, file: Path) -> None:
    """Reports go to OUT/<name>/, so the name must be a plain file name, never a path."""
    if REPORT_NAME.fullmatch(name):
        return
    if not head.has("name"):
        head.fail("name", f"the file name {file.name!r} cannot be used as a report folder name; set [scenario]name")
    shown = repr(name) if len(name) <= 100 else f"a name of {len(name):,} characters"
    head.fail("name", f"{shown} cannot be a report folder name: use {REPORT_NAME_HELP}")


def parse_fault(r: Reader) -> Fault:
    kind = FAULT_KINDS[r.string("kind", choices=tuple(FAULT_KINDS))]
    start = r.duration("start")
    fault: Fault
    if kind is RedisRestart:
        fault = RedisRestart(start)
    elif kind is CrmErrors:
        fault = CrmErrors(start, r.duration("duration", positive=True), rate=float(r.number("rate", maximum=1.0)))
    elif kind is Stall:
        fault = Stall(start, r.duration("duration", positive=True), extra=r.duration("extra", positive=True))
    elif kind is Failover:
        fault = Failover(start, r.duration("detection", positive=True))
    else:
        fault = RedisDown(start, r.duration("duration", positive=True))
    r.done()
    return fault


def _check_failovers(tables: list[Reader], faults: tuple[Fault, ...], variants: tuple[Variant, ...]) -> None:
    """Each failover promotes a replica, so every variant needs one per failover; the primary is dead from a
    failover's start to its promotion, so no other Redis fault may fall inside that window."""
    failovers = [f for f in faults if isinstance(f, Failover)]
    for number, f in enumerate(failovers, start=1):
        reader = tables[faults.index(f)]
        short = next((v for v in variants if v.replica_count < number), None)
        if short is not None:
            reader.fail(
                "kind",
                f"failover number {number} needs {number} replica(s) to promote, but variant {short.name!r} has "
                f"[redis]replicas = {short.replica_count}",
            )
        for other_reader, other in zip(tables, faults, strict=True):
            if other is not f and _overlaps_failover(other, f):
                other_reader.fail(
                    "start",
                    f"this {other.kind} overlaps the failover from {f.start:g} s to {f.start + f.detection:g} s "
                    "(the primary is dead then): move one of them",
                )


def _overlaps_failover(other: Fault, f: Failover) -> bool:
    end = f.start + f.detection
    if isinstance(other, RedisRestart):
        return f.start <= other.start < end
    if isinstance(other, (RedisDown, Failover)):
        return other.start < end and f.start < other.start + other.duration
    return False  # CRM errors and stalls are not Redis's


def _threshold(
    head: Reader, expression: Any, variants: tuple[str, ...], baseline: str, talk: bool, safety: bool
) -> Threshold:
    if not isinstance(expression, str):
        head.fail("thresholds", f"expected strings like 'busy_rate<1%', got {expression!r}")
    try:
        return parse_threshold(expression, variants, baseline, conversations=talk, lock_safety=safety)
    except ThresholdError as error:
        head.fail("thresholds", str(error))


def _check_precision(head: Reader, targets: tuple[Target, ...], talk: bool, safety: bool) -> None:
    """A conversation metric's target needs conversations, a lock safety metric's a scenario that measures it:
    without them no run would have it."""
    for target in targets:
        if not talk and target.metric in CONVERSATION_METRICS:
            head.fail("precision", f"{target.metric} needs customers who wait for answers ([workload.conversations])")
        if not safety and target.metric in LOCK_SAFETY_METRICS:
            head.fail("precision", f"{target.metric} is measured only with a failover, [redis]replicas or fencing")


def _precision(head: Reader) -> tuple[Target, ...]:
    """`precision = "busy_rate=0.2%,latency_answered_p95_s=1s"`, or the same as a table of metric = target."""
    value = head.raw("precision", None)
    try:
        if value is None:
            return ()
        if isinstance(value, str):
            return parse_targets(value)
        if isinstance(value, dict):
            return targets_from([(str(m), _target_value(head, t)) for m, t in value.items()])
    except PrecisionError as error:
        head.fail("precision", str(error))
    head.fail("precision", f"expected a table such as {{ busy_rate = 0.002 }} or a string, got {shown(value)}")


def _target_value(head: Reader, value: Any) -> str | float:
    if isinstance(value, str):
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or not -MAX_FLOAT <= value <= MAX_FLOAT:
        head.fail("precision", f"a target is a finite number or a string such as '1s', got {shown(value)}")
    return value


def _meaningful(head: Reader) -> tuple[Margin, ...]:
    """`meaningful = "latency_p95_s=500ms,crm_calls=5% relative"`, or the same as a table of metric = margin."""
    value = head.raw("meaningful", None)
    try:
        if value is None:
            return ()
        if isinstance(value, str):
            return parse_margins(value)
        if isinstance(value, dict):
            return margins_from([(str(m), _margin_value(head, v)) for m, v in value.items()])
    except MarginError as error:
        head.fail("meaningful", str(error))
    head.fail("meaningful", f'expected a table such as {{ latency_p95_s = "500ms" }} or a string, got {shown(value)}')


def _margin_value(head: Reader, value: Any) -> str | float:
    if isinstance(value, str):
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or not -MAX_FLOAT <= value <= MAX_FLOAT:
        head.fail("meaningful", f"a margin is a number or a string such as '500ms', got {shown(value)}")
    return value


def _section(parent: Reader, key: str) -> Reader:
    """The table `key`, or an empty one; declared in sim.scenario.schema when `parent` is (a file's always is;
    `sim sweep`'s grid points and tests may hand in a plain Reader)."""
    if isinstance(parent, SectionReader):
        return parent.subsection(key)
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
    if workload.trace is not None:
        return workload.trace.window
    if workload.customers_per_hour > 0 or workload.conversations is not None:
        return MISSING  # an open workload needs an explicit duration
    return max((max(c.at) for c in workload.scripted if c.at), default=0.0)


def parse_variant(name: str, section: Reader, base: Variant | None) -> Variant:
    """A variant from `section`; absent keys default to `base` (or the built-in defaults)."""
    lock = parse_lock(_section(section, "lock"), base.lock if base else DEFAULT_LOCK)
    cache = parse_cache(_section(section, "cache"), base.cache if base else DEFAULT_CACHE)
    workers_table = _section(section, "workers")
    workers = workers_table.number(
        "count", base.workers if base else DEFAULT_WORKERS, minimum=1, maximum=MAX_WORKERS, integer=True
    )
    model = WorkerModel(workers_table.string("model", base.worker_model if base else "pool", choices=WORKER_MODELS))
    workers_table.done()
    redis_table = _section(section, "redis")
    rtt = _round_trip(redis_table, base.redis_rtt if base else DEFAULT_RTT)
    replicas = _replicas(redis_table, base.replicas if base else None)
    if lock.wait_replicas > (replicas.count if replicas else 0):
        _section(section, "lock").fail(
            "wait_replicas",
            f"must be at most [redis]replicas ({replicas.count if replicas else 0}): WAIT could never be answered",
        )
    redis_table.done()
    services = parse_services(_section(section, "services"), base.services if base else DEFAULT_SERVICES)
    handler = parse_handler(_section(section, "handler"), base.handler if base else HandlerSettings())
    timers_table = _section(section, "timers")
    timers = TimerSettings(timers_table.duration("jitter", base.timers.jitter if base else 0.0))
    timers_table.done()
    code = parse_code(section, base.code if base else None)
    if code is not None and replicas is not None:
        _section(section, "redis").fail(
            "replicas", "a [code] handler runs against one Redis primary (replicas and failovers: the built-in bot's)"
        )
    if code is not None and cache.hit_cost is not None:
        _section(section, "cache").fail(
            "hit_cost", "is the built-in bot's: a [code] handler's cache hits cost their round trips"
        )
    if base is not None:
        section.done()
    return Variant(
        name,
        lock,
        cache,
        workers,
        rtt,
        services,
        handler,
        worker_model=model,
        timers=timers,
        code=code,
        replicas=replicas,
    )


def parse_code(section: Reader, base: CodeSettings | None) -> CodeSettings | None:
    """`[code]` (or a variant's `[variants.NAME.code]`): `handler`, `settings` (merged over the base's),
    `max_handling`. The handler is imported now: one that cannot be is exit 2 before any simulation."""
    r = section.table("code")
    if r is None:
        return base
    if base is None and not r.has("handler"):
        r.fail("handler", "is required: FILE.py:FUNCTION (beside the scenario) or package.module:FUNCTION")
    text = r.string("handler", base.handler.text if base else MISSING)
    try:
        spec = parse_spec(text, Path(r.file).parent) if base is None or text != base.handler.text else base.handler
        if base is None or spec != base.handler:
            load_handler(spec)  # it imports and has the right shape: exit 2 now, not mid-run
    except HandlerError as error:
        r.fail("handler", str(error))
    settings_value = r.raw("settings", {})
    if not isinstance(settings_value, dict):
        r.fail("settings", f"expected a table of the handler's settings, got {shown(settings_value)}")
    _check_depth(r, settings_value, MAX_SETTINGS_DEPTH)
    settings = merged(base.settings, settings_value) if base else settings_value
    limit = r.duration("max_handling", base.max_handling if base else MAX_HANDLING, positive=True)
    r.done()
    return CodeSettings(handler=spec, settings=settings, max_handling=limit)


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, table by table (a variant names only the settings it changes)."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def _check_depth(r: Reader, value: Any, left: int) -> None:
    if isinstance(value, dict | list):
        if left == 0:
            r.fail("settings", f"nested more than {MAX_SETTINGS_DEPTH} levels deep")
        for item in value.values() if isinstance(value, dict) else value:
            _check_depth(r, item, left - 1)


WORKER_MODELS = tuple(m.value for m in WorkerModel)


def _round_trip(r: Reader, default: float | d.Distribution) -> float | d.Distribution:
    """`[redis]rtt`: a duration (every round trip the same), or a distribution table drawn per command."""
    if isinstance(r.data.get("rtt"), dict):
        return parse_distribution(r, "rtt", d.Fixed(0.0))
    if r.has("rtt"):
        return r.duration("rtt")
    r.raw("rtt", None)
    return default


def _replicas(r: Reader, base: Replicas | None) -> Replicas | None:
    """`[redis]replicas` (0: a lone primary) and `replication_lag`, a distribution of seconds."""
    count = r.number("replicas", base.count if base else 0, maximum=MAX_REPLICAS, integer=True)
    lag = parse_distribution(r, "replication_lag", base.lag if base else DEFAULT_REPLICATION_LAG)
    if lag.mean() > MAX_REPLICATION_LAG:
        r.fail(
            "replication_lag",
            f"its mean must be at most {MAX_REPLICATION_LAG:g} s (Redis drops a replica silent for its "
            f"repl-timeout, 60 s by default), got {lag.mean():.3g} s",
        )
    return Replicas(count=count, lag=lag) if count > 0 else None


def parse_handler(r: Reader, base: HandlerSettings) -> HandlerSettings:
    skip = r.boolean("outage_notice_skips_llm", base.outage_notice_skips_llm)
    debounce = r.duration("debounce", base.debounce)
    r.done()
    return HandlerSettings(skip, debounce)


def parse_lock(r: Reader, base: LockSettings) -> LockSettings:
    ttl = r.duration("ttl", base.ttl, positive=True, whole_ms=True)
    timeout = r.duration("timeout", base.timeout)
    backoff_table = r.table("backoff")
    backoff = parse_backoff(backoff_table) if backoff_table else base.backoff
    log_every = r.number("log_every", base.log_every, minimum=1, maximum=MAX_LOG_EVERY, integer=True)
    fair = r.boolean("fair", base.fair)
    watchdog = r.boolean("watchdog", base.watchdog)
    fencing = r.boolean("fencing", base.fencing)
    wait_replicas = r.number("wait_replicas", base.wait_replicas, maximum=MAX_REPLICAS, integer=True)
    wait_timeout = r.duration("wait_timeout", base.wait_timeout, positive=True, whole_ms=True)
    if fair and (fencing or wait_replicas):
        r.fail("fencing" if fencing else "wait_replicas", "works with the polling lock only: set fair = false")
    r.done()
    return LockSettings(ttl, timeout, backoff, log_every, fair, watchdog, fencing, wait_replicas, wait_timeout)


def parse_backoff(r: Reader) -> Backoff:
    kind = BACKOFF_KINDS[r.string("kind", choices=tuple(BACKOFF_KINDS))]
    backoff: Backoff
    if kind is FixedBackoff:
        backoff = FixedBackoff(r.duration("delay", minimum=MIN_BACKOFF))
    else:
        base = r.duration("base", minimum=MIN_BACKOFF)
        factor = float(r.number("factor", 2.0, minimum=1.0, maximum=1000.0))
        cap = r.duration("cap", minimum=MIN_BACKOFF)
        if cap < base:
            r.fail("cap", f"must be at least base ({base:g} s), got {cap:g} s")
        if issubclass(kind, GrowingBackoff):
            backoff = kind(base, factor, cap)
        else:
            backoff = DecorrelatedJitterBackoff(base, cap)
    r.done()
    return backoff


def parse_cache(r: Reader, base: CacheSettings) -> CacheSettings:
    enabled = r.boolean("enabled", base.enabled)
    ttl = r.duration("ttl", base.ttl, positive=True, whole_ms=True)
    single_flight = r.boolean("single_flight", base.single_flight)
    beta = float(r.number("xfetch_beta", base.xfetch_beta, maximum=100.0))
    hit_cost = parse_distribution(r, "hit_cost", d.Fixed(0.0)) if r.has("hit_cost") else base.hit_cost
    r.raw("hit_cost", None)
    r.done()
    return CacheSettings(enabled, ttl, single_flight, beta, hit_cost)


def parse_services(r: Reader, base: Services) -> Services:
    crm = parse_distribution(r, "crm", base.crm)
    llm = parse_distribution(r, "llm", base.llm)
    points = parse_count(r, "installation_points", base.installation_points, minimum=0)
    crm_timeout = r.optional_duration("crm_timeout", base.crm_timeout)
    llm_timeout = r.optional_duration("llm_timeout", base.llm_timeout)
    r.done()
    return Services(crm, llm, points, crm_timeout, llm_timeout)


def parse_workload(r: Reader) -> Workload:
    if r.has("trace"):
        return traced_workload(r)
    rate, hourly = _rates(r)
    population = r.number("population", 0, maximum=MAX_POPULATION, integer=True)
    burst_size = parse_count(r, "burst_size", d.FixedCount(1), minimum=1)
    burst_gap = parse_distribution(r, "burst_gap", d.Exponential(5.0))
    scripted = tuple(_scripted_customer(s) for s in r.tables("script"))
    surges = tuple(_surge(s) for s in r.tables("surge"))
    conversations_section = r.table("conversations")
    conversations = parse_conversations(conversations_section) if conversations_section is not None else None
    r.done()
    if rate == 0 and not scripted and (conversations is None or conversations.sessions_per_hour == 0):
        if conversations is not None and conversations_section is not None:  # the section opens no conversation
            conversations_section.fail(
                "sessions_per_hour",
                "the workload is empty: no conversation opens and customers_per_hour is 0; set either above 0 "
                "or add [[workload.script]]",
            )
        r.fail(
            "customers_per_hour",
            "the workload is empty: set customers_per_hour > 0, add [[workload.script]] or [workload.conversations]",
        )
    return Workload(float(rate), population, burst_size, burst_gap, scripted, hourly, surges, conversations)


def parse_conversations(r: Reader) -> Conversations:
    """`[workload.conversations]`: customers who wait for answers (see `Conversations`)."""
    rate, hourly = _rates(r, "sessions_per_hour", MISSING)  # no default: every conversation section sets it
    conversations = Conversations(
        sessions_per_hour=rate,
        hourly_rates=hourly,
        messages=parse_count(r, "messages", d.FixedCount(1), minimum=1),
        think=parse_distribution(r, "think", d.Exponential(30.0)),
        impatience=parse_distribution(r, "impatience", d.Exponential(60.0)),
        max_nudges=r.number("max_nudges", 1, maximum=MAX_RETRIES, integer=True),
        give_up=float(r.number("give_up", 0.0, maximum=1.0)),
        resend=float(r.number("resend", 0.0, maximum=1.0)),
        resend_delay=parse_distribution(r, "resend_delay", d.Exponential(10.0)),
        max_resends=r.number("max_resends", 3, maximum=MAX_RETRIES, integer=True),
    )
    r.done()
    return conversations


def _rates(r: Reader, key: str = "customers_per_hour", default: Any = 0.0) -> tuple[float, tuple[float, ...]]:
    """`customers_per_hour` (or `key`): one rate, or 24 rates by hour of day (returned with their mean)."""
    value = r.raw(key, default)
    if not isinstance(value, list):
        return float(r.number(key, default, maximum=MAX_RATE)), ()
    if len(value) != 24:
        r.fail(key, f"a daily curve needs 24 hourly rates, got {len(value)}")
    hourly = tuple(float(_bounded(r, key, v, MAX_RATE)) for v in value)
    return sum(hourly) / 24, hourly


def _surge(r: Reader) -> Surge:
    multiplier = float(r.number("multiplier", minimum=1, maximum=MAX_MULTIPLIER))
    surge = Surge(r.duration("start"), r.duration("duration", positive=True), multiplier)
    r.done()
    return surge


def _scripted_customer(r: Reader) -> ScriptedCustomer:
    name = _printable(r, "customer", r.string("customer"))
    tax_id = _printable(r, "tax_id", r.string("tax_id", name))
    times = r.list_of("messages")
    at = tuple(Reader(r.file, r.section, {"messages": t}).duration("messages") for t in times)
    if not at:
        r.fail("messages", "needs at least one arrival time, e.g. ['0s', '12s']")
    r.done()
    return ScriptedCustomer(name, tax_id, tuple(sorted(at)))


def _printable(r: Reader, key: str, value: str) -> str:
    """An id that reaches log lines, Redis keys, reports and error messages: printable, one line, bounded."""
    if not value or len(value) > MAX_ID or not value.isprintable():
        r.fail(key, f"must be 1 to {MAX_ID} printable characters (no control characters), got {len(value)} characters")
    return value


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
    elif kind in ("gamma", "weibull"):
        shape = float(r.number("shape", minimum=MIN_SHAPE, maximum=MAX_SHAPE))
        dist = (d.Gamma if kind == "gamma" else d.Weibull)(shape, r.duration("scale", positive=True))
    elif kind == "empirical":
        dist = _empirical(r)
    else:
        dist = _mixture(r)
    if not dist.mean() <= MAX_DURATION:  # a Weibull of shape 0.01 means 1e150 s: no run could count its seconds
        r.fail("dist", f"its mean must be at most {MAX_DURATION:g} s, got {dist.mean():.3g} s")
    r.done()
    return dist


def _empirical(r: Reader) -> d.Empirical:
    """Seconds observed in production, one per line of a CSV (first column).

    The file is the user's own, but it may be anything (`/etc/passwd`, a FIFO):
    errors name the file and the line and never repeat what the line says.
    """
    name = r.string("file")
    path = r.beside("file", name)
    try:
        text = read_regular_file(path, MAX_CSV_BYTES).decode("utf-8-sig")  # a spreadsheet's BOM is no data
    except FileRefused as error:
        r.fail("file", f"{name}: {error}")
    except (OSError, UnicodeDecodeError) as error:
        r.fail("file", f"cannot read {str(path)!r}: {error.__class__.__name__}")
    lines = text.splitlines()
    if len(lines) > MAX_CSV_ROWS:
        r.fail("file", f"{name} has {len(lines):,} lines; the limit is {MAX_CSV_ROWS:,}")
    values = []
    for number, line in enumerate(lines, start=1):
        cell = line.split(",")[0].strip()
        if not cell or (number == 1 and _is_header(cell)):
            continue
        problem, seconds = _observation(cell)
        if problem:
            r.fail("file", f"{name} line {number}: {problem}")
        values.append(seconds)
    if not values:
        r.fail("file", f"{name} holds no observations")
    return d.Empirical(tuple(values), name)


def _is_header(cell: str) -> bool:
    """Only a first cell that is no number at all (`seconds`) is a header; `-5` is a bad value."""
    return parse_duration(cell) is None and not _NUMBER.match(cell)


_NUMBER = re.compile(r"^[+-]?(\d|\.\d|(inf|infinity|nan)$)", re.IGNORECASE)  # what a value starts like


def _observation(cell: str) -> tuple[str, float]:
    """(what is wrong with the cell, or "", its seconds) — the message never quotes the cell."""
    try:
        seconds: float | None = float(cell)
    except ValueError:
        seconds = parse_duration(cell)
    if seconds is None:
        return "expected seconds (a number or a duration such as '30s')", 0.0
    if not math.isfinite(seconds):
        return "expected a finite number of seconds", 0.0
    if seconds < 0:
        return "seconds must be zero or more", 0.0
    if seconds > MAX_DURATION:
        return "seconds must be at most 1000 days", 0.0
    if 0 < seconds < MIN_DURATION:
        return "seconds must be 0 or at least 1 µs (1e-06)", 0.0
    return "", seconds


def _mixture(r: Reader) -> d.Mixture:
    """`components = [{ weight = 0.98, dist = "uniform", … }, { weight = 0.02, dist = "fixed", value = "30s" }]`."""
    weights, parts = [], []
    for i, item in enumerate(r.list_of("components")):
        if not isinstance(item, dict) or "weight" not in item:
            r.fail("components", f"entry {i + 1} must be a table with a weight and a dist, got {item!r}")
        component = {"component": {k: v for k, v in item.items() if k != "weight"}}
        part = SectionReader(r.file, f"{r.section}.components#{i + 1}", component, _COMPONENT)
        weights.append(float(Reader(r.file, part.section, item).number("weight")))
        if item.get("dist") == "mixture":
            part.fail("dist", "a mixture cannot contain a mixture")
        parts.append(parse_distribution(part, "component", d.Fixed(0.0)))
    if not parts:
        r.fail("components", "needs at least one component with a weight > 0")
    _check_weight_sum(r, "components", tuple(weights))
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
        raw_weights = r.list_of("weights", [1.0] * len(values))
        if not values or len(raw_weights) != len(values):
            r.fail("weights", f"needs one weight per value ({len(values)} values), got {len(raw_weights)}")
        weights = _weights(r, "weights", raw_weights)
        count = d.ChoiceCount(values, weights)
    r.done()
    return count


def _whole(r: Reader, key: str, value: Any, minimum: int) -> int:
    return Reader(r.file, r.section, {key: value}).number(key, minimum=minimum, maximum=MAX_COUNT, integer=True)


def _bounded(r: Reader, key: str, value: Any, maximum: float) -> float:
    """One element of the list `key`: a finite number from 0 to `maximum`."""
    return Reader(r.file, r.section, {key: value}).number(key, minimum=0.0, maximum=maximum)


def _weights(r: Reader, key: str, values: list[Any]) -> tuple[float, ...]:
    """Relative weights: each finite and >= 0, with a finite sum > 0 (numpy divides by it)."""
    weights = tuple(float(_bounded(r, key, w, math.inf)) for w in values)
    _check_weight_sum(r, key, weights)
    return weights


def _check_weight_sum(r: Reader, key: str, weights: tuple[float, ...]) -> None:
    total = sum(weights)  # not math.fsum: that raises on overflow, this gives inf
    if not (math.isfinite(total) and total > 0):
        r.fail(key, f"the weights must add up to a finite number > 0, got a sum of {total:g}")


__all__ = [
    # Limits and names other modules read here (their home is sim.scenario.schema).
    "MAX_BURSTS",
    "MAX_COUNT",
    "MAX_POPULATION",
    "MAX_RATE",
    "MAX_REPLICATIONS",
    "MAX_SEED",
    "MAX_SHAPE",
    "MAX_WORKERS",
    "MIN_SHAPE",
    "REPORT_NAME",
    "VARIANT_NAME",
    "VARIANT_SECTIONS",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "scenario_warnings",
]
