"""The recommendation as a `[variants.tuned]` table to paste into the scenario file.

Every setting a variant may override except the latency distributions is written out, so
the table means the same wherever it is pasted (a variant's absent keys come from the
file's top-level settings, not from the variant the search started from).
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

from sim.core.distributions import Distribution
from sim.core.durations import parse_duration
from sim.core.text import toml_string
from sim.experiment.sweep import backoff_table
from sim.scenario.model import Backoff, Variant

DURATION_KEYS = {"delay", "base", "cap"}
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def variant_table(variant: Variant, name: str, base: str) -> str:
    if variant.code is not None:
        return _code_table(variant, name, base)
    lock, cache, handler = variant.lock, variant.cache, variant.handler
    lines = [
        f"[variants.{name}]",
        f"lock = {{ ttl = {_duration(lock.ttl)}, timeout = {_duration(lock.timeout)}, "
        f"backoff = {_backoff(lock.backoff)}, log_every = {lock.log_every}, "
        f"fair = {_bool(lock.fair)}, watchdog = {_bool(lock.watchdog)} }}",
        f"cache = {{ enabled = {_bool(cache.enabled)}, ttl = {_duration(cache.ttl)}, "
        f"single_flight = {_bool(cache.single_flight)}, xfetch_beta = {cache.xfetch_beta!r} }}",
        f'workers = {{ count = {variant.workers}, model = "{variant.worker_model}" }}',
        _redis(variant.redis_rtt, base),
        f"handler = {{ outage_notice_skips_llm = {_bool(handler.outage_notice_skips_llm)}, "
        f"debounce = {_duration(handler.debounce)} }}",
        f"# [services] as in variant {base!r}: latencies are the world, not a setting",
    ]
    return "\n".join(lines) + "\n"


def _code_table(variant: Variant, name: str, base: str) -> str:
    """A team's handler: its code and every one of its settings (the built-in bot's sections are not read)."""
    assert variant.code is not None
    lines = [
        f"[variants.{name}]",
        f'workers = {{ count = {variant.workers}, model = "{variant.worker_model}" }}',
        _redis(variant.redis_rtt, base),
        f"# [services] as in variant {base!r}: latencies are the world, not a setting",
        "",
        f"[variants.{name}.code]",
        f"handler = {_toml(variant.code.handler.text)}",
        f"max_handling = {_duration(variant.code.max_handling)}",
        f"settings = {_toml(variant.code.settings)}",
    ]
    return "\n".join(lines) + "\n"


def _backoff(backoff: Backoff) -> str:
    table = backoff_table(backoff)
    parts = [f'kind = "{table.pop("kind")}"']
    parts += [f"{k} = {_duration(v) if k in DURATION_KEYS else repr(v)}" for k, v in table.items()]
    return "{ " + ", ".join(parts) + " }"


def _redis(rtt: float | Distribution, base: str) -> str:
    """A duration, or a distribution as an inline table (its parameters in seconds); an empirical
    one has no table (its file is relative to the scenario): a comment says so instead."""
    if isinstance(rtt, float):
        return f"redis = {{ rtt = {_duration(rtt)} }}"
    try:
        return f"redis = {{ rtt = {_toml(rtt.to_table())} }}"
    except ValueError:
        return f"# [redis]rtt as in variant {base!r}: drawn from a file, which a pasted table cannot name"


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, date | time):  # a TOML date or time in a team's settings
        return value.isoformat()
    return toml_string(value) if isinstance(value, str) else repr(value)


def _key(name: str) -> str:
    """A TOML key: bare when it may be, else quoted."""
    return name if BARE_KEY.fullmatch(name) else toml_string(name)


def _duration(seconds: float) -> str:
    """'37.5s' or '250ms' when that reads back as exactly these seconds; else the seconds as a number."""
    texts = [f"{seconds * 1000:g}ms", f"{seconds:g}s", f"{seconds / 60:g}m", f"{seconds / 3600:g}h"]
    for text in texts if seconds < 1 else texts[1:]:
        if "e" not in text and parse_duration(text) == seconds:
            return f'"{text}"'
    return repr(float(seconds))


def _bool(value: bool) -> str:
    return "true" if value else "false"
