"""Where a study is kept between runs: an Optuna journal file beside the report folder.

`OUT/.<name>-tune.journal` holds every study of the scenario, each under a name made from
everything that decides its trials (the scenario, the base variant, the space, the
objectives, the constraints, the replications per candidate; not the trial count or the
budget, so a second run with more trials continues the first). Journal files need no
database server, and a run killed mid-trial leaves a journal the next run resumes.

One study has one writer: a run holds an exclusive lock on `OUT/.<name>-tune.writer` from before
the journal is opened until it ends, and a second run on the same folder is refused (exit 2)
instead of marking the first run's trial failed. A journal is a file like any other input: it is
read with a size limit, and what a resumed study takes from it (every trial's point, costs and
metrics) is checked before it is used; anything else is "not a journal sim tune can read", exit 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from sim.core.errors import EnvironmentProblem
from sim.core.text import one_line
from sim.scenario.model import Scenario

try:
    import fcntl
except ImportError:  # Windows: no flock; two runs on one folder are then not kept apart
    fcntl = None  # type: ignore[assignment]

MAX_BYTES = 256 * 1024 * 1024  # a study of 10,000 trials writes a few tens of MiB
MAX_MAGNITUDE = 1e15  # a cost or a metric beyond it is no run's (and its square would overflow)


class Unreadable(Exception):
    """What a resumed study found in its journal that no run of sim tune writes (the file is named by the caller)."""


def path(out: Path, name: str) -> Path:
    return out / f".{name}-tune.journal"


@contextlib.contextmanager
def sole_writer(out: Path, name: str) -> Iterator[None]:
    """Held while a study runs: a second `sim tune` of the same study into the same folder is exit 2."""
    lock_file = out / f".{name}-tune.writer"
    try:
        handle = os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as error:
        raise EnvironmentProblem(one_line(f"{lock_file}: cannot open sim tune's lock file: {error.strerror}")) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise EnvironmentProblem(
                    one_line(
                        f"--out {out}: another sim tune is running the study of {name} in this folder "
                        f"(its journal {path(out, name).name}); wait for it to end, or choose another --out"
                    )
                ) from None
        yield
    finally:
        os.close(handle)  # closing releases the lock


def study_name(scenario: Scenario, base: str, replications: int) -> str:
    """A fingerprint of what decides the trials; trials and budget left out (they only say when to stop)."""
    assert scenario.tune is not None
    tune = dataclasses.replace(scenario.tune, trials=0, budget=None)
    decided = dataclasses.replace(scenario, path="", warnings=(), tune=None, thresholds=())
    text = repr((decided, tune, base, replications))
    return f"{scenario.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def open_study(file: Path, name: str, objectives: int) -> optuna.Study:
    """The study `name` in the journal `file`, created if new; a foreign file in its place is exit 2."""
    _refuse_foreign(file)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the report and the progress line say what it would
    try:
        storage = JournalStorage(JournalFileBackend(str(file), lock_obj=JournalFileOpenLock(str(file))))
        study = optuna.create_study(
            storage=storage, study_name=name, directions=["minimize"] * objectives, load_if_exists=True
        )
        study.trials  # noqa: B018 - replays every logged operation now, inside this try
    except Exception as error:  # noqa: BLE001 - optuna replays what the file says; whatever it trips on is the file's
        raise unreadable(file, f"{type(error).__name__} while replaying it") from None
    return study


def unreadable(file: Path, why: str) -> EnvironmentProblem:
    return EnvironmentProblem(one_line(f"{file}: not a journal sim tune can read ({why}); remove it to start over"))


def checked_attributes(
    trial: optuna.trial.FrozenTrial, objectives: int, replications: int, constraints: int
) -> dict[str, Any]:
    """A finished trial's values and the user attributes `search` wrote; `Unreadable` says what is not as written."""
    attributes = trial.user_attrs
    values = trial.values or []
    if len(values) != objectives or not all(_finite(v) and abs(v) <= MAX_MAGNITUDE for v in values):
        raise Unreadable("its objective values are not finite numbers, one per objective")
    keys = (("point", dict), ("costs", list), ("metrics", dict), ("dropped", str), ("feasible", bool))
    for key, kind in (*keys, ("constraints", list)):
        if not isinstance(attributes.get(key), kind):
            raise Unreadable(f"{key} is missing or not a {kind.__name__}")
    point, costs, metrics = attributes["point"], attributes["costs"], attributes["metrics"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in point.items()):
        raise Unreadable("point is not settings and their values")
    if len(costs) != objectives:
        raise Unreadable(f"{len(costs)} cost lists for {objectives} objective(s)")
    counts = {len(c) for c in costs if isinstance(c, list)} | {len(v) for v in metrics.values() if isinstance(v, list)}
    if len(counts) != 1 or not 1 <= min(counts) <= replications:
        raise Unreadable(f"costs and metrics do not hold one value for each of 1 to {replications} replications")
    for c in costs:
        _numbers(c, "a cost", allow_nan=False)
    for values in metrics.values():
        _numbers(values, "a metric", allow_nan=True)  # NaN: a metric that did not apply to that replication
    if len(attributes["constraints"]) != constraints:
        raise Unreadable(f"{len(attributes['constraints'])} constraint values for {constraints} constraint(s)")
    _numbers(attributes["constraints"], "a constraint's value", allow_nan=False)
    repeat = attributes.get("repeat_of")
    if repeat is not None and (type(repeat) is not int or repeat < 0):
        raise Unreadable("repeat_of is not a trial number")
    return dict(attributes)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(values: Any, what: str, *, allow_nan: bool) -> None:
    if not isinstance(values, list):
        raise Unreadable(f"{what}'s values are not a list")
    for v in values:
        if (
            type(v) not in (int, float)
            or (math.isnan(v) and not allow_nan)
            or not (math.isnan(v) or abs(v) <= MAX_MAGNITUDE)
        ):
            raise Unreadable(f"{what} is {str(v)[:20]}, not a finite number of magnitude up to {MAX_MAGNITUDE:g}")


def _refuse_foreign(file: Path) -> None:
    try:
        found = os.lstat(file).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise EnvironmentProblem(f"{file}: cannot read the tuning journal: {error.strerror}") from None
    if not stat.S_ISREG(found):
        raise EnvironmentProblem(
            f"{file}: the tuning journal is not a regular file (a link, folder or device); remove it"
        )
    if os.lstat(file).st_size > MAX_BYTES:
        raise unreadable(file, f"larger than {MAX_BYTES // 2**20} MiB")
    _refuse_cut_short(file)


def _refuse_cut_short(file: Path) -> None:
    """Every line one whole JSON object: optuna skips a last line cut short (a kill or a full disk mid-write)
    and then appends after it, gluing the next operation onto it; the study is unreadable from then on."""
    with open(file, "rb") as journal:
        for number, line in enumerate(journal, 1):
            try:
                if not line.endswith(b"\n") or not isinstance(json.loads(line), dict):
                    raise ValueError
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise unreadable(file, f"line {number} is cut short or not a JSON object") from None
