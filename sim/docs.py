"""The numbers the documentation states about the tool, generated from the tool itself.

A Markdown file holds generated blocks between two markers:

    <!-- sim docs: NAME -->
    …generated text…
    <!-- /sim docs -->

`python -m sim.docs` rewrites every block of the docs site's pages (docs/) from the code (the
sensitivity axes and their cases from `sim.sensitivity.axes`, the metric names from
`sim.metrics.summary`), and `python -m sim.docs --check` exits 1 naming each block that is out of
date: tests/test_docs.py runs that check, so a new axis or metric cannot leave the docs behind.

Timings cannot be tested (they depend on the machine and its load): `python -m sim.docs --timings`
measures them by running the commands the "decision-times" table names, and writes the table with
the figures, the replications each run chose and why (those two are checked by a test), and when,
on how many cores and under which load they were measured.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.metrics.catalog import ALL_METRICS, CODE_METRICS, CONVERSATION_METRICS, LOCK_SAFETY_METRICS, METRICS
from sim.sensitivity.axes import AXES
from sim.sensitivity.design import MAX_CASES

ROOT = Path(__file__).resolve().parents[1]
FILES = tuple(sorted((ROOT / "docs").rglob("*.md")))  # the site; its pages hold the generated blocks
BLOCK = re.compile(r"(<!-- sim docs: ([a-z-]+) -->\n)(.*?)(<!-- /sim docs -->)", re.DOTALL)


def sensitivity_axes() -> str:
    """The axes `--sensitivity` varies, each with its cases, and how many cases a study runs."""
    rows = [
        f"| `{axis.key}` | {axis.words} | " + "; ".join(f"*{case.name}*: {case.words}" for case in axis.cases) + " |"
        for axis in AXES.values()
    ]
    cases = 1 + sum(len(axis.cases) for axis in AXES.values())
    return (
        "| axis | the assumption | cases |\n|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"{len(AXES)} axes. By default one case per alternative, the rest as written: {cases} cases with every "
        f"axis, the scenario as written included; `--sensitivity full` runs every combination, refused above "
        f"{MAX_CASES} cases (exit 2: choose fewer `--axes`).\n"
    )


def threshold_metrics() -> str:
    """The metrics a threshold (and `--precision`, `--meaningful`, `--fail-on-regression`) may name."""

    def names(metrics: Iterable[str]) -> str:
        return " ".join(f"`{m}`" for m in metrics)

    return (
        f"Metrics a threshold may name ({len(ALL_METRICS)}): {names(METRICS)}; with `[workload.conversations]` "
        f"also {names(CONVERSATION_METRICS)}; with a team's handler (`[code]`) also {names(CODE_METRICS)}; "
        f"in a scenario that studies lock safety (a failover, fencing or WAIT) also {names(LOCK_SAFETY_METRICS)}. "
        "Operators: `< <= > >=`.\n"
    )


SECTIONS: dict[str, Callable[[], str]] = {
    "sensitivity-axes": sensitivity_axes,
    "threshold-metrics": threshold_metrics,
}


# ---------------------------------------------------------------- timings


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """One row of the decision-times table: a scenario compared at a fixed count and with a precision."""

    scenario: str
    precision: str


TIMINGS = (
    Timing(scenario="magna", precision="busy_rate=0.5%"),
    Timing(scenario="magna", precision="busy_rate=0.5%,latency_answered_p95_s=2s"),
    Timing(scenario="peak-hour", precision="busy_rate=1%,latency_answered_p95_s=2s"),
)
TIMING_ARGS = ("--quiet", "--processes", "2")
STOPPED = re.compile(r"Replications until the answer is sure \([^)]*\): (\d+) run \([^)]*\); stopped: ([^.;]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    wall_s: float
    cpu_s: float
    replications: int
    reason: str  # why the stopping rule stopped ("" for a fixed count)


def measure(scenario: str, extra: Sequence[str], out: Path) -> Measured:
    """`sim compare SCENARIO EXTRA…` in a fresh process: wall and CPU time, and the count it ran."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "sim", "compare", scenario, "--out", str(out), *TIMING_ARGS, *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"× (\d+) replications", done.stdout)
    stopped = STOPPED.search(done.stdout)
    return Measured(
        wall_s=wall,
        cpu_s=cpu,
        replications=int(found.group(1)) if found else 0,
        reason=stopped.group(2).strip() if stopped else "",
    )


def decision_times(out: Path) -> str:
    """The decision-times table, measured now."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "| scenario | fixed `--replications 10` | with `--precision` | replications it chose | why it stopped |",
        "|---|---|---|---|---|",
    ]
    for t in TIMINGS:
        fixed = measure(t.scenario, ["--replications", "10"], out / "fixed")
        precise = measure(t.scenario, ["--precision", t.precision], out / "precise")
        lines.append(
            f"| {t.scenario} | {fixed.wall_s:.1f} s ({fixed.cpu_s:.1f} s CPU) | `{t.precision}`: "
            f"{precise.wall_s:.1f} s ({precise.cpu_s:.1f} s CPU) | {precise.replications} | {precise.reason} |"
        )
    when = datetime.date.today().isoformat()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        "\n".join(lines)
        + f"\n\nMeasured by `python -m sim.docs --timings` on {when}: `sim compare SCENARIO {' '.join(TIMING_ARGS)}`, "
        f"report writing included, wall and CPU time of the process, on {cores} cores with a load average of "
        f"{load:.1f} when it started (other jobs shared the machine). Wall times vary with the load; the "
        "replications chosen do not (tests/test_docs.py checks them).\n"
    )


# ---------------------------------------------------------------- the files


def regenerated(text: str, sections: dict[str, Callable[[], str]]) -> str:
    """`text` with every generated block whose name is in `sections` rewritten; other blocks as they are."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in sections:
            return match.group(0)
        return match.group(1) + sections[name]() + match.group(4)

    return BLOCK.sub(replace, text)


def stale(files: Sequence[Path] = FILES) -> list[str]:
    """`FILE: NAME` for every generated block that differs from what the code says (unknown names too)."""
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            name = match.group(2)
            if name == "decision-times":
                continue  # measured, not generated: `--timings`
            if name not in SECTIONS or SECTIONS[name]() != match.group(3):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.docs", description="the docs' generated blocks")
    parser.add_argument("--check", action="store_true", help="exit 1 naming each generated block out of date")
    parser.add_argument("--timings", action="store_true", help="also measure and rewrite the decision-times table")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for line in out_of_date:
            print(f"out of date: {line} (run python -m sim.docs)", file=sys.stderr)
        return 1 if out_of_date else 0
    sections = dict(SECTIONS)
    if args.timings:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="sim-docs-"))
        table = decision_times(folder)
        sections["decision-times"] = lambda: table
    for path in FILES:
        path.write_text(regenerated(path.read_text(encoding="utf-8"), sections), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
