"""A run's records in columns read back as the very records stored, cost a row of arrays each,
and pickle as arrays."""

from __future__ import annotations

import dataclasses
import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.metrics.columns import CHUNK, COLUMNS, OUTCOMES, SOURCES, CountsBySecond, RecordColumns
from sim.metrics.records import FIELDS, MessageRecord, Outcome, Source
from sim.run.serve import resolve_batches, resolve_batches_in_place
from tests.metrics.test_summary import rec


def many(n: int) -> list[MessageRecord]:
    """`n` records over every chunk boundary, with every kind of value a field can hold."""
    return [
        rec(
            i,
            customer=f"c{i % 7}",
            arrival=i / 3,
            reply_at=i / 3 + 1.5,
            outcome=OUTCOMES[i % len(OUTCOMES)],
            source=SOURCES[i % len(SOURCES)],
            acquired_at=None if i % 3 else i / 3 + 0.1,
            batch=(i + 1, i + 2) if i % 101 == 0 else (),
            merged_into=i - 1 if i % 103 == 0 else None,
            tax_id=f"t{i % 5}" if i % 2 else "",
            lock_lost=i % 4 == 0,
            llm_called=i % 5 == 0,
        )
        for i in range(n)
    ]


RECORDS = many(2 * CHUNK + 123)


def test_records_read_back_equal_and_of_the_same_types_whichever_way_they_are_read():
    columns = RecordColumns.from_records(RECORDS)
    assert len(columns) == len(RECORDS)
    assert list(columns) == RECORDS
    assert columns == RECORDS and columns == tuple(RECORDS) and columns != RECORDS[:-1]
    for i in (0, CHUNK - 1, CHUNK, 2 * CHUNK + 122, -1, -CHUNK):
        assert columns[i] == RECORDS[i]
    assert list(columns[CHUNK - 5 : CHUNK + 5 : 3]) == RECORDS[CHUNK - 5 : CHUNK + 5 : 3]
    first = columns[0]
    assert [type(getattr(first, f)) for f in FIELDS] == [type(getattr(RECORDS[0], f)) for f in FIELDS]
    assert type(columns[1].source) is Source and type(columns[1].outcome) is Outcome and columns[0].source is None
    with pytest.raises(IndexError):
        columns[len(RECORDS)]


def test_columns_hold_values_and_codes_into_their_tables():
    columns = RecordColumns.from_records(RECORDS)
    assert set(COLUMNS) == set(FIELDS) - {"merged_into", "batch"}
    assert columns.column("arrival").tolist() == [r.arrival for r in RECORDS]
    acquired = columns.column("acquired_at")
    assert [None if np.isnan(a) else a for a in acquired] == [r.acquired_at for r in RECORDS]
    assert [columns.customers()[c] for c in columns.column("customer")] == [r.customer for r in RECORDS]
    assert [columns.tax_ids()[c] for c in columns.column("tax_id")] == [r.tax_id for r in RECORDS]
    assert [OUTCOMES[c] for c in columns.column("outcome")] == [r.outcome for r in RECORDS]
    assert [SOURCES[c] for c in columns.column("source")] == [r.source for r in RECORDS]
    assert columns.debounced() == {
        i: (r.merged_into, r.batch) for i, r in enumerate(RECORDS) if r.merged_into is not None or r.batch
    }
    with pytest.raises(KeyError, match="no column 'latency'"):
        columns.column("latency")


def test_a_row_costs_under_150_bytes_and_pickles_as_arrays():
    columns = RecordColumns.from_records(RECORDS[: 2 * CHUNK])  # whole chunks: no room left unused
    per_row = columns.nbytes() / len(columns)
    assert per_row <= 150
    pickled = pickle.dumps(columns)
    assert len(pickled) / len(columns) < per_row + 10  # arrays, the small string tables, the few batches
    again = pickle.loads(pickled)
    assert again == columns
    again.append(RECORDS[-1])  # a store read back grows like any other
    assert again[-1] == RECORDS[-1] and len(again) == 2 * CHUNK + 1


def test_counts_beyond_their_small_type_are_widened_not_wrapped():
    big = rec(1, redis_commands=2**40, cache_errors=40_000, crm_calls=-70_000)
    columns = RecordColumns.from_records([rec(0), big, rec(2)])
    assert list(columns) == [rec(0), big, rec(2)]
    assert columns.column("cache_errors").dtype == np.int64


def test_sorting_by_message_is_stable_and_keeps_each_rows_debounce_fields():
    shuffled = RECORDS[CHUNK:] + RECORDS[:CHUNK] + [dataclasses.replace(RECORDS[7], llm_s=99.0)]
    columns = RecordColumns.from_records(shuffled)
    columns.sort_by_message()
    assert list(columns) == sorted(shuffled, key=lambda r: r.message)
    columns.append(RECORDS[0])
    assert columns[-1] == RECORDS[0]


def test_a_row_replaced_reads_back_as_the_new_record():
    columns = RecordColumns.from_records(RECORDS[:10])
    changed = dataclasses.replace(RECORDS[0], outcome=Outcome.FAILED, batch=(), merged_into=3, customer="new")
    columns.replace(0, changed)
    assert columns[0] == changed and list(columns[1:]) == RECORDS[1:10]
    with pytest.raises(IndexError):
        columns.replace(10, changed)


