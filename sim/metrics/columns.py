"""A run's records as columns: numpy arrays instead of one object per message.

A month of simulated traffic is millions of messages; a `MessageRecord` object costs about
a kilobyte, a row of these columns under 150 bytes. `RecordColumns` is still a sequence of
`MessageRecord` (built on the fly), so code that loops over records works unchanged, while
vectorised code (the invariants) reads whole columns with `column(name)`.

How each field is stored:
- times as float64 (exact: a Python float is one), a time that never happened as NaN;
- counts and the message id as integers, widened to int64 if a value ever outgrows its type;
- `customer` and `tax_id` as codes into one table each (`customers()`, `tax_ids()`);
- `outcome`, `source` and `stored` as codes: positions in `OUTCOMES`, `SOURCES` and `STORED` (`None` is code 0);
- the rare debounce fields (`merged_into`, `batch`) in a side table by row (`debounced()`).

Rows are written into fixed-size chunks, so growing never copies what is already stored;
appended rows wait in a short list and are written a few thousand at a time, column by column
(one numpy call per column, not one per value), before anything reads them.

A store told how many rows to expect (`RecordColumns(expected=n)`, a run knows its planned
messages) makes its first chunks views of one array per column, allocated up front (the
operating system commits its pages only as rows are written). Such a column is handed out
whole without a copy, and sorted in place: a month of records is never held twice.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from typing import Any, overload

import numpy as np

from sim.metrics.records import FIELDS, MessageRecord, Outcome, Source, Stored

__all__ = ["OUTCOMES", "SOURCES", "STORED", "CountsBySecond", "RecordColumns"]

OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
SOURCES: tuple[Source | None, ...] = (None, *Source)
_OUTCOME_CODE = {o: i for i, o in enumerate(OUTCOMES)}
_SOURCE_CODE = {s: i for i, s in enumerate(SOURCES)}
STORED: tuple[Stored | None, ...] = (None, *Stored)
_STORED_CODE = {s: i for i, s in enumerate(STORED)}

_TIMES = ("arrival", "queue_wait", "lock_wait", "crm_s", "llm_s", "reply_at", "done_at", "started_at")
_MAYBE_TIMES = ("acquired_at", "lock_asked_at", "lock_refreshed_at", "released_at", "cache_checked_at")
_FLAGS = ("lock_lost", "llm_called", "in_outage", "scripted")
_DEBOUNCE = ("merged_into", "batch")
# Integer columns and their starting types: counts a message keeps small start small.
_INTEGERS: dict[str, type[np.integer[Any]]] = {
    "message": np.int64,
    "index": np.int16,
    "customer": np.int32,  # a code into customers()
    "tax_id": np.int32,  # a code into tax_ids()
    "outcome": np.int8,  # a code into OUTCOMES
    "source": np.int8,  # a code into SOURCES
    "stored": np.int8,  # a code into STORED
    "lock_attempts": np.int32,
    "redis_commands": np.int32,
    "cache_errors": np.int16,
    "lock_errors": np.int16,
    "crm_calls": np.int16,
    "llm_calls": np.int16,
    "error": np.int8,  # a code into errors(); 0 is no error (widened if a run raises over 127 kinds)
}
_CODED = ("customer", "tax_id", "outcome", "source", "error", "stored")
# Stored as they are in the record: read with one attrgetter call.
_PLAIN = (*(name for name in _INTEGERS if name not in _CODED), *_TIMES, *_FLAGS)
_plain_values = operator.attrgetter(*_PLAIN)
# Every stored column, in the order a row's values are kept.
COLUMNS: tuple[str, ...] = (*_PLAIN, *_CODED, *_MAYBE_TIMES, "burst")
NO_BURST = -1  # the burst column's None (a record built by hand)
_DTYPES: dict[str, np.dtype[Any]] = {
    **{name: np.dtype(t) for name, t in _INTEGERS.items()},
    **{name: np.dtype(np.float64) for name in (*_TIMES, *_MAYBE_TIMES)},
    **{name: np.dtype(np.bool_) for name in _FLAGS},
    "burst": np.dtype(np.int32),  # bursts per run stay far below 2**31 (the scenario limits bound them)
}
assert set(COLUMNS) | set(_DEBOUNCE) == set(FIELDS), "every MessageRecord field is stored once"

CHUNK = 1 << 14  # rows per chunk: large enough to be cheap, small enough to waste little at the end
PENDING = 1 << 12  # rows appended before they are written into the chunks

Debounce = tuple[int | None, tuple[int, ...]]  # (merged_into, batch) of one row


class RecordColumns(Sequence[MessageRecord]):
    """An append-only sequence of `MessageRecord` stored column by column (see the module docstring)."""

    __slots__ = (
        "_chunks", "_whole", "_n", "_pending", "_customers", "_customer_code", "_tax_ids", "_tax_code", "_debounced",
        "_errors", "_error_code",
    )  # fmt: skip

    def __init__(self, expected: int = 0) -> None:
        """`expected`: the rows a caller expects to append (a hint: more may come, at the cost of a copy
        when read whole); 0 allocates as rows arrive."""
        # A column's "whole" array (see `_whole_of`), if it has one, is divided into its first chunks.
        self._whole: dict[str, np.ndarray[Any, Any]] = {}
        self._chunks: dict[str, list[np.ndarray[Any, Any]]] = {name: [] for name in COLUMNS}
        if expected > 0:
            for name in COLUMNS:
                self._set_whole(name, np.empty(_in_chunks(expected), dtype=_DTYPES[name]))
        self._n = 0  # rows written into the chunks
        self._pending: list[tuple[Any, ...]] = []  # rows appended after those, in `COLUMNS` order
        self._customers: list[str] = []
        self._customer_code: dict[str, int] = {}
        self._tax_ids: list[str] = []
        self._tax_code: dict[str, int] = {}
        self._debounced: dict[int, Debounce] = {}  # row → its debounce fields, where not the defaults
        self._errors: list[str] = [""]  # code 0: no error
        self._error_code: dict[str, int] = {"": 0}

    @classmethod
    def from_records(cls, records: Iterable[MessageRecord]) -> RecordColumns:
        columns = cls()
        for r in records:
            columns.append(r)
        return columns

    # -- writing ---------------------------------------------------------------------------

    def append(self, r: MessageRecord) -> None:
        if r.merged_into is not None or r.batch:
            self._debounced[len(self)] = (r.merged_into, tuple(r.batch))
        self._pending.append(self._row_values(r))
        if len(self._pending) == PENDING:
            self._flush()

    def _row_values(self, r: MessageRecord) -> tuple[Any, ...]:
        """The values of `r` in `COLUMNS` order."""
        nan = np.nan
        return (
            *_plain_values(r),
            _intern(r.customer, self._customers, self._customer_code),
            _intern(r.tax_id, self._tax_ids, self._tax_code),
            _OUTCOME_CODE[r.outcome],  # a plain string finds its StrEnum's code too
            _SOURCE_CODE[r.source],
            _intern(r.error, self._errors, self._error_code),
            _STORED_CODE[r.stored],
            nan if r.acquired_at is None else r.acquired_at,
            nan if r.lock_asked_at is None else r.lock_asked_at,
            nan if r.lock_refreshed_at is None else r.lock_refreshed_at,
            nan if r.released_at is None else r.released_at,
            nan if r.cache_checked_at is None else r.cache_checked_at,
            NO_BURST if r.burst is None else r.burst,
        )

    def _flush(self) -> None:
        """Write the pending rows into the chunks: every reader calls this first."""
        if self._pending:
            rows, self._pending = self._pending, []
            for name, values in zip(COLUMNS, zip(*rows, strict=True), strict=True):
                self._store(name, self._n, values)
            self._n += len(rows)

    def _store(self, name: str, start: int, values: Sequence[Any]) -> None:
        """`values` into column `name` from row `start` on, adding chunks as needed."""
        chunks = self._chunks[name]
        try:
            array = np.array(values, dtype=chunks[0].dtype if chunks else _DTYPES[name])
        except OverflowError:  # a count outgrew its small type: widen the column rather than wrap
            self._whole.pop(name, None)  # its chunks are copies now, no longer views of it
            chunks[:] = [c.astype(np.int64) for c in chunks]
            array = np.array(values, dtype=np.int64)
        end = start + len(array)
        while len(chunks) * CHUNK < end:
            chunks.append(np.empty(CHUNK, dtype=array.dtype))
        row = start
        while row < end:
            chunk, at = divmod(row, CHUNK)
            size = min(CHUNK - at, end - row)
            chunks[chunk][at : at + size] = array[row - start : row - start + size]
            row += size

    def sort_by_message(self) -> None:
        """Reorder the rows by message id, in place (stable: equal ids keep their order)."""
        self._flush()
        if self._n:
            self._reorder(np.argsort(self.column("message"), kind="stable"))

    def _reorder(self, order: np.ndarray[Any, Any]) -> None:
        # Column by column, so that the copy in flight is one column, never the whole store; a column
        # held whole is reordered in its own array, so the store does not grow by a second copy.
        for name in COLUMNS:
            whole = self._whole_of(name)
            if whole is not None:
                whole[:] = whole[order]
            else:
                self._set_column(name, self._full(name), order)
        if self._debounced:
            new_row = np.empty(self._n, dtype=np.int64)
            new_row[order] = np.arange(self._n)
            self._debounced = {int(new_row[row]): fields for row, fields in sorted(self._debounced.items())}

    def replace(self, i: int, r: MessageRecord) -> None:
        """Row `i` becomes `r` (resolving a debounce batch rewrites a merged message's row)."""
        self._flush()
        if not 0 <= i < self._n:
            raise IndexError(i)
        for name, value in zip(COLUMNS, self._row_values(r), strict=True):
            self._store(name, i, (value,))
        self._debounced.pop(i, None)
        if r.merged_into is not None or r.batch:
            self._debounced[i] = (r.merged_into, tuple(r.batch))

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n + len(self._pending)

    @overload
    def __getitem__(self, i: int) -> MessageRecord: ...
    @overload
    def __getitem__(self, i: slice) -> RecordColumns: ...
    def __getitem__(self, i: int | slice) -> MessageRecord | RecordColumns:
        self._flush()
        if isinstance(i, slice):
            return self.take(np.arange(self._n)[i])
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("record index out of range")
        chunk, at = divmod(i, CHUNK)
        return self._record(i, [self._chunks[name][chunk][at].item() for name in COLUMNS])

    def __iter__(self) -> Iterator[MessageRecord]:
        self._flush()
        for chunk in range(-(-self._n // CHUNK)):  # the chunks holding rows: a hint may have made more
            start = chunk * CHUNK
            size = min(CHUNK, self._n - start)
            values = [self._chunks[name][chunk][:size].tolist() for name in COLUMNS]
            for offset, row in enumerate(zip(*values, strict=True)):
                yield self._record(start + offset, row)

    def _record(self, i: int, row: Sequence[Any]) -> MessageRecord:
        (message, index, lock_attempts, redis_commands, cache_errors, lock_errors, crm_calls, llm_calls, arrival,
         queue_wait, lock_wait, crm_s, llm_s, reply_at, done_at, started_at, lock_lost, llm_called, in_outage,
         scripted, customer, tax_id, outcome, source, error, stored, acquired_at, lock_asked_at, lock_refreshed_at,
         released_at, cache_checked_at, burst) = row  # fmt: skip
        merged_into, batch = self._debounced.get(i, (None, ()))
        return MessageRecord(
            message=message,
            customer=self._customers[customer],
            index=index,
            arrival=arrival,
            queue_wait=queue_wait,
            lock_wait=lock_wait,
            lock_attempts=lock_attempts,
            outcome=OUTCOMES[outcome],
            source=SOURCES[source],
            crm_s=crm_s,
            llm_s=llm_s,
            reply_at=reply_at,
            lock_lost=lock_lost,
            done_at=done_at,
            redis_commands=redis_commands,
            cache_errors=cache_errors,
            lock_errors=lock_errors,
            llm_called=llm_called,
            merged_into=merged_into,
            batch=batch,
            acquired_at=_time(acquired_at),
            started_at=started_at,
            lock_asked_at=_time(lock_asked_at),
            lock_refreshed_at=_time(lock_refreshed_at),
            released_at=_time(released_at),
            tax_id=self._tax_ids[tax_id],
            cache_checked_at=_time(cache_checked_at),
            crm_calls=crm_calls,
            llm_calls=llm_calls,
            burst=None if burst == NO_BURST else burst,
            in_outage=in_outage,
            scripted=scripted,
            error=self._errors[error],
            stored=STORED[stored],
        )

    def column(self, name: str) -> np.ndarray[Any, Any]:
        """One stored column (`COLUMNS`), one value per row, read-only; see the module docstring for codes.
        A column held whole is handed out as a view (a month's column is tens of MB), any other as a copy."""
        if name not in self._chunks:
            raise KeyError(f"no column {name!r}; stored: {', '.join(COLUMNS)}")
        self._flush()
        whole = self._whole_of(name)
        if whole is not None:  # a view that cannot be made writeable again: the store's own array
            return np.frombuffer(self._whole[name].data.toreadonly(), dtype=whole.dtype, count=self._n)
        full = self._full(name)
        full.flags.writeable = False
        return full

    def _full(self, name: str) -> np.ndarray[Any, Any]:
        """Column `name`, writeable: the store's own whole array if it has one (change nothing), else a copy."""
        self._flush()
        whole = self._whole_of(name)
        if whole is not None:
            return whole
        chunks = self._chunks[name]
        if not chunks:
            return np.empty(0, dtype=_DTYPES[name])
        return np.concatenate(chunks)[: self._n]

    def _whole_of(self, name: str) -> np.ndarray[Any, Any] | None:
        """Column `name`'s rows as a view of its whole array, when every row lies in it; else None."""
        whole = self._whole.get(name)
        return whole[: self._n] if whole is not None and self._n <= len(whole) else None

    def _set_column(self, name: str, full: np.ndarray[Any, Any], rows: np.ndarray[Any, Any] | None = None) -> None:
        """Column `name` becomes `full` (one value per row), or its `rows` in that order: copied into a
        whole array of its own (taken straight into it: no second copy in flight)."""
        n = len(full) if rows is None else len(rows)
        whole = np.empty(_in_chunks(n), dtype=full.dtype)
        if rows is None:
            whole[:n] = full
        else:
            np.take(full, rows, out=whole[:n], mode="wrap")  # rows are in range: "raise" would buffer a copy
        self._set_whole(name, whole)

    def _set_whole(self, name: str, whole: np.ndarray[Any, Any]) -> None:
        """Column `name`'s chunks become the CHUNK-row pieces of `whole` (a multiple of CHUNK long):
        writes into them land in `whole`, which `_whole_of` hands out without a copy."""
        self._chunks[name] = [whole[start : start + CHUNK] for start in range(0, len(whole), CHUNK)]
        self._whole[name] = whole

    def customers(self) -> tuple[str, ...]:
        """The customer of each code in `column("customer")`."""
        return tuple(self._customers)

    def tax_ids(self) -> tuple[str, ...]:
        """The tax id of each code in `column("tax_id")`."""
        return tuple(self._tax_ids)

    def errors(self) -> tuple[str, ...]:
        """The error (an exception's type, "" for none) of each code in `column("error")`."""
        return tuple(self._errors)

    def debounced(self) -> Mapping[int, Debounce]:
        """Row → (merged_into, batch) for the rows where either is set (few: debounce only)."""
        return dict(self._debounced)

    def take(self, rows: Sequence[int] | np.ndarray[Any, Any]) -> RecordColumns:
        """A new store of the given rows, in that order."""
        self._flush()
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and not (-self._n <= rows.min() and rows.max() < self._n):
            raise IndexError("record index out of range")
        rows = rows % max(self._n, 1)
        taken = RecordColumns()
        taken._n = len(rows)
        for name in COLUMNS:
            taken._set_column(name, self._full(name), rows)
        taken._customers, taken._customer_code = list(self._customers), dict(self._customer_code)
        taken._tax_ids, taken._tax_code = list(self._tax_ids), dict(self._tax_code)
        taken._errors, taken._error_code = list(self._errors), dict(self._error_code)
        taken._debounced = {
            new: self._debounced[old] for new, old in enumerate(rows.tolist()) if old in self._debounced
        }
        return taken

    def nbytes(self) -> int:
        """Bytes held by the column arrays (the string tables and the debounce side table aside)."""
        self._flush()
        return sum(c.nbytes for chunks in self._chunks.values() for c in chunks)

    # -- equality and pickling -------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same records in the same order (a tuple, a list, another store)."""
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable: appended to

    def __repr__(self) -> str:
        return f"RecordColumns({self._n} records)"

    def __getstate__(self) -> dict[str, Any]:
        # The arrays trimmed to the rows held, not one object per record: a few pickled arrays.
        return {
            "columns": {name: self._full(name) for name in COLUMNS},
            "customers": self._customers,
            "tax_ids": self._tax_ids,
            "errors": self._errors,
            "debounced": self._debounced,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        columns = state["columns"]
        self._n = len(columns["message"])
        self._pending = []
        self._chunks, self._whole = {}, {}
        for name in COLUMNS:
            self._set_column(name, columns[name])  # a copy: an array unpickled from a buffer may be read-only
        self._customers = list(state["customers"])
        self._customer_code = {c: i for i, c in enumerate(self._customers)}
        self._tax_ids = list(state["tax_ids"])
        self._tax_code = {t: i for i, t in enumerate(self._tax_ids)}
        self._errors = list(state.get("errors", [""]))
        self._error_code = {e: i for i, e in enumerate(self._errors)}
        self._debounced = dict(state["debounced"])


def _intern(value: str, table: list[str], codes: dict[str, int]) -> int:
    code = codes.get(value)
    if code is None:
        code = codes[value] = len(table)
        table.append(value)
    return code


def _time(value: float) -> float | None:
    return None if value != value else value  # NaN (never equal to itself) stores "never happened"


def _in_chunks(rows: int) -> int:
    """`rows` rounded up to whole chunks."""
    return -(-rows // CHUNK) * CHUNK


class CountsBySecond(Mapping[int, int]):
    """Events counted by whole second (second → count), seconds with no event left out, as a dict
    of them would be: two flat integer arrays instead of one dict entry and int object per second
    (a month of simulated time is 2.6 M seconds). The count only moves forward in time, as a
    simulation clock does: `add` of a second before the last one counted is an error."""

    __slots__ = ("_seconds", "_counts")

    def __init__(self) -> None:
        self._seconds = array("q")
        self._counts = array("q")

    def add(self, second: int) -> None:
        """One more event in `second` (the same second as the last call, or a later one)."""
        seconds = self._seconds
        if not seconds or seconds[-1] != second:
            if seconds and second < seconds[-1]:
                raise ValueError(f"second {second} counted after second {seconds[-1]}")
            seconds.append(second)
            self._counts.append(0)
        self._counts[-1] += 1

    def total(self) -> int:
        return sum(self._counts)

    def __getitem__(self, second: int) -> int:
        i = bisect_left(self._seconds, second)
        if i == len(self._seconds) or self._seconds[i] != second:
            raise KeyError(second)
        return self._counts[i]

    def __iter__(self) -> Iterator[int]:
        return iter(self._seconds)

    def __len__(self) -> int:
        return len(self._seconds)

    def values(self) -> ValuesView[int]:
        return _CountValues(self)

    def items(self) -> ItemsView[int, int]:
        return _CountItems(self)

    def __repr__(self) -> str:
        return f"CountsBySecond({len(self)} seconds, {self.total()} events)"


class _CountValues(ValuesView[int]):
    """The counts in second order, read from the array rather than looked up second by second."""

    _mapping: CountsBySecond

    def __iter__(self) -> Iterator[int]:
        return iter(self._mapping._counts)


class _CountItems(ItemsView[int, int]):
    _mapping: CountsBySecond

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._mapping._seconds, self._mapping._counts, strict=True)
