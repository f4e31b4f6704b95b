"""A simulated run's per-message records as production logs, in the format `sim fit` reads.

The documented way to make example logs, and how the tests make logs whose world
is known: simulate a scenario, write its records as logs, fit them back.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sim.logs.read import Call, Field, Message, Service
from sim.metrics.records import MessageRecord, Outcome, Source

ORIGIN = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday, midnight UTC: the run's second 0
MESSAGE_FIELDS = (Field.TIMESTAMP, Field.CUSTOMER, Field.TAX_ID, Field.OUTCOME, Field.REPLY_S, Field.CACHE)
CALL_FIELDS = (Field.SERVICE, Field.START, Field.DURATION_S, Field.ERROR)


def as_logs(records: Sequence[MessageRecord], origin: datetime = ORIGIN) -> tuple[list[Message], list[Call]]:
    """Each record as the message event production would log, and its CRM and LLM calls.

    A message's CRM calls are one logged call (the handler records their total time); a cache hit
    calls no CRM. A failed message's call is logged as an error: its LLM call if it made one, else its CRM call.
    """
    zero = origin.timestamp()
    messages, calls = [], []
    for r in records:
        messages.append(
            Message(
                at=zero + r.arrival,
                customer=r.customer,
                tax_id=r.tax_id or r.customer,
                outcome=r.outcome,
                reply_s=r.latency,
                cache=r.source,
            )
        )
        failed = r.outcome == Outcome.FAILED
        if r.crm_calls and r.source != Source.HIT:
            checked = r.cache_checked_at if r.cache_checked_at is not None else r.reply_at
            calls.append(
                Call(
                    service=Service.CRM,
                    start=zero + checked - r.crm_s,
                    duration_s=r.crm_s,
                    error=failed and not r.llm_called,
                )
            )
        if r.llm_called:
            calls.append(Call(service=Service.LLM, start=zero + r.reply_at - r.llm_s, duration_s=r.llm_s, error=failed))
    return messages, calls


def write_logs(
    records: Sequence[MessageRecord], folder: Path, *, origin: datetime = ORIGIN, kind: str = "csv"
) -> tuple[Path, Path]:
    """`messages.<kind>` and `calls.<kind>` (csv or jsonl) in `folder`; returns their paths."""
    messages, calls = as_logs(records, origin)
    message_rows = [
        {
            Field.TIMESTAMP: _iso(m.at),
            Field.CUSTOMER: m.customer,
            Field.TAX_ID: m.tax_id,
            Field.OUTCOME: m.outcome or "",
            Field.REPLY_S: "" if m.reply_s is None else f"{m.reply_s:.6f}",
            Field.CACHE: m.cache or "",
        }
        for m in messages
    ]
    call_rows = [
        {
            Field.SERVICE: c.service,
            Field.START: _iso(c.start),
            Field.DURATION_S: f"{c.duration_s:.6f}",
            Field.ERROR: "true" if c.error else "",
        }
        for c in calls
    ]
    return (
        _write(folder / f"messages.{kind}", MESSAGE_FIELDS, message_rows, kind),
        _write(folder / f"calls.{kind}", CALL_FIELDS, call_rows, kind),
    )


def _json(field: Field, text: str) -> object:
    """JSON Lines carry numbers and booleans as such."""
    if field in (Field.REPLY_S, Field.DURATION_S):
        return float(text)
    return True if field == Field.ERROR else text


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")


def _write(path: Path, fields: tuple[Field, ...], rows: list[dict[Field, str]], kind: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        if kind == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([f.value for f in fields])
            writer.writerows([[row[f] for f in fields] for row in rows])
        else:
            for row in rows:
                out.write(json.dumps({f.value: _json(f, row[f]) for f in fields if row[f] != ""}) + "\n")
    return path
