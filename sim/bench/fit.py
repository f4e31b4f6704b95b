"""`sim bench --fit [ROWS]`: how long `sim fit` takes on a log of ROWS rows (default 2,000,000, the
limit), in each customer model, on one core.

The log is made here with numpy from a known world (30 days of sessions along a daily curve, from
a population of returning customers, with reply times, outcomes and cache sources, and CRM and
LLM calls of which some failed), a quarter of its rows service calls, in CSV files under the
64 MiB limit. Each mode runs `python -m sim fit` in a fresh process pinned to one core (where
the platform can pin), and reports its wall and CPU seconds and its peak memory. Figures, not a
pass/fail test: the target is 2 M rows in under 60 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DEFAULT_ROWS = 2_000_000
ROWS_PER_FILE = 500_000  # ~35 MB of CSV: under the 64 MiB a log file may hold
MODES = ("bursts", "conversations")
DAYS = 30
CALL_SHARE = 0.25  # of the rows
ORIGIN = np.datetime64("2024-03-04T00:00:00", "us")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeFigures:
    mode: str
    rows: int
    wall_s: float
    cpu_s: float
    peak_memory_mib: float
    rows_per_cpu_s: float
    exit_code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FitSpeed:
    rows: int
    files: int
    one_core: bool  # the children were pinned to one core
    modes: tuple[ModeFigures, ...]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def table(self) -> str:
        core = "one core" if self.one_core else "not pinned (this platform cannot pin a process to one core)"
        lines = [
            f"sim fit on {self.rows:,} rows in {self.files} files, {core}",
            f"{'mode':<15}{'wall_s':>8}{'cpu_s':>8}{'peak MiB':>10}{'rows/cpu-s':>12}{'exit':>6}",
        ]
        lines += [
            f"{m.mode:<15}{m.wall_s:>8.1f}{m.cpu_s:>8.1f}{m.peak_memory_mib:>10.0f}{m.rows_per_cpu_s:>12,.0f}"
            f"{m.exit_code:>6}"
            for m in self.modes
        ]
        return "\n".join(lines)


def fit_speed(
    rows: int = DEFAULT_ROWS, modes: Sequence[str] = MODES, on_mode: Callable[[], None] = lambda: None
) -> FitSpeed:
    with tempfile.TemporaryDirectory(prefix="sim-bench-fit-") as folder:
        files = write_logs(Path(folder), rows)
        figures = []
        for mode in modes:
            figures.append(_one_mode(files, Path(folder), mode, rows))
            on_mode()
    return FitSpeed(rows=rows, files=len(files), one_core=hasattr(os, "sched_setaffinity"), modes=tuple(figures))


def _one_mode(files: list[Path], folder: Path, mode: str, rows: int) -> ModeFigures:
    out = folder / f"fitted-{mode}.toml"
    command = [sys.executable, "-m", "sim", "fit", *map(str, files), "--out", str(out), "--customers", mode]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    began = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module, our own temp files
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, preexec_fn=_one_core
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    peak = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return ModeFigures(
        mode=mode,
        rows=rows,
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        peak_memory_mib=round(peak, 1),
        rows_per_cpu_s=round(rows / cpu if cpu > 0 else 0.0),
        exit_code=child.returncode,
    )


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def write_logs(folder: Path, rows: int, seed: int = 2024) -> list[Path]:
    """`rows` rows of a known world as CSV logs in `folder`: message files, then call files."""
    rng = np.random.default_rng(seed)
    calls = int(rows * CALL_SHARE)
    messages = _messages(rng, rows - calls)
    files = _write(folder, "messages", "timestamp,customer,tax_id,outcome,reply_s,cache", messages)
    return files + _write(folder, "calls", "service,start,duration_s,error", _calls(rng, calls))


def _messages(rng: np.random.Generator, n: int) -> list[str]:
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=n, p=[0.3, 0.25, 0.2, 0.12, 0.08, 0.05])
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n  # exactly n messages
    sessions = len(sizes)
    hour = np.arange(24)
    daily = 1 + 0.8 * np.sin((hour - 9) / 24 * 2 * np.pi)  # a daily curve: peak mid-afternoon
    day_hour = rng.choice(DAYS * 24, size=sessions, p=np.tile(daily, DAYS) / np.tile(daily, DAYS).sum())
    starts = np.sort(day_hour * 3600.0 + rng.uniform(0, 3600, sessions))
    customer = rng.integers(0, max(sessions // 8, 1), sessions)  # a population: customers come back
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    gaps = rng.exponential(8.0, n)
    gaps[np.cumsum(sizes) - sizes] = 0.0
    running = np.cumsum(gaps)
    at = np.repeat(starts, sizes) + running - running[first]
    who = np.repeat(customer, sizes)
    reply = rng.lognormal(np.log(20.0), 0.4, n)
    outcome = np.where(rng.random(n) < 0.06, "busy", "answered")
    cache = np.where(rng.random(n) < 0.7, "hit", "miss")
    stamps = _iso(at)
    return [f"{t},c{c},t{c},{o},{r:.3f},{h}" for t, c, o, r, h in zip(stamps, who, outcome, reply, cache, strict=True)]


def _calls(rng: np.random.Generator, n: int) -> list[str]:
    at = np.sort(rng.uniform(0, DAYS * 86400.0, n))
    crm = rng.random(n) < 0.5
    duration = np.where(crm, rng.gamma(16.0, 0.5625, n), rng.lognormal(np.log(17.0), 0.5, n))
    failed = rng.random(n) < 0.03
    stamps = _iso(at)
    return [
        f"{'crm' if c else 'llm'},{t},{d:.4f},{'timeout' if f else ''}"
        for t, c, d, f in zip(stamps, crm, duration, failed, strict=True)
    ]


def _iso(seconds: np.ndarray) -> np.ndarray:
    moments = ORIGIN + (seconds * 1e6).astype("timedelta64[us]")
    return np.asarray(np.char.add(np.datetime_as_string(moments, unit="us"), "Z"))


def _write(folder: Path, stem: str, header: str, lines: list[str]) -> list[Path]:
    written = []
    for part, begin in enumerate(range(0, len(lines), ROWS_PER_FILE)):
        path = folder / f"{stem}-{part + 1}.csv"
        path.write_text(header + "\n" + "\n".join(lines[begin : begin + ROWS_PER_FILE]) + "\n", encoding="utf-8")
        written.append(path)
    return written


def as_json(speed: FitSpeed) -> str:
    return json.dumps(speed.as_dict(), indent=2)
