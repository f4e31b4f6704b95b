"""`sim trace`: a message log with every customer and tax id replaced by a salted hash, fit to commit.

A pseudonym is the first 16 hex digits of HMAC-SHA256(salt, id), prefixed `u`: the same id
always gets the same pseudonym under one salt (sessions, returning customers and a tax id
equal to its customer survive), and without the salt no one can test a guess. With no salt
file the salt is random and forgotten, so the mapping cannot be recovered by anyone; give a
salt file to keep pseudonyms stable across several exports. Timestamps (in UTC), outcomes,
reply times and cache sources are kept; every other column is dropped. A last, empty column
(`written_by_sim_trace`) marks the file as sim's: a later `sim trace` may replace it without `--force`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sim.core.errors import ArgumentError, ExitCode
from sim.core.files import FileRefused, read_regular_file
from sim.core.text import one_line
from sim.fit.output import TRACE_MARK
from sim.logs.read import Field, Message
from sim.terminal.progress import Progress

COLUMNS = (Field.TIMESTAMP, Field.CUSTOMER, Field.TAX_ID, Field.OUTCOME, Field.REPLY_S, Field.CACHE)
MAX_SALT_BYTES = 4096
MIN_SALT_BYTES = 16  # a shorter salt could be guessed along with the ids


def pseudonym(value: str, salt: bytes) -> str:
    return "u" + hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()[:16]


def anonymised_csv(messages: Sequence[Message], salt: bytes) -> str:
    """The messages as a CSV log `sim fit`, `sim validate` and `[workload]trace` read."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*(f.value for f in COLUMNS), TRACE_MARK])  # the mark: a last column, empty in every row
    for m in messages:
        writer.writerow(
            [
                datetime.fromtimestamp(m.at, UTC).isoformat(timespec="microseconds"),
                pseudonym(m.customer, salt),
                pseudonym(m.tax_id, salt),
                m.outcome or "",
                "" if m.reply_s is None else f"{m.reply_s:.6f}",
                m.cache or "",
                "",
            ]
        )
    return text.getvalue()


def read_salt(path: str | None) -> bytes:
    """The salt file's bytes (surrounding whitespace removed), or a random salt nobody keeps."""
    if path is None:
        return secrets.token_bytes(32)
    shown = one_line(path)[:200]
    try:
        salt = read_regular_file(Path(path), MAX_SALT_BYTES).strip()
    except FileNotFoundError:
        raise ArgumentError(f"--salt-file {shown}: no such file") from None
    except FileRefused as error:
        raise ArgumentError(f"--salt-file {shown}: {error}") from None
    except OSError as error:
        raise ArgumentError(f"--salt-file {shown}: cannot read: {error.strerror or type(error).__name__}") from None
    if len(salt) < MIN_SALT_BYTES:
        raise ArgumentError(f"--salt-file {shown}: at least {MIN_SALT_BYTES} bytes of salt, got {len(salt)}")
    return salt


def run_trace(args: argparse.Namespace) -> int:
    from sim.fit.commands import read_checked
    from sim.fit.output import check_trace_target, replace_file

    out = Path(args.out)
    check_trace_target(out, [*args.logs, *([args.salt_file] if args.salt_file else [])], force=args.force)
    salt = read_salt(args.salt_file)
    with Progress(0, one_line(f"{out.name[:60]} trace"), unit="rows read", enabled=not args.quiet) as progress:
        logs = read_checked(args, progress)
        progress.stage("writing the trace")
        replace_file(out, anonymised_csv(logs.messages, salt))
    kept = "a random salt, not kept" if args.salt_file is None else "the salt file's salt"
    print(f"{len(logs.messages):,} messages, ids hashed with {kept} → {out}")
    return ExitCode.OK
