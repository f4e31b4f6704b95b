"""Scenario files: TOML → defaults → validation → frozen dataclasses.

The names below are loaded on first use (PEP 562): `sim --help` reads a limit from
`sim.scenario.limits` and must not pay for the loader and everything it imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.scenario.load import load_scenario
    from sim.scenario.model import Scenario, ScenarioError, Variant

__all__ = ["Scenario", "ScenarioError", "Variant", "load_scenario"]
_HOME = {"Scenario": "model", "ScenarioError": "model", "Variant": "model", "load_scenario": "load"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sim.scenario.{_HOME[name]}"), name)
