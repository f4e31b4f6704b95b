"""Where a study is kept between runs: an Optuna journal file beside the report folder.

`OUT/.<name>-tune.journal` holds every study of the scenario, each under a name made from
everything that decides its trials (the scenario, the base variant, the space, the
objectives, the constraints, the replications per candidate; not the trial count or the
budget, so a second run with more trials continues the first). Journal files need no
database server, and a run killed mid-trial leaves a journal the next run resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from sim.errors import EnvironmentProblem
from sim.scenario.model import Scenario


def path(out: Path, name: str) -> Path:
    return out / f".{name}-tune.journal"


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
        return optuna.create_study(
            storage=storage, study_name=name, directions=["minimize"] * objectives, load_if_exists=True
        )
    except (ValueError, KeyError, TypeError) as error:
        raise EnvironmentProblem(
            f"{file}: not a journal sim tune can read ({type(error).__name__}); remove it to start over"
        ) from None


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
