"""One hash seed for every process that runs a team's handler: sets must iterate alike everywhere.

Python seeds `hash()` of strings at random per process (PYTHONHASHSEED), so a set of strings
iterates in a different order in each. A handler that iterates one (`for key in {…}`) would give
different results on one process and on N, or on another machine. A run of a team's handler
therefore needs `PYTHONHASHSEED=0`:

- the `sim` command restarts itself with it, once, when a scenario with `[code]` is loaded
  (`restart_with_fixed_seed`; only the whole command may, never a caller inside a process);
- its worker processes inherit it; a Dask worker must be started with it (`check_worker`).

Library callers and tests keep their own seed: every process they start inherits it.
"""

from __future__ import annotations

import os
import sys

from sim.core.errors import EnvironmentProblem

FIXED = "0"
may_restart = False  # set by the console entry point (`sim.cli.main` with no argv): this process is `sim` itself


def restart_with_fixed_seed() -> None:
    """Restart this `sim` command with PYTHONHASHSEED=0 (see the module docstring); a no-op when it already
    runs with it, or when the process is not the `sim` command (a test, a library caller)."""
    if not sys.flags.hash_randomization or not may_restart or os.environ.get("PYTHONHASHSEED") == FIXED:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "sim", *sys.argv[1:]], {**os.environ, "PYTHONHASHSEED": FIXED})


PROBE = "sim: the order of a set of strings"


def probe() -> int:
    """What this process's hash seed makes of a fixed string: equal in two processes when their seeds are."""
    return hash(PROBE)


def check_worker(submitter: int) -> None:
    """A worker of a cluster about to run a team's handler: its strings must hash as the submitter's
    (`probe()` there), or sets would iterate in another order than on the submitter's machine."""
    if probe() != submitter:
        raise EnvironmentProblem(
            "a Dask worker runs a [code] handler under another hash seed than sim's: start the workers with "
            "PYTHONHASHSEED=0 in their environment (sets of strings would iterate in another order)"
        )
