"""Write a whole report folder atomically: build it aside, then swap it in.

An interrupted or failed run leaves no half-written report: the previous
folder stays until the new one is complete. The folder's name comes from a
scenario file, so it is checked again here (defence in depth): a report is only
ever written to `OUT/<plain name>/`, and nothing that `sim` did not write is
renamed or removed: an existing OUT/<name> is replaced only if it holds nothing
but files sim writes, and either sim's mark (`.sim-report`, written into every
report folder) or — a folder of a sim version older than the mark — a
results.json of that scenario.

Staging folders carry the writer's pid (`.tmp-<name>-<pid>-<random>`,
`.old-<name>-<pid>-<random>`), and a `.tmp-` folder holds an owner file its writer keeps
an exclusive lock on (`.sim-owner`) for as long as it works in it, so a later run can tell a
dead run's leftovers from a live concurrent run's work, however old that work is: the lock
dies with its process, even when the pid is reused. The swap itself runs under an exclusive lock
on `OUT/.<name>.lock`: two runs writing the same report take turns, and each
finds the other's folder either complete or absent.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sim.core.errors import EnvironmentProblem
from sim.metrics.baseline import FORMAT_VERSION, MAX_BYTES, BaselineDiff
from sim.metrics.comparison import Comparison
from sim.report import document, html, json_report, junit, markdown, plots, records_csv, timeseries_csv
from sim.scenario.load import REPORT_NAME

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent writers of one report are then not serialised
    fcntl = None  # type: ignore[assignment]

RESULTS = "results.json"  # every report folder sim writes (compare and sweep) holds one
MARK = ".sim-report"  # sim's mark, written into every report folder: "this folder is sim's to replace"
MARK_TEXT = json.dumps({"written_by": "sim", "format_version": FORMAT_VERSION}) + "\n"
MAX_MARK_BYTES = 4096
# The names sim writes into a report folder (compare, sweep, fit, validate); anything else makes the folder not ours.
REPORT_FILES = frozenset(
    {
        "report.md",
        "report.html",
        RESULTS,
        "records.csv",
        "timeseries.csv",
        "junit.xml",
        MARK,
        "fit.json",
        "validation.json",
        "sensitivity.md",
        "sensitivity.json",
    }
)
PLOT_FILE = re.compile(r"[A-Za-z0-9_]{1,40}\.png")  # latency_cdf.png, sweep_redis_commands.png, …
LEFT_BY_FILE_BROWSERS = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})  # opening a folder writes these
LONGEST_NAME = len("sweep_redis_commands.png")  # the longest name sim writes (a test holds every written name to it)
MAX_ENTRIES = 200  # a report folder holds about fifteen files
STALE_AFTER_S = 3600.0  # a staging folder of a sim that recorded no pid, untouched this long, is a dead run's
OWNER = ".sim-owner"  # in a staging folder: its writer holds an exclusive lock on it while it works there
_STAGED = re.compile(r"(?P<pid>\d+)-[a-z0-9_]{8}")  # what follows ".tmp-<name>-" / ".old-<name>-" (mkdtemp)
_LEGACY = re.compile(r"[a-z0-9_]{8}")  # ".tmp-<name>-<random>" of sim versions that did not record the pid


def write_report(
    c: Comparison,
    out: Path,
    name: str,
    changes: BaselineDiff | None = None,
    extra: Callable[[Path], None] | None = None,
    records: Path | None = None,
) -> Path:
    """Writes report.md, report.html, results.json, records.csv, junit.xml and the plots into OUT/<name>;
    `extra` writes more files into the same folder (sensitivity.md and .json), inside the same swap.

    `records`: the folder the workers wrote their records files into (`records_staging`); it becomes
    OUT/<name>/records/ and records.csv is not written.
    """

    def fill(folder: Path) -> None:
        _write_files(c, folder, changes, records)
        if extra is not None:
            extra(folder)

    return write_atomically(out, name, fill)


@contextlib.contextmanager
def records_staging(out: Path, name: str) -> Iterator[Path]:
    """A folder inside OUT for the workers' records files while the replications run.

    Named like a staging folder (`.tmp-<name>-<pid>-…`), so a killed run's is removed by the next;
    removed on leaving unless `write_report` moved it into the report.
    """
    root = _writable_root(out, name)
    with contextlib.ExitStack() as owned:
        with _environment_errors(out):  # only making the folder: the caller's own errors pass through
            folder = owned.enter_context(_owned_staging(root, name))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def prepare(out: Path, name: str) -> None:
    """Before any simulation: OUT is a writable folder that can hold the report's longest path, its
    lock file can be opened, and OUT/<name> is ours to replace.

    Also puts back a report an interrupted swap left aside and removes dead runs' staging folders.
    """
    root = _writable_root(out, name)
    target = _target(root, name)
    with _environment_errors(out), _locked(root, name):
        _recover(root, name)
        _refuse_foreign(target)


def write_atomically(out: Path, name: str, fill: Callable[[Path], None]) -> Path:
    """`fill` writes into a staging folder; only a complete folder replaces OUT/<name>, which is returned."""
    root = _writable_root(out, name)
    target = _target(root, name)
    with _environment_errors(out):
        with _locked(root, name):  # unlocked, a concurrent swap's instant between renames would look foreign
            _refuse_foreign(target)
        with _owned_staging(root, name) as staging:
            try:
                fill(staging)
                (staging / MARK).write_text(MARK_TEXT, encoding="utf-8")
                with _locked(root, name):
                    _recover(root, name)
                    disown(staging)  # under the name's lock: no other run looks at it before it is swapped in
                    _swap_in(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    return out / name  # as the user gave it: "reports/magna", not the resolved path


@contextlib.contextmanager
def _owned_staging(root: Path, name: str) -> Iterator[Path]:
    """A new staging folder with its owner file locked by this process until the block ends."""
    folder = Path(tempfile.mkdtemp(prefix=_staging_prefix("tmp", name), dir=root))
    handle = None
    try:
        # Locked under another name, then renamed: once OWNER is there, it is locked (no window in which a
        # concurrent run could find it unlocked and take the folder for a dead run's).
        claim = folder / f"{OWNER}.new"
        handle = os.open(claim, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file nobody else has opened
        claim.rename(folder / OWNER)
    except BaseException:
        if handle is not None:
            os.close(handle)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield folder
    finally:
        os.close(handle)


def disown(staging: Path) -> None:
    """The owner file goes before a staging folder becomes a report (or a report's records folder);
    its lock stays held until the block that made the folder ends."""
    (staging / OWNER).unlink(missing_ok=True)


def _staging_prefix(kind: str, name: str) -> str:
    return f".{kind}-{name}-{os.getpid()}-"


def _write_files(c: Comparison, folder: Path, changes: BaselineDiff | None, records: Path | None = None) -> None:
    plots.write_all(c, folder)
    blocks = document.build(c, changes)
    (folder / "report.md").write_text(markdown.render(blocks), encoding="utf-8")
    (folder / "report.html").write_text(html.render(blocks, folder), encoding="utf-8")
    (folder / RESULTS).write_text(json_report.render(c, changes), encoding="utf-8")
    if records is None:
        records_csv.write(c, folder / "records.csv")
    else:
        disown(records)
        records.rename(folder / records_csv.RECORDS_FOLDER)
    junit.write(c, folder / "junit.xml")
    timeseries_csv.write(c, folder / "timeseries.csv")


@contextlib.contextmanager
def _environment_errors(out: Path) -> Iterator[None]:
    """A full disk, a read-only mount, a permission denied, a path too long: one line (exit 2), not a traceback.

    Any failed system call counts (an errno); an OSError without one is a library's complaint, so a bug (exit 4).
    """
    try:
        yield
    except OSError as error:
        if error.errno is None:
            raise
        raise EnvironmentProblem(
            f"--out {_shown(out)}: cannot write the report: {error.strerror}; the previous report is unchanged"
        ) from None


def _writable_root(root: Path, name: str) -> Path:
    """OUT, created if missing, resolved, and proven writable for the report's longest path.

    A probe (root ignores permission bits) creates a staging folder as the write will, with a file of
    the longest name sim writes in it: a path too long fails now, not after minutes of replications.
    """
    _refuse_unsafe_name(root, name)  # the probe's name is made from it
    try:
        if root.exists() and not root.is_dir():
            raise EnvironmentProblem(f"--out {_shown(root)}: is not a folder")
        root.mkdir(parents=True, exist_ok=True)
        resolved = root.resolve()
        probe = Path(tempfile.mkdtemp(prefix=_staging_prefix("tmp", name), dir=resolved))
        try:
            (probe / ("x" * LONGEST_NAME)).touch()
        finally:
            shutil.rmtree(probe, ignore_errors=True)
    except OSError as error:
        longest = len(f"{root.absolute()}/{_staging_prefix('tmp', name)}12345678/") + LONGEST_NAME  # mkdtemp: 8
        why = (
            f" (the report's longest path has about {longest:,} characters)"
            if error.errno == errno.ENAMETOOLONG
            else ""
        )
        raise EnvironmentProblem(f"--out {_shown(root)}: cannot write there: {error.strerror or error}{why}") from None
    return resolved


def _shown(path: Path) -> str:
    """A path in a one-line message: a hostile --out may be thousands of characters long."""
    text = str(path)
    return text if len(text) <= 200 else f"{text[:90]}…{text[-90:]}"


def _target(root: Path, name: str) -> Path:
    """OUT/<name>, refused unless `name` is a plain file name and the result lies directly inside OUT.

    The scenario reader checked the name already; this is the second lock on the door.
    """
    target = root / name
    _refuse_unsafe_name(root, name)
    if target.parent != root:
        raise EnvironmentProblem(f"--out {_shown(root)}: {name[:100]!r} is not a safe report folder name")
    return target


def _refuse_unsafe_name(root: Path, name: str) -> None:
    if not REPORT_NAME.fullmatch(name):
        raise EnvironmentProblem(f"--out {_shown(root)}: {name[:100]!r} is not a safe report folder name")


def _refuse_foreign(target: Path) -> None:
    """An existing OUT/<name> that sim did not write (a file, a symlink, a folder with anything else) stays."""
    found = _not_ours(target)
    if found:
        raise EnvironmentProblem(
            f"--out {_shown(target.parent)}: {target.name} exists and is not a report folder written by sim "
            f"({found}); move it away or choose another --out"
        )


def _not_ours(target: Path) -> str:
    """Why `target` (OUT/<name>) is not a report folder sim may replace; empty if it is (or does not exist)."""
    if target.is_symlink():
        return "a symbolic link"
    if not target.exists():
        return ""
    if not target.is_dir():
        return "a file"
    unexpected = _unexpected_entry(target)
    if unexpected:
        return unexpected
    if _marked(target) or _legacy_report(target):
        return ""
    return f"a folder without sim's {MARK} mark or a {RESULTS} of scenario {target.name!r}"


def _unexpected_entry(folder: Path) -> str:
    """The first entry of `folder` that sim does not write there (a folder, a link, another file), if any."""
    with os.scandir(folder) as entries:
        for count, entry in enumerate(entries):
            if count >= MAX_ENTRIES:
                return f"it holds more than {MAX_ENTRIES} entries"
            if entry.name == records_csv.RECORDS_FOLDER and entry.is_dir(follow_symlinks=False):
                found = _unexpected_records(Path(entry.path))
                if found:
                    return found
                continue
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                return f"it holds {entry.name[:60]!r}, which is not a file sim writes"
            if not (
                entry.name in REPORT_FILES or entry.name in LEFT_BY_FILE_BROWSERS or PLOT_FILE.fullmatch(entry.name)
            ):
                return f"it holds {entry.name[:60]!r}, a file sim does not write"
    return ""


def _unexpected_records(folder: Path) -> str:
    """The first entry of a report's records/ that is not a records file sim writes, if any."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if not (entry.is_file(follow_symlinks=False) and records_csv.RECORDS_FILE.fullmatch(entry.name)):
                return f"its records folder holds {entry.name[:60]!r}, a file sim does not write"
    return ""


def _marked(folder: Path) -> bool:
    """The folder holds sim's mark, as sim writes it."""
    data = _small_json(folder / MARK, MAX_MARK_BYTES)
    return isinstance(data, dict) and data.get("written_by") == "sim" and type(data.get("format_version")) is int


def _legacy_report(folder: Path) -> bool:
    """A folder of a sim version older than the mark: its results.json is sim's results for this folder's name."""
    data = _small_json(folder / RESULTS, MAX_BYTES)
    if not isinstance(data, dict) or type(data.get("format_version")) is not int:
        return False
    scenario = data.get("scenario")
    if data.get("kind") == "sweep":
        return isinstance(scenario, str) and f"{scenario}-sweep" == folder.name
    return scenario == folder.name


def _small_json(path: Path, limit: int) -> object:
    """The JSON a regular file of at most `limit` bytes holds; None for anything else (never blocks, never raises)."""
    try:
        found = os.lstat(path)
        if not stat.S_ISREG(found.st_mode) or found.st_size > limit:
            return None
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with open(handle, "rb") as file:
            return json.loads(file.read(limit + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    """An exclusive lock on OUT/.<name>.lock, held by one writer of OUT/<name> at a time.

    The lock file is never removed: deleting it would let two writers lock two different files.
    A symbolic link or a folder in its place is an environment problem, not followed or replaced.
    """
    path = root / f".{name}.lock"
    try:
        lock = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as error:
        why = {errno.ELOOP: "a symbolic link", errno.EISDIR: "a folder"}.get(error.errno or 0, error.strerror)
        raise EnvironmentProblem(
            f"--out {_shown(root)}: cannot open sim's lock file {path.name} ({why}); remove it"
        ) from None
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
    made = Path(tempfile.mkdtemp(prefix=_staging_prefix(kind, target.name), dir=target.parent))
    made.rmdir()  # only the unique name is wanted: rename needs a free target
    return made


def _recover(root: Path, name: str) -> None:
    """Under the lock: undo what killed runs left. Only `.tmp-<name>-*` / `.old-<name>-*` folders are touched."""
    retired = sorted((folder for folder, _ in _leftovers(root, "old", name)), key=_mtime, reverse=True)
    target = root / name
    if retired and not (target.exists() or target.is_symlink()) and (retired[0] / RESULTS).is_file():
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
    """A staging folder whose writer is gone. Age is not liveness: a compare may stage for hours.

    Its owner file's lock decides; without one (a sim that wrote none, or a writer between creating
    the folder and locking its file) the pid does; without a pid (an older sim still), an hour untouched.
    """
    held = _owner_alive(staging / OWNER)
    if held is not None:
        return not held
    if pid is not None:
        return not _alive(pid)
    return time.time() - _mtime(staging) > STALE_AFTER_S


def _owner_alive(owner: Path) -> bool | None:
    """Whether a process holds the lock on a staging folder's owner file; None: no such file, or no flock."""
    if fcntl is None:
        return None
    try:
        handle = os.open(owner, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True  # held: its writer is alive
    finally:
        os.close(handle)  # closing releases the shared lock taken to test it
    return False


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
