"""How many worker processes a command starts: never more than the cores it may use, nor more
than the memory available holds runs of the scenario at once.

More workers than cores only queue for them, and each costs a Python interpreter and a run's
records: `--processes 1024` on a 2-core machine started 1,024 workers and used 18.7 GB. The
count is lowered, never raised, and the command says so on stderr. Results do not depend on
it: every replication carries its own seeds.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

MIB = 2**20
# A worker's interpreter with numpy, SimPy and fakeredis, and what a run holds per message: `sim bench
# --memory` measured a one-day run of 99,166 messages at 109 MiB and 260 MiB per million messages.
WORKER_BASE_BYTES = 100 * MIB
BYTES_PER_MESSAGE = 260 * MIB // 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Workers:
    count: int
    note: str  # why fewer than asked for; empty when none were taken away


def cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or `taskset` sets it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_processes(requested: int | None, messages: float, flag: str = "--processes") -> Workers:
    """`requested` (None: one per core) lowered to the cores, then to what the available memory holds
    for runs of `messages` expected messages each."""
    usable = cores()
    wanted = usable if requested is None else requested
    count, reasons = wanted, []
    if count > usable:
        count = usable
        reasons.append(f"this machine lets sim use {usable} core{'s' if usable != 1 else ''}")
    per_worker = WORKER_BASE_BYTES + int(messages * BYTES_PER_MESSAGE)
    available = available_memory()
    if available is not None and count > 1 and count * per_worker > available:
        count = max(1, available // per_worker)
        reasons.append(
            f"{available / 2**30:.1f} GiB of memory is available and a run of this scenario needs about "
            f"{per_worker / MIB:,.0f} MiB"
        )
    if count >= wanted:
        return Workers(count=wanted, note="")
    asked = f"{flag} {requested}" if requested is not None else "one worker per core"
    return Workers(
        count=count, note=f"{asked}: {count} worker process{'es' if count != 1 else ''} ({'; '.join(reasons)})"
    )


def local_processes(args: argparse.Namespace, messages: float) -> int | None:
    """A command's `--processes` (default: one per core) lowered to what this machine can run for runs of
    `messages` expected messages, said on stderr; None with `--executor dask` (the cluster runs them)."""
    if getattr(args, "executor", "local") == "dask":
        return None
    workers = worker_processes(args.processes, messages)
    if workers.note:
        print(f"sim: note: {workers.note}", file=sys.stderr)
    return workers.count


def available_memory(meminfo: Path = Path("/proc/meminfo"), cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process could still take: the kernel's MemAvailable, or less under a cgroup's memory limit
    (v2, or v1 as many containers still mount it). None where none can be read (not Linux): then only
    the cores bound the workers."""
    found = [_meminfo_available(meminfo), *(_room(limit, used) for limit, used in _cgroup_files(cgroups))]
    known = [v for v in found if v is not None]
    return min(known) if known else None


def _meminfo_available(meminfo: Path) -> int | None:
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(":")
            if name == "MemAvailable":
                return int(value.split()[0]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_files(cgroups: Path) -> list[tuple[Path, Path]]:
    """(limit, usage) file pairs of this process's memory cgroup: v2 and v1, at its path and at the root
    (a container sees its own cgroup as the root)."""
    v2, v1 = "", ""
    try:
        for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
            number, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if number == "0" and not controllers:
                v2 = path.strip().lstrip("/")
            elif "memory" in controllers.split(","):
                v1 = path.strip().lstrip("/")
    except OSError:
        pass
    pairs = []
    for folder in {cgroups / v2, cgroups}:
        pairs.append((folder / "memory.max", folder / "memory.current"))
    for folder in {cgroups / "memory" / v1, cgroups / "memory"}:
        pairs.append((folder / "memory.limit_in_bytes", folder / "memory.usage_in_bytes"))
    return pairs


def _room(limit_file: Path, used_file: Path) -> int | None:
    """A cgroup's limit minus its usage; None without a limit ("max", or v1's huge number) or the files."""
    try:
        limit = limit_file.read_text(encoding="ascii").strip()
        used = int(used_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    if not limit.isdigit() or int(limit) >= 2**62:
        return None
    return max(0, int(limit) - used)
