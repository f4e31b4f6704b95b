"""Find and import a team's handler: `[code] handler = "bot.py:handle"` or `"package.module:handle"`.

Each run imports the handler's own modules afresh (`load`), as a new process would: module-level
state (a counter, a cached client, a registered script) starts over every run, so a run's results
do not depend on which runs the same process ran before it (one process or N give the same bytes).

The team's own modules are the files of the handler's folder (a file handler) or the modules of its
top-level package (a module handler). They are imported under a private package name for the run
(`__sim_code_<n>__`), so they never replace a module the process already has, and their imports of
each other are mapped there; their `import datetime` gets `sim.code.clock_shims.DATETIME`, whose
`now()` reads the run's clock. Other libraries are imported as usual, once per process.

Errors are `HandlerError`s (exit 2), one line naming the file and line where the user can fix them.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import itertools
import keyword
import os
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.code.clock_shims import SHIMS
from sim.core.errors import SimError

MAX_HANDLER_SPEC = 300  # characters of `[code]handler`
_generation = itertools.count(1)


class HandlerError(SimError):
    """A handler that cannot be found, imported or called as `async def handle(message, ctx)`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerSpec:
    """Where a handler lives, resolved; `text` is how the scenario wrote it."""

    text: str
    function: str
    module: str  # "bot" for a file handler (its stem), "package.module" for a module handler
    file: str | None  # the handler's file for a file handler; None for a module handler
    root: str  # the folder the team's own modules are imported from

    @property
    def where(self) -> str:
        """How errors name the handler: its file, or its module."""
        return self.file if self.file is not None else self.module


def parse_spec(text: str, base: Path) -> HandlerSpec:
    """`FILE.py:FUNCTION` (relative to `base`, the scenario's folder) or `package.module:FUNCTION`.

    Raises HandlerError (one line) for a malformed spec or a file or module that does not exist."""
    if len(text) > MAX_HANDLER_SPEC or "\0" in text or "\n" in text:
        raise HandlerError(f"handler {text[:60]!r}: expected FILE.py:FUNCTION or package.module:FUNCTION")
    where, sep, function = text.rpartition(":")
    if not sep or not where or not _is_identifier(function):
        raise HandlerError(f"handler {text!r}: expected FILE.py:FUNCTION or package.module:FUNCTION")
    if where.endswith(".py") or "/" in where or os.sep in where:
        return _file_spec(text, base / where, function)
    if not all(_is_identifier(part) for part in where.split(".")):
        raise HandlerError(f"handler {text!r}: {where!r} is neither a .py file nor a dotted module name")
    return _module_spec(text, where, function)


def _is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _file_spec(text: str, path: Path, function: str) -> HandlerSpec:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HandlerError(f"handler {text!r}: no such file {str(path)!r}") from None
    if not resolved.is_file() or resolved.suffix != ".py":
        raise HandlerError(f"handler {text!r}: {str(resolved)!r} is not a Python file")
    return HandlerSpec(
        text=text, function=function, module=resolved.stem, file=str(resolved), root=str(resolved.parent)
    )


def _module_spec(text: str, module: str, function: str) -> HandlerSpec:
    top = module.partition(".")[0]
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError) as error:
        raise HandlerError(f"handler {text!r}: cannot find module {top!r}: {error}") from None
    origin = None if found is None else found.origin
    if found is None or origin is None or not origin.endswith(".py"):
        raise HandlerError(f"handler {text!r}: no Python module {top!r} on the import path")
    # A package's origin is its __init__.py: the team's modules are imported from the package's parent.
    location = Path(origin).parent.parent if found.submodule_search_locations else Path(origin).parent
    return HandlerSpec(text=text, function=function, module=module, file=None, root=str(location))


Handler = Callable[[Any, Any], Any]


def load(spec: HandlerSpec) -> Handler:
    """Import the handler afresh (see the module docstring) and check its shape; raises HandlerError."""
    package = _fresh_package(spec)
    name = f"{package}.{spec.module}"
    try:
        if spec.file is not None and not spec.module.isidentifier():
            module = _import_file(name.replace(spec.module, "handler"), spec.file)
        else:
            module = importlib.import_module(name)
    except SyntaxError as error:
        raise HandlerError(_syntax_error(error)) from None
    except KeyboardInterrupt:
        raise  # the user's Ctrl-C, not the module's
    except BaseException as error:  # an Exception, or sys.exit() / a BaseException of its own at import time
        raise HandlerError(f"{user_frame(error, spec)}: {one_line_error(error)} (importing {spec.text})") from None
    function = getattr(module, spec.function, None)
    if function is None:
        raise HandlerError(f"{spec.where}: no function {spec.function!r} (handler {spec.text!r})")
    _check_shape(function, spec)
    return function  # type: ignore[no-any-return]


