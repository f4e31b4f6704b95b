"""The scenarios that come with `sim`, addressable by name from any folder (`sim run magna`).

They live in the checkout's `scenarios/` folder, beside the `sim` package: an editable
install (`pip install -e .`, the documented one) finds them there. They are not package
data: setuptools can only ship files that sit inside a package, and `scenarios/` is also
the folder the README and CI name. A wheel built for another machine therefore knows no
bundled names; paths still work.
"""

from __future__ import annotations

import re
from pathlib import Path

import sim
from sim.core.errors import ScenarioError

NAME = re.compile(r"[A-Za-z0-9_-]+")  # a bare name; anything else (a dot, a slash) is a path
FOLDER = Path(sim.__file__).resolve().parents[1] / "scenarios"
EXAMPLES = FOLDER.parent / "examples"  # the checkout's examples (the seed's bot as a team's handler, logs)


def names(folder: Path = FOLDER) -> list[str]:
    """The bundled scenarios' names, sorted; none when the checkout's folder is not there."""
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def resolve(argument: str, folder: Path = FOLDER) -> str:
    """The path a SCENARIO argument names: an existing path as given, else a bundled name's file.

    A path that does not exist and is not a bare name is returned as given, so that the
    loader reports it in its own words ("no such scenario file").
    """
    if _exists(argument) or not NAME.fullmatch(argument):
        return argument
    if argument in names(folder):
        return str(folder / f"{argument}.toml")
    bundled = ", ".join(names(folder)) or f"none: {folder} is not there (bundled names need the source checkout)"
    raise ScenarioError(f"{argument[:100]}: no such scenario file, nor a bundled scenario (bundled: {bundled})")


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except OSError:  # a name too long for the file system: not a file; the loader says why
        return True
