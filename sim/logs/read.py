"""Read production logs: CSV or JSON Lines of message events and service calls.

The files are the user's own, but they may hold anything: every file is read
with limits (size, rows, line length), every number is bounded, nothing a file
says becomes a path, and a row that cannot be used is counted with its
`file:line` and a reason that never quotes it. Rows are never dropped silently.
"""

from __future__ import annotations

import csv
import json
import math
import operator
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sim.core.durations import MAX_DURATION
from sim.core.errors import ArgumentError
from sim.core.files import FileRefused, read_regular_file
from sim.core.text import one_line
from sim.metrics.records import Outcome, Source

MAX_FILES = 100
MAX_FILE_BYTES = 64 * 1024 * 1024  # per file; a day of a busy chatbot's messages is a few MiB
MAX_ROWS = 2_000_000  # all files together
MAX_LINE = 8192  # characters of one row; a longer line is a bad row
MAX_ID = 100  # characters of a customer or tax id (as in scenario files)
MAX_COLUMN_NAME = 64
MAX_LISTED = 100  # bad rows listed with their place; the rest are counted
PROGRESS_EVERY = 50_000  # rows between two progress reports
# Timestamps from 2000 to 2100: anything else is a typo or a clock that was never set.
EARLIEST, LATEST = 946_684_800.0, 4_102_444_800.0
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")
NO_ERROR = frozenset({"", "false", "0", "no", "ok"})
_T = TypeVar("_T")


class Field(StrEnum):
    """The logical columns; `--columns timestamp=ts,customer=conv_id` renames them."""

    TIMESTAMP = "timestamp"  # a message's arrival (ISO-8601)
    CUSTOMER = "customer"  # conversation or customer id
    TAX_ID = "tax_id"  # optional; default: the customer
    OUTCOME = "outcome"  # optional: answered, busy, failed
    REPLY_S = "reply_s"  # optional: seconds from the message to its reply
    CACHE = "cache"  # optional: hit, miss, fallback, off (the outage check's source)
    SERVICE = "service"  # a service call: crm, llm, redis
    START = "start"  # its start (ISO-8601)
    DURATION_S = "duration_s"  # its seconds
    ERROR = "error"  # optional: empty, false, 0, no, ok: it succeeded; anything else: it failed


class Service(StrEnum):
    CRM = "crm"
    LLM = "llm"
    REDIS = "redis"


LOGGED_OUTCOMES = {o.value: o for o in (Outcome.ANSWERED, Outcome.BUSY, Outcome.FAILED)}
LOGGED_SOURCES = {s.value: s for s in Source}


# Message and Call are named tuples, not frozen dataclasses like sim's other records: a log holds up to
# two million of them, and a tuple is built and hashed (duplicate rows are found by hash) several times
# faster. Build them by keyword all the same.
class Message(NamedTuple):
    at: float  # seconds since the epoch (UTC)
    customer: str
    tax_id: str
    outcome: Outcome | None = None
    reply_s: float | None = None
    cache: Source | None = None


class Call(NamedTuple):
    service: Service
    start: float  # seconds since the epoch (UTC)
    duration_s: float
    error: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRow:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Logs:
    messages: tuple[Message, ...]  # in time order
    calls: tuple[Call, ...]
    zone: tzinfo  # hours of day and weekdays are counted in it
    rows: int  # every row read, bad ones included
    bad_count: int = 0  # duplicates included
    bad: tuple[BadRow, ...] = ()  # the first MAX_LISTED
    files: tuple[str, ...] = ()
    duplicates: int = 0  # message rows equal in every field to an earlier one (bad rows: a log shipper's repeats)
    repeated_calls: int = 0  # call rows equal to an earlier one (kept: calls name no customer, so equal ones happen)


def parse_columns(text: str | None) -> dict[Field, str]:
    """`timestamp=ts,customer=conv_id` → the column name each logical field is read from."""
    names = {f: f.value for f in Field}
    if not text:
        return names
    seen: set[str] = set()
    for item in text.split(","):
        key, sep, column = item.partition("=")
        key, column = key.strip(), column.strip()
        if not sep or key not in names:
            raise ArgumentError(one_line(f"--columns: {item[:80]!r}: expected FIELD=COLUMN, FIELD one of {_fields()}"))
        if not column or len(column) > MAX_COLUMN_NAME or not column.isprintable():
            raise ArgumentError(f"--columns {key}: a column name of 1 to {MAX_COLUMN_NAME} printable characters")
        if column in seen:
            raise ArgumentError(one_line(f"--columns: column {column!r} is given to two fields"))
        seen.add(column)
        names[Field(key)] = column
    return names


