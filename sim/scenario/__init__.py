"""Scenario files: TOML → defaults → validation → frozen dataclasses."""

from sim.scenario.load import load_scenario
from sim.scenario.model import Scenario, ScenarioError, Variant

__all__ = ["Scenario", "ScenarioError", "Variant", "load_scenario"]
