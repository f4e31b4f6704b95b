"""`datetime` as a team's modules see it in a simulation: `now()` and `today()` read the run's clock.

`datetime.datetime` is a C type whose methods cannot be patched, so the modules of a handler
(`sim.code.loader`) import this module in its place when they ask for `datetime`. Its classes are
subclasses of the real ones: every value they make is a real `datetime`, `date`, and mixes with
values from libraries. Outside a run (`containment.active()` is None) they read the wall clock.
In a run local time is UTC, as for `time.localtime` (`sim.code.containment`).
"""

from __future__ import annotations

import datetime as _real
import types
from typing import Any

from sim.code import containment


def _now_timestamp() -> float | None:
    run = containment.active()
    return None if run is None else run.clock.epoch + run.clock.now()


class datetime(_real.datetime):  # noqa: N801 - the name the code asks for
    @classmethod
    def now(cls, tz: _real.tzinfo | None = None) -> Any:
        stamp = _now_timestamp()
        if stamp is None:
            return super().now(tz)
        utc = cls.fromtimestamp(stamp, _real.UTC)
        return utc.replace(tzinfo=None) if tz is None else utc.astimezone(tz)

    @classmethod
    def utcnow(cls) -> Any:
        stamp = _now_timestamp()
        if stamp is None:
            return cls.now(_real.UTC).replace(tzinfo=None)
        return cls.fromtimestamp(stamp, _real.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Any:
        return cls.now()


class date(_real.date):  # noqa: N801
    @classmethod
    def today(cls) -> Any:
        stamp = _now_timestamp()
        if stamp is None:
            return super().today()
        day = _real.datetime.fromtimestamp(stamp, _real.UTC)
        return cls(day.year, day.month, day.day)


def _datetime_module() -> types.ModuleType:
    module = types.ModuleType("datetime", _real.__doc__)
    module.__dict__.update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
    module.datetime = datetime  # type: ignore[attr-defined]
    module.date = date  # type: ignore[attr-defined]
    return module


DATETIME = _datetime_module()
SHIMS: dict[str, types.ModuleType] = {"datetime": DATETIME}  # module name → what a handler's module gets
