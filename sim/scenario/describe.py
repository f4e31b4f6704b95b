"""A scenario as the results model records it (`sim.metrics.context`): windows to shade, words, plain data.

Reports never read the scenario; what they say about it comes from here: `workload`, a line
each in words (arrivals, services, faults, variants as differences from the baseline), and
`setup`, the whole resolved scenario as JSON-ready plain data (results.json keeps it, so a
report can be audited and re-run on its own).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path, PurePath
from typing import Any

from sim.code.loader import HandlerSpec
from sim.core import distributions as d
from sim.metrics.context import RunContext, Shaded, ShadeKind
from sim.scenario.model import (
    CrmErrors,
    Failover,
    Fault,
    RedisDown,
    RedisRestart,
    Replicas,
    Scenario,
    Services,
    Stall,
    Surge,
    Trace,
    Variant,
    Workload,
)

# A restart is an instant; it is shaded as one second so that it shows on a plot.
INSTANT_S = 1.0
MAX_LISTED = 10  # scripted customers, message times: the first ten, then "and N more"
# Variant settings in seconds (the rest are counts, factors and switches), for the differences in words.
SECONDS_FIELDS = frozenset(
    {"ttl", "timeout", "delay", "base", "cap", "redis_rtt", "debounce", "crm_timeout", "llm_timeout", "jitter"}
    | {"wait_timeout"}
)
COUNT_NAMES = {d.FixedCount: "fixed", d.UniformCount: "uniform", d.GeometricCount: "geometric", d.ChoiceCount: "choice"}


def context(scenario: Scenario) -> RunContext:
    return RunContext(
        duration=scenario.duration,
        shaded=shaded(scenario),
        workload=workload(scenario),
        setup=setup(scenario),
        conversations=scenario.workload.conversations is not None,
        team_handlers=tuple(v.name for v in scenario.variants if v.code is not None),
        lock_safety=scenario.measures_lock_safety(),
    )


def shaded(scenario: Scenario) -> tuple[Shaded, ...]:
    """Fault windows and surges, in start order."""
    windows = [_fault(f) for f in scenario.faults]
    windows += [
        Shaded(kind=ShadeKind.SURGE, label=f"surge ×{s.multiplier:g}", start=s.start, end=s.start + s.duration)
        for s in scenario.workload.surges
    ]
    return tuple(sorted(windows, key=lambda w: (w.start, w.end, w.label)))


def _fault(fault: Fault) -> Shaded:
    label = fault.kind.replace("_", " ")
    if isinstance(fault, RedisRestart):
        return Shaded(kind=ShadeKind.FAULT, label=label, start=fault.start, end=fault.start + INSTANT_S)
    return Shaded(kind=ShadeKind.FAULT, label=label, start=fault.start, end=fault.start + fault.duration)


# --- words -------------------------------------------------------------------------------------


def workload(scenario: Scenario) -> tuple[str, ...]:
    """What was simulated, a line each: run size, arrivals, scripted customers, services, faults, variants."""
    w = scenario.workload
    base = scenario.variant(scenario.baseline)
    lines = [
        f"**Run:** bursts start for {seconds(scenario.duration)}, then the run drains; "
        f"{scenario.replications} replication(s), seed {scenario.seed}.",
        f"**Arrivals:** {_arrivals(w)}",
        *_conversations(w),
        *_scripted(w),
        f"**Services** (as in {base.name}): {_services(base.services)}; Redis round trip {round_trip(base.redis_rtt)}"
        f"{''.join(f'; {n}' for n in noise_words(base))}{_replica_words(base)}.",
        f"**Faults:** {'; '.join(fault_words(f) for f in scenario.faults) or 'none'}.",
        f"**{base.name} (baseline):** {base.describe()}.",
    ]
    lines += [f"**{v.name}:** as {base.name}, except {_differences(base, v)}." for v in scenario.variants if v != base]
    return tuple(lines)


def round_trip(rtt: float | d.Distribution) -> str:
    return seconds(rtt) if isinstance(rtt, float) else f"{words(rtt)}, drawn per command"


def _replica_words(v: Variant) -> str:
    """`; 2 replicas, each applying the primary's writes in order after …` (nothing for a lone primary)."""
    r = v.replicas
    if r is None:
        return ""
    replicas = f"{r.count} replica{'s' if r.count != 1 else ''}"
    return f"; {replicas}, each applying the primary's writes in order after {words(r.lag)}"


def noise_words(v: Variant) -> list[str]:
    """The timing noise a variant adds beyond its round trips, a phrase each; none: exact timers."""
    found = []
    if v.timers.jitter > 0:
        found.append(f"each of the handler's timers ends within ±{seconds(v.timers.jitter)} of its due time")
    if v.cache.hit_cost is not None and v.cache.enabled:
        found.append(f"a cache hit costs {words(v.cache.hit_cost)} more")
    return found


def _arrivals(w: Workload) -> str:
    if w.trace is not None:
        return _trace_words(w.trace)
    if w.hourly_rates:
        rate = (
            f"Poisson bursts at a daily curve of hourly rates (mean {w.customers_per_hour:,.4g}/h, "
            f"peak {max(w.hourly_rates):,.4g}/h at {w.hourly_rates.index(max(w.hourly_rates)):02d}:00, "
            f"lowest {min(w.hourly_rates):,.4g}/h)"
        )
    elif w.customers_per_hour > 0:
        rate = f"Poisson bursts at {w.customers_per_hour:,.4g} per hour"
    else:
        if w.conversations is not None:
            return "no open-loop bursts (conversations only)."
        return "no random customers (scripted messages only)." if w.scripted else "no customers."
    who = (
        f"from a population of {w.population:,} customer{'s' if w.population != 1 else ''}"
        if w.population
        else "each burst a new customer"
    )
    text = f"{rate}, {who}; burst size {count_words(w.burst_size)}, gap between a burst's messages {words(w.burst_gap)}"
    return text + "".join(f"; {surge_words(s)}" for s in w.surges) + "."


def _conversations(w: Workload) -> list[str]:
    c = w.conversations
    if c is None:
        return []
    if c.hourly_rates:
        shape = f" on average (by hour of day, {min(c.hourly_rates):,.4g} to {max(c.hourly_rates):,.4g})"
    elif w.hourly_rates and w.customers_per_hour > 0:
        shape = " (following the hourly rates' shape)"
    else:
        shape = ""
    return [
        f"**Conversations** (customers who wait for answers): Poisson sessions at {c.sessions_per_hour:,.4g} per "
        f"hour{shape}, each a new customer; intents per session {count_words(c.messages)}, think time after a "
        f"reply {words(c.think)}; impatience {words(c.impatience)}: gives up with probability {c.give_up:g}, "
        f"else nudges (at most {c.max_nudges} per intent); after a busy apology re-sends with probability "
        f"{c.resend:g} after {words(c.resend_delay)} (at most {c.max_resends} per intent)."
    ]


def _trace_words(t: Trace) -> str:
    start = datetime.fromtimestamp(t.start, UTC).isoformat(timespec="seconds")
    text = (
        f"replayed from {t.file}: {t.messages:,} messages in {t.sessions:,} sessions (cut after "
        f"{seconds(t.session_gap)} of silence) of {len(set(t.customers.tolist())):,} customers, "
        f"{seconds(t.window)} from {start}"
    )
    if t.scale != 1:
        text += f", scaled ×{t.scale:g} (copies of each session moved by up to ±{seconds(t.shift)})"
    return text + "."


def _scripted(w: Workload) -> list[str]:
    if not w.scripted:
        return []
    shown = [
        f"{c.name} (tax id {c.tax_id}): {len(c.at)} message(s) at {_listed([seconds(t) for t in c.at])}"
        for c in w.scripted[:MAX_LISTED]
    ]
    more = f"; and {len(w.scripted) - MAX_LISTED} more" if len(w.scripted) > MAX_LISTED else ""
    return [f"**Scripted customers:** {'; '.join(shown)}{more}."]


def _listed(items: Sequence[str]) -> str:
    more = f" … ({len(items)} in all)" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _services(s: Services) -> str:
    return (
        f"CRM {words(s.crm)}{_timeout(s.crm_timeout)}; LLM {words(s.llm)}{_timeout(s.llm_timeout)}; "
        f"installation points per customer {count_words(s.installation_points)}"
    )


def _timeout(limit: float | None) -> str:
    return f" (abandoned after {seconds(limit)})" if limit is not None else " (no timeout)"


def surge_words(s: Surge) -> str:
    return f"a surge ×{s.multiplier:g} from {seconds(s.start)} for {seconds(s.duration)}"


def fault_words(f: Fault) -> str:
    match f:
        case RedisRestart():
            return f"Redis restarts (keys lost) at {seconds(f.start)}"
        case RedisDown():
            return f"Redis down from {seconds(f.start)} for {seconds(f.duration)}"
        case CrmErrors():
            return f"{f.rate:.0%} of CRM calls fail from {seconds(f.start)} for {seconds(f.duration)}"
        case Stall():
            return f"LLM calls take {seconds(f.extra)} longer from {seconds(f.start)} for {seconds(f.duration)}"
        case Failover():
            return (
                f"the Redis primary dies at {seconds(f.start)}; after {seconds(f.detection)} the most up-to-date "
                "replica is promoted (writes it had not received are lost)"
            )


def _differences(base: Variant, variant: Variant) -> str:
    return "; ".join(_diff(base, variant, "")) or "nothing (the same settings under another name)"


def _diff(old: Any, new: Any, path: str) -> list[str]:
    """The settings that differ, as `lock.timeout 30 s → 60 s`; a backoff or a distribution is one setting."""
    if old == new:
        return []
    atomic = isinstance(old, (*_DISTRIBUTIONS, *_COUNTS, HandlerSpec)) or hasattr(old, "first_delay")
    if isinstance(old, dict) and isinstance(new, dict):  # a team's settings: key by key
        return [line for k in {**old, **new} for line in _diff(old.get(k), new.get(k), f"{path}{k}.")]
    if dataclasses.is_dataclass(old) and type(old) is type(new) and not atomic:
        return [
            line
            for f in dataclasses.fields(old)
            if f.name != "name"
            for line in _diff(getattr(old, f.name), getattr(new, f.name), f"{path}{f.name}.")
        ]
    key = path.rstrip(".")
    return [f"{key} {_value(key, old)} → {_value(key, new)}"]


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, float) and key.rsplit(".", 1)[-1] in SECONDS_FIELDS:
        return seconds(value)
    if isinstance(value, _DISTRIBUTIONS):
        return words(value)
    if isinstance(value, _COUNTS):
        return count_words(value)
    if isinstance(value, HandlerSpec):
        return value.text
    if isinstance(value, Replicas):
        return f"{value.count} (lag {words(value.lag)})"
    if hasattr(value, "describe"):
        return str(value.describe())
    return f"{value:g}" if isinstance(value, float) else str(value)


_DISTRIBUTIONS = (d.Fixed, d.Uniform, d.Exponential, d.LogNormal, d.Gamma, d.Weibull, d.Empirical, d.Mixture)
_COUNTS = (d.FixedCount, d.UniformCount, d.GeometricCount, d.ChoiceCount)


def words(dist: d.Distribution) -> str:
    """A distribution of seconds in words: "uniform 8 s–10 s", "lognormal, median 2 s, p95 9 s"."""
    match dist:
        case d.Fixed():
            return seconds(dist.value)
        case d.Uniform():
            return f"uniform {seconds(dist.low)}–{seconds(dist.high)}"
        case d.Exponential():
            return f"exponential, mean {seconds(dist.mean_s)}"
        case d.LogNormal():
            return f"lognormal, median {seconds(dist.median)}, p95 {seconds(dist.p95)}"
        case d.Gamma():
            return f"gamma, shape {dist.shape:.4g}, scale {seconds(dist.scale)} (mean {seconds(dist.mean())})"
        case d.Weibull():
            return f"Weibull, shape {dist.shape:.4g}, scale {seconds(dist.scale)} (mean {seconds(dist.mean())})"
        case d.Empirical():
            return f"{len(dist.values):,} observations from {dist.source or 'a file'} (mean {seconds(dist.mean())})"
        case d.Mixture():
            total = sum(dist.weights)
            parts = zip(dist.weights, dist.components, strict=True)
            return "mixture of " + ", ".join(f"{w / total:.0%} {words(c)}" for w, c in parts)


def count_words(count: d.CountDistribution) -> str:
    match count:
        case d.FixedCount():
            return str(count.value)
        case d.UniformCount():
            return f"uniform {count.low}–{count.high}"
        case d.GeometricCount():
            return f"geometric, mean {count.mean_count:g}"
        case d.ChoiceCount():
            total = sum(count.weights)
            parts = zip(count.values, count.weights, strict=True)
            return "one of " + ", ".join(f"{v} ({w / total:.0%})" for v, w in parts)


def seconds(value: float) -> str:
    """A duration as people say it: "250 ms", "12 s", "5 min", "1 h 30 min", "2 d"."""
    if value == 0:
        return "0 s"
    if value < 1:
        return f"{value * 1000:.4g} ms"
    if value < 120:
        return f"{value:.4g} s"
    for unit, size in (("d", 86400), ("h", 3600)):
        if value >= size and (value % size == 0 or unit == "h"):
            whole, rest = divmod(value, size)
            return f"{whole:.0f} {unit}" + (f" {rest / 60:.3g} min" if rest and unit == "h" else "")
    return f"{value / 60:.4g} min"


# --- plain data --------------------------------------------------------------------------------


def setup(scenario: Scenario) -> dict[str, Any]:
    """The whole resolved scenario: every field, distributions as their scenario-file tables.

    The file's folder is left out (it says where the scenario lay, not what it is, and would make
    results.json differ between machines); its name stays.
    """
    data: dict[str, Any] = plain(scenario)
    if scenario.workload.conversations is None:  # a section the file did not have: as results.json was before it
        del data["workload"]["conversations"]
    return {**data, "path": PurePath(scenario.path).name}


def plain(value: Any) -> Any:
    """JSON-ready data: dataclasses as dicts (a kind first where the class has one), tuples as lists."""
    if isinstance(value, (d.Empirical, d.Mixture)):
        return _empirical(value) if isinstance(value, d.Empirical) else _mixture(value)
    if isinstance(value, _DISTRIBUTIONS):
        return value.to_table()
    if isinstance(value, _COUNTS):
        return {
            "dist": COUNT_NAMES[type(value)],
            **{f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, Trace):
        return _trace(value)
    if isinstance(value, HandlerSpec):
        return _handler(value)
    if isinstance(value, date | time):  # a TOML date or time in [code.settings]
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = getattr(type(value), "kind", None)
        fields = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if not _omitted(value, f)}
        return {"kind": kind, **fields} if isinstance(kind, str) else fields
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def _omitted(value: Any, f: dataclasses.Field[Any]) -> bool:
    """A field results.json leaves out: None where marked `omit_if_none`, its default where marked
    `omit_if_default` (a setting added later, so a scenario that does not use it records what it always did)."""
    current = getattr(value, f.name)
    if f.metadata.get("omit_if_none") and current is None:
        return True
    return bool(f.metadata.get("omit_if_default")) and current == f.default


def _empirical(e: d.Empirical) -> dict[str, Any]:
    """Not the observations themselves (up to a million): their count, mean and a digest that tells files apart."""
    digest = hashlib.sha256(",".join(map(repr, e.values)).encode()).hexdigest()
    return {"dist": "empirical", "file": e.source, "observations": len(e.values), "mean": e.mean(), "sha256": digest}


def _handler(spec: HandlerSpec) -> dict[str, Any]:
    """As the scenario names it, and a digest of its file that tells two versions apart (not its folder:
    results.json must not depend on where the checkout lies)."""
    digest = hashlib.sha256(Path(spec.file).read_bytes()).hexdigest() if spec.file is not None else None
    return {"handler": spec.text, "sha256": digest}


def _trace(t: Trace) -> dict[str, Any]:
    """Not the messages: their counts and a digest of times, customers and tax ids that tells traces apart."""
    content = hashlib.sha256(t.at.tobytes())
    for names in (t.sizes.astype("<i8"), t.customers, t.tax_ids):
        content.update("\x00".join(map(str, names.tolist())).encode())
    return {
        "file": t.file,
        "start": datetime.fromtimestamp(t.start, UTC).isoformat(),
        "window": t.window,
        "messages": t.messages,
        "sessions": t.sessions,
        "session_gap": t.session_gap,
        "scale": t.scale,
        "shift": t.shift,
        "bad_rows": t.bad_rows,
        "sha256": content.hexdigest(),
    }


def _mixture(m: d.Mixture) -> dict[str, Any]:
    parts = zip(m.weights, m.components, strict=True)
    return {"dist": "mixture", "components": [{"weight": w, **plain(c)} for w, c in parts]}
