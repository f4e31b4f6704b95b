"""`[workload]trace`: recorded message arrivals, read when the scenario is read.

The file is a message log in `sim fit`'s format (`sim.logs.read`: CSV or JSON Lines,
bounded in size, bad rows counted with their place), named relative to the scenario
file. Its messages inside the window are cut into sessions as `sim fit` cuts them
(`sim.logs.sessions`), so a session is a burst and the per-burst metrics apply.
Everything is checked here, before any simulation: a bad trace is one line, exit 2.

The log reader lives in `sim.fit`, which itself reads files through this package's
loader; it is imported when a scenario names a trace, not before.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from sim.core import distributions as d
from sim.core.durations import MAX_DURATION
from sim.core.errors import ArgumentError
from sim.core.text import one_line, shown
from sim.scenario.model import Trace, Workload
from sim.scenario.reader import Reader

GENERATED_KEYS = ("customers_per_hour", "population", "burst_size", "burst_gap", "script", "surge")
MAX_SCALE = 1000.0  # copies of a trace; the run-size limits apply to the result too
DEFAULT_SHIFT = 900.0  # a copy's session moves by up to ± 15 min: the same hour of day, other instants
HOUR = 3600.0


def traced_workload(r: Reader) -> Workload:
    """A workload whose arrivals are the trace's: the generated workload's keys are refused beside it."""
    for key in GENERATED_KEYS:
        if r.has(key):
            r.fail(key, "not with a trace: the trace says who writes when (set scale to change the traffic)")
    trace = parse_trace(r)
    r.done()
    return Workload(0.0, 0, d.FixedCount(1), d.Exponential(5.0), trace=trace)


def parse_trace(parent: Reader) -> Trace:
    """`trace = "messages.csv"`, or a table: `file`, `start`, `end`, `scale`, `shift`, `session_gap`,
    `timezone`, `columns`."""
    value = parent.raw("trace")
    if isinstance(value, str):
        r = Reader(parent.file, f"{parent.section}.trace", {"file": value})
    else:
        table = parent.table("trace")
        assert table is not None  # raw() above: present
        r = table
    name = r.string("file")
    if not name or len(name) > 1000:
        r.fail("file", "expected the trace file's name, relative to the scenario file")
    zone = _zone(r)
    columns = _columns(r)
    gap = r.duration("session_gap", 600.0, positive=True)
    scale = float(r.number("scale", 1.0, maximum=MAX_SCALE))
    if scale <= 0:
        r.fail("scale", f"must be above 0, got {shown(scale)}")
    shift = r.duration("shift", DEFAULT_SHIFT)
    start, end = _instant(r, "start", zone), _instant(r, "end", zone)
    messages, bad_count, first_bad = _read(r, name, columns, zone)
    begin = start if start is not None else _hour_floor(messages[0].at, zone)
    finish = end if end is not None else _hour_floor(messages[-1].at, zone) + HOUR
    if not begin < finish:
        r.fail("end", "must be after start")
    if finish - begin > MAX_DURATION:
        r.fail("end", "the window must be at most 1000 days long")
    inside = [m for m in messages if begin <= m.at < finish]
    if not inside:
        r.fail("file", f"{name}: no message inside the window")
    r.done()
    return _sessions(r, name, inside, begin, finish, gap, scale, shift, bad_count, first_bad)


def _sessions(
    r: Reader, name: str, inside: list[Any], begin: float, finish: float, gap: float, scale: float, shift: float,
    bad_count: int, first_bad: str,
) -> Trace:  # fmt: skip
    from sim.logs.sessions import split_sessions

    sessions = split_sessions(inside, gap)
    at = np.array([m.at - begin for s in sessions for m in s.messages], dtype=float)
    return Trace(
        file=name,
        start=begin,
        window=finish - begin,
        at=at,
        sizes=np.array([len(s.messages) for s in sessions], dtype=np.int64),
        customers=np.array([s.customer for s in sessions], dtype=str),
        tax_ids=np.array([s.tax_id for s in sessions], dtype=str),
        session_gap=gap,
        scale=scale,
        shift=shift,
        bad_rows=bad_count,
        first_bad=first_bad,
    )


def _read(r: Reader, name: str, columns: dict[Any, str], zone: tzinfo) -> tuple[list[Any], int, str]:
    from sim.logs.read import read_logs

    path = r.beside("file", name)
    try:
        logs = read_logs([str(path)], columns, zone)
    except ArgumentError as error:
        r.fail("file", str(error))
    first = str(logs.bad[0]) if logs.bad else ""
    return list(logs.messages), logs.bad_count, first


def _zone(r: Reader) -> tzinfo:
    """`timezone`: whose clock a timestamp without an offset is on, and where hours begin (default UTC)."""
    if not r.has("timezone"):
        r.raw("timezone", None)
        return UTC
    text = r.string("timezone")
    if len(text) > 64 or ".." in text or text.startswith("/"):
        r.fail("timezone", f"expected an IANA name such as UTC or America/Sao_Paulo, got {shown(text[:64])}")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        r.fail("timezone", f"no such timezone: {shown(text)}")


def _columns(r: Reader) -> dict[Any, str]:
    """`columns = { timestamp = "ts", customer = "conv_id" }`: the file's names for the log's fields."""
    from sim.logs.read import MAX_COLUMN_NAME, Field

    names: dict[Any, str] = {f: f.value for f in Field}
    table = r.table("columns")
    if table is None:
        return names
    for key, column in table.data.items():
        if key not in names:
            table.fail(key, f"not a log field (fields: {', '.join(f.value for f in Field)})")
        if not isinstance(column, str) or not column or len(column) > MAX_COLUMN_NAME or not column.isprintable():
            table.fail(key, f"expected a column name of 1 to {MAX_COLUMN_NAME} printable characters")
        names[Field(key)] = column
    if len(set(names.values())) < len(names):
        r.fail("columns", "two fields are read from one column")
    return names


def _instant(r: Reader, key: str, zone: tzinfo) -> float | None:
    """A TOML date-time (`2024-03-04T08:00:00Z`) or an ISO-8601 string; without an offset, in `zone`."""
    if not r.has(key):
        r.raw(key, None)
        return None
    value = r.raw(key)
    if isinstance(value, str) and len(value) <= 64:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, datetime):
        r.fail(key, f"expected a date and time such as 2024-03-04T08:00:00Z, got {one_line(shown(value))[:80]}")
    moment = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    seconds = moment.timestamp()
    if not math.isfinite(seconds):
        r.fail(key, "not a usable instant")
    return seconds


def _hour_floor(t: float, zone: tzinfo) -> float:
    """The start of the hour (on `zone`'s clock) that holds `t`."""
    local = datetime.fromtimestamp(t, zone)
    return local.replace(minute=0, second=0, microsecond=0).timestamp()
