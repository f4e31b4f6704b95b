"""`sim` starts fast: the CLI imports the heavy libraries only in the commands that use them.

How fast is a figure, not a pass/fail test (timing under a loaded CI machine flakes): `sim bench`
prints the CLI's import time; these tests hold the cause of a slow start, the eager imports.
"""

from sim.terminal.startup import HEAVY, cli_import_seconds, heavy_modules_imported_by_cli
from tests.helpers import sim_process


def test_importing_the_cli_imports_no_numpy_scipy_matplotlib_simpy_fakeredis_or_dask():
    assert set(HEAVY) == {"numpy", "scipy", "matplotlib", "simpy", "fakeredis", "dask"}
    assert heavy_modules_imported_by_cli() == []


def test_sim_help_answers():
    done = sim_process("--help", timeout=60)
    assert done.returncode == 0 and "compare" in done.stdout


def test_the_cli_import_time_is_measured_in_a_fresh_interpreter():
    assert cli_import_seconds() > 0
