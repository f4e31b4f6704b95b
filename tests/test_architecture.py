"""Import direction is part of the design: the packages of sim/ stand in layers, each importing only
layers below it (docs/explanation/architecture.md draws them); the system under test knows nothing of
the simulation, the real-time engine nothing of SimPy, the configuration nothing of the system under
test, and the reports read only the results model."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "sim"


def imports(where):
    """(file, imported modules) for every import statement of a folder or a file under sim/."""
    target = PACKAGE / where
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                yield path.relative_to(PACKAGE).as_posix(), [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path.relative_to(PACKAGE).as_posix(), [node.module]


# The layers of sim/, bottom first: a package (or entry-point module) imports only packages of lower
# layers, never one of its own layer nor above. `TYPE_CHECKING` imports count: a cycle in the types is
# still one in the design.
LAYERS = (
    ("core", "terminal"),  # errors and exit codes, distributions, durations, files; the console
    ("sut", "code"),  # the built-in bot; the contract a team's own handler is written against
    ("metrics",),  # records, summaries, statistics, thresholds: the results model
    ("logs",),  # production logs read with limits, and their sessions
    ("scenario",),  # the scenario file: syntax, schema, model
    ("run", "report", "sensitivity"),  # what both engines share; the report writers; the sensitivity axes
    ("world", "live"),  # the SimPy engine; the wall-clock engine against a real Redis server
    ("experiment", "bench"),  # replications, batches, sweeps, workers and clusters; speed figures
    ("commands",),  # sim run, compare, sweep: load, run, report
    ("fit", "tune"),  # sim fit / validate / trace; sim tune
    ("cli", "docs"),  # the entry points
    ("__main__",),
)
LAYER = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module):
    """The top-level package or module of sim a dotted name lies in (None for sim itself)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "sim" and len(parts) > 1 else None


def upward_imports():
    """(importing file, imported module) for every import that does not go to a lower layer."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        unit = relative.parts[0].removesuffix(".py")
        if unit == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [f"{node.module}.{a.name}" if node.module == "sim" else node.module for a in node.names]
            else:
                continue
            for module in modules:
                target = unit_of(module)
                if target is not None and target != unit and not LAYER[target] < LAYER[unit]:
                    found.append((relative.as_posix(), module))
    return found


def test_every_package_of_sim_has_a_layer():
    units = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert units - {"__init__"} == set(LAYER)


def test_every_import_goes_to_a_lower_layer():
    assert upward_imports() == []


def test_an_upward_import_is_found(monkeypatch):
    """The check can fail: metrics importing the scenario (a cycle the layers once had) is reported."""
    monkeypatch.setitem(LAYER, "scenario", LAYER["metrics"])  # as if scenario sat beside metrics
    assert ("scenario/model.py", "sim.metrics.thresholds") in upward_imports()


def offending(where, *packages):
    """The imports of `where` that are any of `packages` or inside one of them."""
    inside = tuple(f"{p}." for p in packages)
    return [(name, m) for name, modules in imports(where) for m in modules if m in packages or m.startswith(inside)]


def test_sut_imports_no_simpy_and_nothing_from_sim_but_itself():
    for name, modules in imports("sut"):
        for module in modules:
            assert not module.startswith("simpy"), f"{name} imports {module}"
            assert not module.startswith("sim.") or module.startswith("sim.sut"), f"{name} imports {module}"
            assert not module.startswith(("fakeredis", "numpy")), f"{name} imports {module}"


def test_only_the_world_imports_simpy():
    everything_else = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "world" not in p.parts]
    assert "bench/__init__.py" in everything_else and "live/__init__.py" in everything_else
    for where in everything_else:
        assert offending(where, "simpy") == [], f"{where} imports simpy"


def test_the_live_engine_and_the_run_layer_import_nothing_of_the_simulated_world():
    for where in ("live", "run"):
        assert offending(where, "simpy", "fakeredis", "sim.world") == []


def test_the_configuration_imports_nothing_from_the_system_under_test():
    assert offending("scenario", "sim.sut") == []


def test_report_renderers_read_only_the_results_model():
    assert offending("report", "sim.world", "sim.run", "sim.sut", "sim.live") == []
