"""Files read with limits: a path from a scenario or a flag names at most so many bytes of a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class FileRefused(Exception):
    """A path that names no regular file of a sane size; the message says which."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file, else `FileRefused`.

    Opened without blocking and checked on the open descriptor, so a FIFO (which
    would wait for a writer forever), `/dev/zero` (endless) or a directory is
    refused before a byte is read, and a file swapped in after a check cannot slip by.
    """
    if "\0" in str(path):
        raise FileRefused("a file name with a NUL byte")  # os.open would raise ValueError, not OSError
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileRefused("not a regular file")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)  # one byte more than allowed tells an over-size file
    if len(data) > limit:
        raise FileRefused(f"larger than the limit of {limit:,} bytes")
    return data


MARK_BYTES = 4096  # read of an existing file to find the mark sim left in it


def head(path: Path) -> str:
    """The start of a file, as text (a BOM dropped, bad bytes replaced): where sim looks for its own mark.
    "" when it cannot be read (a missing or unreadable file is nobody's mark)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MARK_BYTES).decode("utf-8-sig", errors="replace")
    except OSError:
        return ""


class NotOurs(Exception):
    """An output path that holds something sim did not write (or a link); the message says what."""


def check_replaceable(path: str, mark: str) -> None:
    """An output file sim may write at `path`: a new file, a device or pipe (`/dev/stdout`), or a regular
    file whose first line starts with `mark` (one sim wrote before). A link, or a regular file of someone
    else's (the scenario's own log, a report's results.json), raises `NotOurs`: never overwritten."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError:
        return  # not for this check to say: opening it will, in one line
    if stat.S_ISLNK(found.st_mode):
        raise NotOurs("a link: sim writes its outputs only to files it can see")
    if not stat.S_ISREG(found.st_mode):
        return
    if not head(Path(path)).startswith(mark):
        raise NotOurs(
            f"exists and was not written by sim (it does not begin with {mark.strip()!r}): "
            "remove it or choose another name"
        )