def _fields() -> str:
    return ", ".join(f.value for f in Field)


def read_logs(
    paths: list[str],
    columns: dict[Field, str],
    zone: tzinfo | None,
    on_rows: Callable[[int], None] = lambda n: None,
    on_lines: Callable[[int], None] = lambda n: None,
) -> Logs:
    """Every usable row of `paths`; `zone` reads naive timestamps (else they are bad rows) and counts hours.
    Progress: `on_lines(total)` when a file's lines are known (the total so far), `on_rows(n)` as rows are read."""
    if not paths:
        raise ArgumentError("no log files given")
    if len(paths) > MAX_FILES:
        raise ArgumentError(f"{len(paths)} log files; the limit is {MAX_FILES}")
    _refuse_repeated(paths)
    reader = _RowReader(columns, zone, on_rows, on_lines)
    for path in paths:
        reader.read_file(path)
    messages = sorted(reader.messages, key=lambda m: m.at)
    if not messages:
        first = f"; first: {reader.bad[0]}" if reader.bad else ""
        raise ArgumentError(
            one_line(f"no usable message rows in {', '.join(paths)[:200]} ({reader.bad_count:,} bad rows{first})")
        )
    return Logs(
        messages=tuple(messages),
        calls=tuple(sorted(reader.calls, key=lambda c: c.start)),
        zone=zone or UTC,
        rows=reader.rows,
        bad_count=reader.bad_count,
        bad=tuple(reader.bad),
        files=tuple(one_line(p) for p in paths),
        duplicates=reader.duplicates,
        repeated_calls=reader.repeated_calls,
    )


def _refuse_repeated(paths: list[str]) -> None:
    """One file given twice (`messages.csv ./messages.csv`, a link to it) would count every row twice."""
    seen: dict[tuple[int, int], str] = {}
    for path in paths:
        try:
            found = os.stat(path)
        except (OSError, ValueError):
            continue  # reading it says what is wrong with it
        earlier = seen.setdefault((found.st_dev, found.st_ino), path)
        if earlier is not path:
            raise ArgumentError(
                one_line(f"{path[:200]}: the same file as {earlier[:200]}, given twice: its rows would count twice")
            )


class RowProblem(Exception):
    """Why a row cannot be used; never quotes the row."""


_ORDER = tuple(Field)  # a row's texts, field by field, in this order
_T_AT, _CUSTOMER, _TAX, _OUTCOME, _REPLY, _CACHE, _SERVICE, _START, _DURATION, _ERROR = range(len(_ORDER))


