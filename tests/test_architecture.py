"""Import direction is part of the design: the system under test knows nothing of the simulation,
the real-time engine nothing of SimPy, the configuration nothing of the system under test,
and the reports read only the results model."""

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
    assert "bench.py" in everything_else and "live.py" in everything_else
    for where in everything_else:
        assert offending(where, "simpy") == [], f"{where} imports simpy"


def test_the_live_engine_and_the_run_layer_import_nothing_of_the_simulated_world():
    for where in ("live.py", "run"):
        assert offending(where, "simpy", "fakeredis", "sim.world") == []


def test_the_configuration_imports_nothing_from_the_system_under_test():
    assert offending("scenario", "sim.sut") == []


def test_report_renderers_read_only_the_results_model():
    assert offending("report", "sim.world", "sim.run", "sim.sut", "sim.live") == []
