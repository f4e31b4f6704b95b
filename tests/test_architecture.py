"""Import direction is part of the design: the system under test knows nothing of the simulation."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "sim"


def imports(folder):
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                yield path.name, [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path.name, [node.module]


def test_sut_imports_no_simpy_and_nothing_from_sim_but_itself():
    for name, modules in imports("sut"):
        for module in modules:
            assert not module.startswith("simpy"), f"{name} imports {module}"
            assert not module.startswith("sim.") or module.startswith("sim.sut"), f"{name} imports {module}"
            assert not module.startswith(("fakeredis", "numpy")), f"{name} imports {module}"


def test_only_the_world_imports_simpy():
    for folder in ("scenario", "metrics", "report"):
        for name, modules in imports(folder):
            assert not any(m.startswith("simpy") for m in modules), f"{folder}/{name} imports simpy"
