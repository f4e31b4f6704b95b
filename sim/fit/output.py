"""The files `sim fit` and `sim trace` write, and what they may replace.

- No output replaces an input: every file a command may write (`sim fit`'s scenario and the
  `<stem>-<key>.csv` files of its empirical distributions, beside it; `sim trace`'s log) is
  compared with every input (the same file, also through a link) before any work.
- No output replaces a file `sim` did not write, unless `--force` says so: a file counts as sim's
  by its mark — a fitted scenario's first line, an empirical file's header, a trace's last column.
- Every file is written beside its target and renamed over it, so a reader never sees half a
  file; `sim fit`'s files are staged together in a folder beside the scenario and loaded as a
  scenario there first, so a file that `sim` itself cannot load is never left in place.
- A new file gets the permissions the umask gives (0644 with the usual 022, not mkstemp's 0600);
  a replaced file keeps its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sim.core.errors import ArgumentError, EnvironmentProblem
from sim.core.files import FileRefused, head, read_regular_file
from sim.core.text import one_line
from sim.scenario.load import MAX_SCENARIO_BYTES

FIT_MARK = "# Fitted by `sim fit`"  # a fitted scenario's first line starts so
EMPIRICAL_HEADER = "seconds,written by sim fit"  # an empirical file's header (the scenario reads the first column)
TRACE_MARK = "written_by_sim_trace"  # a trace's last column (empty in every row; readers skip unknown columns)
EMPIRICAL_KEYS = ("burst_gap", "crm", "llm", "think", "impatience", "resend_delay")  # what may be resampled
FORCE_HINT = "move it away, choose another --out, or give --force to replace it"


def empirical_path(out: Path, key: str) -> Path:
    """Where `sim fit --out out` writes the observations `key` resamples."""
    return out.with_name(f"{out.stem}-{key}.csv")


def check_fit_targets(out: Path, inputs: Sequence[str], *, force: bool) -> None:
    """Before any work: the scenario and every empirical file `sim fit` may write beside it. An empirical
    file is sim's by its header, or (written by a sim before the header) as one that sim's scenario there names."""
    _check_suffix(out, ".toml", "scenario")
    _checked(out, inputs, force, _fitted_scenario, "a scenario sim fit wrote")
    named = _named_by(out) if _fitted_scenario(out) else set()
    for key in EMPIRICAL_KEYS:
        path = empirical_path(out, key)
        ours = (lambda p: True) if path.name in named else _empirical_file
        _checked(path, inputs, force, ours, "an empirical file sim fit wrote", out)


def check_trace_target(out: Path, inputs: Sequence[str], *, force: bool) -> None:
    _check_suffix(out, ".csv", "trace")
    _checked(out, inputs, force, _trace_file, "a trace sim trace wrote")


def _check_suffix(out: Path, suffix: str, what: str) -> None:
    if out.suffix != suffix:
        raise ArgumentError(one_line(f"--out {str(out)[:200]}: the {what} file must end in {suffix}"))


def _checked(
    path: Path, inputs: Sequence[str], force: bool, ours: Callable[[Path], bool], what: str, out: Path | None = None
) -> None:
    shown = one_line(str(out or path))[:200]
    name = "" if out is None else f"{one_line(path.name)[:120]} (which sim fit writes beside the scenario) "
    try:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise ArgumentError(f"--out {shown}: {name or ''}exists and is not a regular file")
        if not path.parent.is_dir():
            raise ArgumentError(f"--out {shown}: no folder {one_line(str(path.parent))[:200]!r}")
        if any(_same_file(path, Path(p)) for p in inputs):
            raise ArgumentError(f"--out {shown}: {name or ''}is one of the input files (a log, or the salt file)")
        if path.exists() and not force and not ours(path):
            raise ArgumentError(f"--out {shown}: {name or ''}exists and is not {what}; {FORCE_HINT}")
        if out is None:  # the folder takes a new file (a read-only or virtual folder fails now, not after the work)
            handle, probe = tempfile.mkstemp(prefix=".sim-probe-", dir=path.parent)
            os.close(handle)
            os.unlink(probe)
    except (OSError, ValueError) as error:  # a name too long, a NUL byte: the path cannot be a file of ours
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not a usable path"
        raise ArgumentError(f"--out {shown}: {reason}") from None


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.exists() and other.exists() and os.path.samefile(path, other)
    except (OSError, ValueError):
        return False


def _named_by(scenario: Path) -> set[str]:
    """The empirical files a fitted scenario names (`file = "x-crm.csv"`)."""
    try:
        text = read_regular_file(scenario, MAX_SCENARIO_BYTES).decode("utf-8", errors="replace")
    except (OSError, FileRefused):
        return set()
    return set(re.findall(r'file = "([^"/\\]+\.csv)"', text))


def _fitted_scenario(path: Path) -> bool:
    return head(path).startswith(FIT_MARK)


def _empirical_file(path: Path) -> bool:
    return head(path).split("\n", 1)[0].rstrip("\r") == EMPIRICAL_HEADER


def _trace_file(path: Path) -> bool:
    return head(path).split("\n", 1)[0].rstrip("\r").endswith("," + TRACE_MARK)


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A folder beside `out` to write its files into under their final names; removed when done."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{out.stem[:50]}.staged-", dir=out.parent))
    except OSError as error:
        raise EnvironmentProblem(_cannot_write(out, error)) from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """`text` into a new file `path` (in a staging folder), with the permissions a new file gets."""
    try:
        with open(path, "x", encoding="utf-8", newline="") as handle:  # open() applies the umask: 0666 & ~umask
            handle.write(text)
    except OSError as error:
        raise EnvironmentProblem(_cannot_write(path, error)) from None


def move_in(staged_file: Path, target: Path) -> None:
    """Renamed over `target`, keeping the permissions of a file it replaces."""
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(staged_file, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(staged_file, target)
    except OSError as error:
        raise EnvironmentProblem(_cannot_write(target, error)) from None


def replace_file(path: Path, text: str) -> None:
    """Written beside, then renamed over: a reader never sees half a file. A failed system call
    (a full disk, a read-only or virtual file system, a name too long) is one line, exit 2."""
    with staged(path) as folder:
        write_text(folder / path.name, text)
        move_in(folder / path.name, path)


def _cannot_write(path: Path, error: OSError) -> str:
    return one_line(f"--out {str(path)[:200]}: cannot write: {error.strerror or type(error).__name__}")
