"""Write a whole report folder atomically: build it aside, then swap it in.

An interrupted or failed run leaves no half-written report: the previous
folder stays until the new one is complete. The folder's name comes from a
scenario file, so it is checked again here (defence in depth): a report is only
ever written to `OUT/<plain name>/`, and nothing that `sim` did not write is
renamed or removed.

Staging folders carry the writer's pid (`.tmp-<name>-<pid>-<random>`,
`.old-<name>-<pid>-<random>`), so a later run can tell a dead run's leftovers
from a live concurrent run's work. The swap itself runs under an exclusive lock
on `OUT/.<name>.lock`: two runs writing the same report take turns, and each
finds the other's folder either complete or absent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sim.errors import EnvironmentProblem
from sim.metrics.baseline import BaselineDiff
from sim.metrics.comparison import Comparison
from sim.report import document, html, json_report, markdown, plots, records_csv
from sim.scenario.load import REPORT_NAME

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent writers of one report are then not serialised
    fcntl = None  # type: ignore[assignment]

MARKER = "results.json"  # every report folder sim writes (compare and sweep) holds one
STALE_AFTER_S = 3600.0  # a staging folder untouched this long belongs to no live run (pid reused, other host)
# Errors of the machine, not of sim: a full disk, a read-only mount, a folder the user cannot write.
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    getattr(errno, "EDQUOT", errno.ENOSPC),
}
_STAGED = re.compile(r"(?P<pid>\d+)-[a-z0-9_]{8}")  # what follows ".tmp-<name>-" / ".old-<name>-" (mkdtemp)
_LEGACY = re.compile(r"[a-z0-9_]{8}")  # ".tmp-<name>-<random>" of sim versions that did not record the pid


def write_report(c: Comparison, out: Path, name: str, changes: BaselineDiff | None = None) -> Path:
    """Writes report.md, report.html, results.json, records.csv and the plots into OUT/<name>."""
    return write_atomically(out, name, lambda folder: _write_files(c, folder, changes))


def prepare(out: Path, name: str) -> None:
    """Before any simulation: OUT is a writable folder and OUT/<name> is ours to replace.

    Also puts back a report an interrupted swap left aside and removes dead runs' staging folders.
    """
    root = _writable_root(out)
    target = _target(root, name)
    with _environment_errors(out), _locked(root, name):
        _recover(root, name)
        _refuse_foreign(target)


def write_atomically(out: Path, name: str, fill: Callable[[Path], None]) -> Path:
    """`fill` writes into a staging folder; only a complete folder replaces OUT/<name>, which is returned."""
    root = _writable_root(out)
    target = _target(root, name)
    with _environment_errors(out):
        with _locked(root, name):  # unlocked, a concurrent swap's instant between renames would look foreign
            _refuse_foreign(target)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-{os.getpid()}-", dir=root))
        try:
            fill(staging)
            with _locked(root, name):
                _recover(root, name)
                _swap_in(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return out / name  # as the user gave it: "reports/magna", not the resolved path


def _write_files(c: Comparison, folder: Path, changes: BaselineDiff | None) -> None:
    plots.write_all(c, folder)
    blocks = document.build(c, changes)
    (folder / "report.md").write_text(markdown.render(blocks), encoding="utf-8")
    (folder / "report.html").write_text(html.render(blocks, folder), encoding="utf-8")
    (folder / MARKER).write_text(json_report.render(c, changes), encoding="utf-8")
    records_csv.write(c, folder / "records.csv")


@contextlib.contextmanager
def _environment_errors(out: Path) -> Iterator[None]:
    """A full disk, a read-only mount, a permission denied: one line (exit 2), not a traceback."""
    try:
        yield
    except OSError as error:
        if error.errno not in ENVIRONMENT_ERRNOS:
            raise
        raise EnvironmentProblem(
            f"--out {out}: cannot write the report: {error.strerror}; the previous report is unchanged"
        ) from None


def _writable_root(root: Path) -> Path:
    """OUT, created if missing, resolved; a probe file proves it is writable (root ignores permission bits)."""
    try:
        if root.exists() and not root.is_dir():
            raise EnvironmentProblem(f"--out {root}: is not a folder")
        root.mkdir(parents=True, exist_ok=True)
        probe, name = tempfile.mkstemp(prefix=".probe-", dir=root)
        os.close(probe)
        os.unlink(name)
    except OSError as error:
        raise EnvironmentProblem(f"--out {root}: cannot write there: {error.strerror or error}") from None
    return root.resolve()


def _target(root: Path, name: str) -> Path:
    """OUT/<name>, refused unless `name` is a plain file name and the result lies directly inside OUT.

    The scenario reader checked the name already; this is the second lock on the door.
    """
    target = root / name
    if not REPORT_NAME.fullmatch(name) or target.parent != root:
        raise EnvironmentProblem(f"--out {root}: {name[:100]!r} is not a safe report folder name")
    return target


def _refuse_foreign(target: Path) -> None:
    """An existing OUT/<name> that sim did not write (a file, a symlink, a folder without results.json) stays."""
    if target.is_symlink():
        found = "a symbolic link"
    elif not target.exists():
        return
    elif not target.is_dir():
        found = "a file"
    elif not (target / MARKER).is_file():
        found = f"a folder without {MARKER}"
    else:
        return
    raise EnvironmentProblem(
        f"--out {target.parent}: {target.name} exists and is not a report folder written by sim ({found}); "
        "move it away or choose another --out"
    )


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    """An exclusive lock on OUT/.<name>.lock, held by one writer of OUT/<name> at a time.

    The lock file is never removed: deleting it would let two writers lock two different files.
    """
    lock = os.open(root / f".{name}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # closing releases the lock


def _swap_in(staging: Path, target: Path) -> None:
    """Under the lock: staging becomes `target`; an interrupted swap puts the old report back."""
    os.chmod(staging, 0o755)
    if not (target.exists() or target.is_symlink()):
        staging.rename(target)
        return
    _refuse_foreign(target)
    retired = _staging_name(target, "old")
    target.rename(retired)
    try:
        staging.rename(target)
    except BaseException:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _staging_name(target: Path, kind: str) -> Path:
    made = Path(tempfile.mkdtemp(prefix=f".{kind}-{target.name}-{os.getpid()}-", dir=target.parent))
    made.rmdir()  # only the unique name is wanted: rename needs a free target
    return made


def _recover(root: Path, name: str) -> None:
    """Under the lock: undo what killed runs left. Only `.tmp-<name>-*` / `.old-<name>-*` folders are touched."""
    retired = sorted((folder for folder, _ in _leftovers(root, "old", name)), key=_mtime, reverse=True)
    target = root / name
    if retired and not (target.exists() or target.is_symlink()) and (retired[0] / MARKER).is_file():
        retired.pop(0).rename(target)  # the swap was cut between "old away" and "new in": the old report returns
    for folder in retired:  # the lock is ours, so no swap is under way: these are a dead run's
        shutil.rmtree(folder, ignore_errors=True)
    for folder, pid in _leftovers(root, "tmp", name):
        if _abandoned(folder, pid):
            shutil.rmtree(folder, ignore_errors=True)


def _leftovers(root: Path, kind: str, name: str) -> list[tuple[Path, int | None]]:
    """`.<kind>-<name>-<pid>-<random>` folders (pid None: a sim version that did not record it)."""
    prefix = f".{kind}-{name}-"
    found: list[tuple[Path, int | None]] = []
    for entry in root.iterdir():
        rest = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
        staged = _STAGED.fullmatch(rest)
        legacy = kind == "tmp" and _LEGACY.fullmatch(rest)  # an old ".old-" folder cannot be told apart: left
        if (staged or legacy) and entry.is_dir() and not entry.is_symlink():
            found.append((entry, int(staged["pid"]) if staged else None))
    return found


def _abandoned(staging: Path, pid: int | None) -> bool:
    """A staging folder whose writer is dead, or that nobody has written to for an hour."""
    old = time.time() - _mtime(staging) > STALE_AFTER_S
    return old or (pid is not None and not _alive(pid))


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows: rely on the age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's live process
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