def test_take_and_an_empty_store():
    columns = RecordColumns.from_records(RECORDS)
    assert list(columns.take([5, 0, -1])) == [RECORDS[5], RECORDS[0], RECORDS[-1]]
    empty = RecordColumns()
    assert list(empty) == [] and len(empty.column("done_at")) == 0 and empty == []
    assert pickle.loads(pickle.dumps(empty)) == []


@st.composite
def debounced_runs(draw: st.DrawFn) -> list[MessageRecord]:
    """Messages 0..n-1, some merged, some leading batches of others (sometimes of no merged one)."""
    n = draw(st.integers(min_value=1, max_value=12))
    records = []
    for m in range(n):
        merged = draw(st.booleans())
        batch = () if merged else tuple(draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True)))
        outcome = Outcome.MERGED if merged else draw(st.sampled_from([Outcome.ANSWERED, Outcome.BUSY]))
        records.append(rec(m, outcome=outcome, batch=batch, reply_at=float(m), done_at=m + 0.5))
    return records


@given(debounced_runs())
def test_batches_resolved_on_the_columns_equal_batches_resolved_on_the_records(records):
    columns = RecordColumns.from_records(records)
    resolve_batches_in_place(columns)
    assert list(columns) == resolve_batches(records)


def test_a_sorted_store_lends_its_columns_read_only_and_a_later_write_is_seen():
    columns = RecordColumns.from_records(RECORDS[CHUNK:] + RECORDS[:CHUNK])
    columns.sort_by_message()
    done = columns.column("done_at")
    assert np.shares_memory(done, columns.column("done_at"))  # no copy of a month's column per read
    with pytest.raises(ValueError, match="read-only"):
        done[0] = 1.0
    last = len(columns) - 1
    columns.replace(last, dataclasses.replace(RECORDS[-1], done_at=-7.0))  # a row in the last chunk
    columns.append(dataclasses.replace(RECORDS[0], message=10**6))
    assert columns.column("done_at")[last] == -7.0 and columns.column("message")[-1] == 10**6
    assert list(pickle.loads(pickle.dumps(columns))) == list(columns)


@given(st.lists(st.integers(0, 10**7), max_size=200).map(sorted))
def test_counts_by_second_equal_a_dict_of_the_same_counts(seconds):
    counted = CountsBySecond()
    for second in seconds:
        counted.add(second)
    expected = Counter(seconds)
    assert counted == expected and dict(counted) == expected and list(counted.items()) == sorted(expected.items())
    assert counted.total() == len(seconds) == sum(counted.values())
    assert all(counted[s] == n for s, n in expected.items()) and (10**7 + 1) not in counted
    assert pickle.loads(pickle.dumps(counted)) == expected


def test_counts_by_second_refuse_a_second_before_the_last():
    counted = CountsBySecond()
    counted.add(5)
    with pytest.raises(ValueError, match="second 4 counted after second 5"):
        counted.add(4)
    assert dict(counted) == {5: 1}


def test_a_store_told_its_rows_sorts_them_in_its_own_arrays():
    # A run knows its planned messages: its columns are allocated once and reordered in place, so
    # sorting a month of records does not hold it twice.
    shuffled = RECORDS[CHUNK:] + RECORDS[:CHUNK]
    columns = RecordColumns(expected=len(shuffled))
    for r in shuffled:
        columns.append(r)
    before = columns.column("done_at")
    columns.sort_by_message()
    after = columns.column("done_at")
    assert np.shares_memory(before, after)  # the same array, rows moved inside it
    assert list(columns) == RECORDS
    columns.replace(3, dataclasses.replace(RECORDS[3], done_at=-1.0))
    assert columns.column("done_at")[3] == -1.0


@pytest.mark.parametrize("expected", [1, CHUNK, len(RECORDS) - 1])
def test_rows_beyond_those_expected_and_counts_widened_still_read_back(expected):
    big = dataclasses.replace(RECORDS[5], redis_commands=2**40)
    rows = [*RECORDS[:5], big, *RECORDS[6:]][::-1]
    columns = RecordColumns(expected=expected)
    for r in rows:
        columns.append(r)
    columns.sort_by_message()
    assert list(columns) == sorted(rows, key=lambda r: r.message)
    assert columns.column("redis_commands")[5] == 2**40


def test_a_store_with_fewer_rows_than_expected_reads_back_only_its_rows():
    # A hint larger than the rows written (planned messages that left no record) adds no rows.
    columns = RecordColumns(expected=3 * CHUNK)
    for r in RECORDS[:10][::-1]:
        columns.append(r)
    assert list(columns) == RECORDS[:10][::-1] and columns == RECORDS[:10][::-1]
    columns.sort_by_message()
    assert list(columns) == RECORDS[:10] and len(columns.column("message")) == 10


def test_a_column_lent_without_a_copy_cannot_be_made_writeable():
    columns = RecordColumns(expected=len(RECORDS))
    for r in RECORDS:
        columns.append(r)
    done = columns.column("done_at")
    assert len(done) == len(RECORDS) and np.shares_memory(done, columns.column("done_at"))
    with pytest.raises(ValueError, match="WRITEABLE"):
        done.flags.writeable = True