def _check_shape(function: Any, spec: HandlerSpec) -> None:
    where = _definition(function, spec)
    if not inspect.iscoroutinefunction(function):
        raise HandlerError(f"{where}: {spec.function} must be `async def {spec.function}(message, ctx)`")
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        raise HandlerError(f"{where}: {spec.function} must take two arguments, (message, ctx)") from None
    except ValueError:  # no signature to read
        pass


def _definition(function: Any, spec: HandlerSpec) -> str:
    code = getattr(function, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else spec.where


def _syntax_error(error: SyntaxError) -> str:
    return f"{error.filename}:{error.lineno}: SyntaxError: {error.msg}"


def one_line_error(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def user_frame(error: BaseException, spec: HandlerSpec) -> str:
    """`file:line` of the innermost frame of `error` in the team's own code (else the handler's)."""
    frames = traceback.extract_tb(error.__traceback__)
    return user_frame_of(frames, spec)


def user_frame_of(frames: Sequence[traceback.FrameSummary], spec: HandlerSpec) -> str:
    mine = [f for f in frames if f.filename.startswith(spec.root + os.sep)]
    if not mine:
        return spec.where
    frame = mine[-1]
    return f"{frame.filename}:{frame.lineno}"


# --- the team's modules, imported afresh per run ---------------------------------------------------


def _fresh_package(spec: HandlerSpec) -> str:
    """A new private package whose modules are the team's (`_Finder`); the previous one is forgotten."""
    for name in [m for m in sys.modules if m.startswith("__sim_code_")]:
        del sys.modules[name]
    name = f"__sim_code_{next(_generation)}__"
    package = types.ModuleType(name)
    package.__path__ = [spec.root]
    package.__package__ = name
    sys.modules[name] = package
    serves = _serves_module_handler(spec.module) if spec.file is None else _serves_folder(Path(spec.root))
    _FINDER.current = (name, spec.root, serves)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return name


def _serves_module_handler(module: str) -> Callable[[str], bool]:
    top = module.partition(".")[0]
    return lambda name: name == top


def _serves_folder(root: Path) -> Callable[[str], bool]:
    """A folder's own modules: its `.py` files and packages, never a name the standard library has."""

    def serves(name: str) -> bool:
        if name in sys.stdlib_module_names:
            return False
        return (root / f"{name}.py").is_file() or (root / name / "__init__.py").is_file()

    return serves


def _import_file(name: str, file: str) -> types.ModuleType:
    """A handler file whose name is no identifier (`bot-v2.py`) cannot be imported by name: load it by path."""
    found = importlib.util.spec_from_file_location(name, file, loader=_Loader(name, file))
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module
    found.loader.exec_module(module)
    return module


class _Loader(importlib.machinery.SourceFileLoader):
    """Runs a team module with builtins whose `__import__` maps its imports (`_import`)."""

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = _BUILTINS
        super().exec_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the current private package's modules in the team's folder, with `_Loader`."""

    current: tuple[str, str, Callable[[str], bool]] | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if self.current is None or not fullname.startswith(self.current[0] + "."):
            return None
        package, root, _ = self.current
        search = [root] if fullname.count(".") == 1 else path
        found = importlib.machinery.PathFinder.find_spec(fullname.rpartition(".")[2], search)
        if found is None or not isinstance(found.loader, importlib.machinery.SourceFileLoader):
            return found
        origin = found.origin or ""
        spec = importlib.util.spec_from_file_location(
            fullname,
            origin,
            loader=_Loader(fullname, origin),
            submodule_search_locations=found.submodule_search_locations,
        )
        return spec


_FINDER = _Finder()
_real_import = builtins.__import__


def _import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    """The team modules' `__import__`: `datetime` is the shim; their own modules come from the run's package."""
    if level == 0:
        shim = SHIMS.get(name)
        if shim is not None:
            return shim
        current = _FINDER.current
        top = name.partition(".")[0]
        if current is not None and current[2](top):
            package = current[0]
            module = _real_import(f"{package}.{name}", globals, locals, fromlist or ("__name__",), 0)
            return module if fromlist else sys.modules[f"{package}.{top}"]
    return _real_import(name, globals, locals, fromlist, level)


_BUILTINS: dict[str, Any] = {**vars(builtins), "__import__": _import}