@dataclass(slots=True)
class _RowReader:
    columns: dict[Field, str]
    zone: tzinfo | None
    on_rows: Callable[[int], None] = lambda n: None
    on_lines: Callable[[int], None] = lambda n: None
    messages: list[Message] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0
    rows: int = 0
    duplicates: int = 0
    repeated_calls: int = 0
    _told: int = 0  # rows already told to on_rows
    _ids: dict[str, str] = field(default_factory=dict)  # identifiers already checked (each kept once)
    _seen_messages: set[Message] = field(default_factory=set)
    _seen_calls: set[Call] = field(default_factory=set)

    def read_file(self, path: str) -> None:
        kind = EXTENSIONS.get(Path(path).suffix.lower())
        shown = one_line(path)[:200]
        if kind is None:
            raise ArgumentError(f"{shown}: a log file must end in .csv, .jsonl or .ndjson")
        try:
            text = read_regular_file(Path(path), MAX_FILE_BYTES).decode("utf-8-sig")
        except FileNotFoundError:
            raise ArgumentError(f"{shown}: no such log file") from None
        except FileRefused as error:
            raise ArgumentError(f"{shown}: {error}") from None
        except OSError as error:
            raise ArgumentError(f"{shown}: cannot read: {error.strerror or type(error).__name__}") from None
        except UnicodeDecodeError as error:
            raise ArgumentError(f"{shown}: not UTF-8 text (byte {error.start})") from None
        lines = text.splitlines()
        del text
        if self.rows + len(lines) - (kind == "csv") > MAX_ROWS:  # a CSV's header is no row
            raise ArgumentError(f"{shown}: more than {MAX_ROWS:,} rows in all log files")
        self._told = self.rows
        self.on_lines(self.rows + len(lines) - (kind == "csv"))
        if kind == "csv":
            self._csv(shown, lines)
        else:
            self._json(shown, lines)
        self.on_rows(self.rows - self._told)

    def _csv(self, file: str, lines: list[str]) -> None:
        """Row by row: a line without a quote is split at its commas (what the csv module does with it,
        ten times faster); a line with one is read by the csv module."""
        numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
        header_at, header_line = next(numbered, (0, ""))
        if not header_line:
            return
        if len(header_line) > MAX_LINE:
            raise ArgumentError(f"{file}:{header_at}: a header line over {MAX_LINE:,} characters")
        header = [cell.strip() for cell in next(csv.reader([header_line]))]
        self._check_header(file, header)
        width = len(header)
        # Each field's cell, or the empty cell appended after the row's last for a field the file lacks.
        pick = operator.itemgetter(
            *(header.index(self.columns[f]) if self.columns[f] in header else width for f in _ORDER)
        )
        for number, line in numbered:
            if len(line) > MAX_LINE:
                self._bad(file, number, f"a line over {MAX_LINE:,} characters")
                continue
            cells = line.split(",") if '"' not in line else next(csv.reader([line]), [])
            if len(cells) != width:
                self._bad(file, number, f"{len(cells)} cells, the header has {width}")
                continue
            cells.append("")
            texts = pick(cells)
            spaced = " " in line or "\t" in line or not line.isascii()  # what str.strip() could remove
            self._row(file, number, [t.strip() for t in texts] if spaced else texts)

    def _check_header(self, file: str, header: list[str]) -> None:
        c = self.columns
        messages = c[Field.TIMESTAMP] in header and c[Field.CUSTOMER] in header
        calls = all(c[f] in header for f in (Field.SERVICE, Field.START, Field.DURATION_S))
        if not (messages or calls):
            raise ArgumentError(
                f"{file}: the header names neither the message columns ({c[Field.TIMESTAMP]}, {c[Field.CUSTOMER]}) "
                f"nor the call columns ({c[Field.SERVICE]}, {c[Field.START]}, {c[Field.DURATION_S]}); "
                "map yours with --columns"
            )

    def _json(self, file: str, lines: list[str]) -> None:
        names = [self.columns[f] for f in _ORDER]
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE:
                self._bad(file, number, f"a line over {MAX_LINE:,} characters")
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):  # a 5,000-digit integer is a ValueError too
                self._bad(file, number, "not a JSON object")
                continue
            if not isinstance(row, dict):
                self._bad(file, number, "not a JSON object")
                continue
            try:
                texts = [_text(row, name) for name in names]
            except RowProblem as problem:
                self.rows += 1
                self._bad(file, number, str(problem))
                continue
            self._row(file, number, texts)

    def _row(self, file: str, number: int, texts: Sequence[str]) -> None:
        self.rows += 1
        if self.rows - self._told >= PROGRESS_EVERY:
            self.on_rows(self.rows - self._told)
            self._told = self.rows
        try:
            if texts[_SERVICE]:
                call = self._call(texts)
                if call in self._seen_calls:
                    self.repeated_calls += 1  # at a log's resolution two calls may well start and last alike
                else:
                    self._seen_calls.add(call)
                self.calls.append(call)
            else:
                message = self._message(texts)
                if message in self._seen_messages:
                    self._duplicate(file, number)
                else:
                    self._seen_messages.add(message)
                    self.messages.append(message)
        except RowProblem as problem:
            self._bad(file, number, str(problem))

    def _duplicate(self, file: str, line: int) -> None:
        self.duplicates += 1
        self._bad(file, line, "the same message as an earlier row, in every field (a repeated line): not used")

    def _bad(self, file: str, line: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_LISTED:
            self.bad.append(BadRow(file=file, line=line, reason=reason))

    def _message(self, texts: Sequence[str]) -> Message:
        """The hot path: two million rows pass here, so the common case (known ids, lowercase choices) is
        a few dictionary lookups; anything else goes to the checks that say what is wrong."""
        c = self.columns
        ids = self._ids
        customer = ids.get(texts[_CUSTOMER]) or self._identifier(texts[_CUSTOMER], c[Field.CUSTOMER], required=True)
        tax = texts[_TAX]
        tax_id = (ids.get(tax) or self._identifier(tax, c[Field.TAX_ID], required=False)) if tax else customer
        outcome = texts[_OUTCOME]
        cache = texts[_CACHE]
        reply = texts[_REPLY]
        return Message(
            at=self._instant(texts[_T_AT], c[Field.TIMESTAMP]),
            customer=customer,
            tax_id=tax_id,
            outcome=(LOGGED_OUTCOMES.get(outcome) or _choice(outcome, c[Field.OUTCOME], LOGGED_OUTCOMES))
            if outcome
            else None,
            reply_s=(_quick_seconds(reply) or _seconds(reply, c[Field.REPLY_S], required=False)) if reply else None,
            cache=(LOGGED_SOURCES.get(cache) or _choice(cache, c[Field.CACHE], LOGGED_SOURCES)) if cache else None,
        )

    def _call(self, texts: Sequence[str]) -> Call:
        c = self.columns
        service = _choice(texts[_SERVICE], c[Field.SERVICE], SERVICES)
        duration = _seconds(texts[_DURATION], c[Field.DURATION_S], required=True)
        assert service is not None and duration is not None  # both required: a missing one raised
        error = texts[_ERROR].lower() not in NO_ERROR
        return Call(
            service=service, start=self._instant(texts[_START], c[Field.START]), duration_s=duration, error=error
        )

    def _identifier(self, value: str, column: str, *, required: bool) -> str:
        """A customer or tax id: 1 to MAX_ID printable characters; each distinct one checked once and kept once."""
        known = self._ids.get(value)
        if known is not None:
            return known
        if not value:
            if required:
                raise RowProblem(f"no {column}")
            return ""
        if len(value) > MAX_ID or not value.isprintable():
            raise RowProblem(f"{column} must be 1 to {MAX_ID} printable characters")
        self._ids[value] = value
        return value

    def _instant(self, text: str, column: str) -> float:
        if not text:
            raise RowProblem(f"no {column}")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise RowProblem(f"{column} is not an ISO-8601 timestamp") from None
        if moment.tzinfo is None:
            if self.zone is None:
                raise RowProblem(f"{column} has no timezone (give one with --timezone, e.g. --timezone UTC)")
            moment = moment.replace(tzinfo=self.zone)
        seconds = moment.timestamp()
        if not EARLIEST <= seconds < LATEST:
            raise RowProblem(f"{column} is outside the years 2000 to 2099")
        return seconds


def _text(row: dict[str, Any], column: str) -> str:
    """A cell as text: absent, empty and JSON null are ""; a JSON number is its decimal."""
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value.strip()
    raise RowProblem(f"{column} is not text or a number")


SERVICES = {s.value: s for s in Service}


def _choice(text: str, column: str, allowed: dict[str, _T]) -> _T | None:
    if not text:
        return None
    found = allowed.get(text) or allowed.get(text.lower())
    if found is None:
        raise RowProblem(f"{column} must be one of {', '.join(allowed)}")
    return found


def _quick_seconds(value: str) -> float | None:
    """A plain decimal of seconds above 0 and in range (`12.345`), the common case, read without the
    expression; None for anything else (then `_seconds` reads it, or says what is wrong)."""
    if not (value.isascii() and value.replace(".", "", 1).isdigit()):
        return None
    seconds = float(value)
    return seconds if 0 < seconds <= MAX_DURATION else None


def _seconds(value: str, column: str, *, required: bool) -> float | None:
    if not value:
        if required:
            raise RowProblem(f"no {column}")
        return None
    plain = value.isascii() and value.replace(".", "", 1).isdigit()  # 12.345: no need for the expression
    if len(value) > 40 or not (plain or _DECIMAL.fullmatch(value)):
        raise RowProblem(f"{column} is not a decimal number of seconds")
    seconds = float(value)
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION):
        raise RowProblem(f"{column} must be from 0 to 1000 days of seconds")
    return seconds
