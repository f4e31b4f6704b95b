"""How long `sim` takes to start: the import of `sim.cli`, measured in a fresh interpreter.

`sim --help` and every argument error pay this before anything else (0.10–0.15 s here, 0.41–0.48 s
while the CLI imported numpy and the scenario loader), so it is a figure of
`sim bench` and a line held by tests/test_startup.py: the heavy libraries (numpy, SciPy, matplotlib,
SimPy, fakeredis, Dask) are imported only by the commands that use them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sim

HEAVY = ("numpy", "scipy", "matplotlib", "simpy", "fakeredis", "dask")  # what `import sim.cli` must not import

_MEASURE = "import time; t = time.perf_counter(); import sim.cli; print(time.perf_counter() - t)"
_HEAVY_IMPORTED = "import sys, sim.cli; print(' '.join(m for m in {heavy!r} if m in sys.modules))"


def cli_import_seconds() -> float:
    """Wall seconds to import `sim.cli` in a new Python process (interpreter start-up excluded)."""
    return float(_python(_MEASURE))


def heavy_modules_imported_by_cli() -> list[str]:
    """The libraries of HEAVY that importing `sim.cli` drags in; empty when the CLI starts light."""
    return _python(_HEAVY_IMPORTED.format(heavy=HEAVY)).split()


def _python(code: str) -> str:
    """What `code` prints, run by this interpreter on this `sim` package (not another installed one)."""
    source = str(Path(sim.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env)
    return done.stdout.strip()
