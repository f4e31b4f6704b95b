"""Hypothesis profiles: under CI (`CI` set) derandomised with no example database, so a red
run is reproducible by running it again; elsewhere random, so developers keep exploring.

Shared paths and helpers (the bundled scenarios, `sim` in a subprocess, scenario files from
inline text, the manual clock) are plain imports from `tests/helpers.py`, so a reader sees where
each name comes from. The `slow` marker is registered in pyproject.toml: every run includes the
slow tests unless asked not to; `python -m pytest -m "not slow"` is the quick developer loop."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _not_in_ci_mode(monkeypatch):
    """`sim compare` refuses thresholds on a single replication when CI is set (GitHub Actions sets
    CI=true); tests that run it with `--replications 1` must not depend on where they run, and the
    tests of CI mode set it themselves."""
    monkeypatch.delenv("CI", raising=False)
