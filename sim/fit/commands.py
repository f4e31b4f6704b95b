"""`sim fit` and `sim validate`: every input checked first, then the work, then the files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sim.core.errors import ArgumentError, ExitCode
from sim.core.text import one_line
from sim.fit import validate
from sim.fit.observed import Observable, observed
from sim.fit.output import check_fit_targets
from sim.fit.scenario_file import Customers, scenario_name, write_scenario
from sim.fit.world import fit_world
from sim.logs.read import Logs, parse_columns, read_logs
from sim.report.folder import prepare, write_atomically
from sim.scenario.load import REPORT_NAME
from sim.terminal.progress import Progress

_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")  # Area/City, never a path
LISTED_ON_STDERR = 5  # bad rows named on stderr; the report lists more


def run_fit(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_fit_targets(out, args.logs, force=args.force)
    name = scenario_name(out)
    if args.report is not None:
        prepare(Path(args.report), f"{name}-fit")
    with Progress(0, f"{name} fit", unit="rows read", enabled=not args.quiet) as progress:
        logs = read_checked(args, progress)
        conversations = args.customers == Customers.CONVERSATIONS
        if conversations and not any(m.reply_s is not None for m in logs.messages):
            raise ArgumentError(
                "--customers conversations: the message log has no reply times (reply_s) to fit them from"
            )
        world = fit_world(logs, args.session_gap, args.cache_ttl, conversations=conversations, on_stage=progress.stage)
        progress.stage("writing the scenario")
        written = write_scenario(world, out)
    print(f"{len(logs.messages):,} messages, {len(logs.calls):,} service calls → {', '.join(map(str, written))}")
    if args.report is not None:
        from sim.fit import report  # matplotlib: only when a report is asked for

        folder = report.write(world, Path(args.report), f"{name}-fit", str(out))
        print(f"fit report → {folder}")
    return ExitCode.OK


def run_validate(args: argparse.Namespace) -> int:
    from sim.commands.compare import load_and_warn
    from sim.experiment import Records, run_replications, select
    from sim.experiment.capacity import local_processes
    from sim.scenario.work import largest_run

    scenario = load_and_warn(args.scenario)
    variant = args.variant or scenario.baseline
    scenario = select(scenario, variant, args.seed)
    if args.replications:
        scenario = dataclasses.replace(scenario, replications=args.replications)
    if scenario.replications < 2:
        raise ArgumentError("validation needs at least 2 replications for a prediction interval (--replications)")
    required = tuple(Observable(m) for m in args.require)
    logs = read_checked(args)
    shown = observed(logs.messages, logs.calls)
    missing = [str(m) for m in required if m not in shown]
    if missing:
        raise ArgumentError(f"--require {', '.join(missing)}: the logs do not hold the fields to observe it")
    folder = f"{scenario.name}-validation"
    if args.out is not None:
        if not REPORT_NAME.fullmatch(folder):
            raise ArgumentError(one_line(f"scenario name {scenario.name!r} cannot name a report folder"))
        prepare(Path(args.out), folder)
    args.processes = args.processes or 1
    comparison = run_replications(
        scenario, processes=local_processes(args, largest_run([scenario])) or 1, records=Records(keep=True)
    )
    result = validate.validate(logs, comparison.runs[variant], scenario.name, variant, required)
    text = validate.markdown(result)
    print(text, end="")
    if args.out is not None:
        written = write_atomically(Path(args.out), folder, lambda f: _write_validation(f, result, text))
        print(f"validation → {written}")
    for problem in comparison.violations:
        print(f"sim: INVARIANT BROKEN: {problem}", file=sys.stderr)
    if comparison.violations:
        return ExitCode.BROKEN
    return ExitCode.BREACHED if result.failed else ExitCode.OK


def _write_validation(folder: Path, result: validate.Validation, text: str) -> None:
    (folder / "report.md").write_text(text, encoding="utf-8")
    (folder / "validation.json").write_text(json.dumps(validate.as_json(result), indent=2) + "\n", encoding="utf-8")


def read_checked(args: argparse.Namespace, progress: Progress | None = None) -> Logs:
    columns, zone = parse_columns(args.columns), timezone(args.timezone)
    if progress is None:
        with Progress(0, "reading logs", unit="rows", enabled=not args.quiet) as own:
            return read_checked(args, own)
    logs = read_logs(args.logs, columns, zone, on_rows=progress.step, on_lines=progress.grow)
    progress.settle()
    if logs.bad_count:
        first = "; ".join(str(b) for b in logs.bad[:LISTED_ON_STDERR])
        repeats = f", {logs.duplicates:,} of them repeated messages" if logs.duplicates else ""
        print(f"sim: warning: {logs.bad_count:,} bad rows not used{repeats} (first: {first})", file=sys.stderr)
    if logs.repeated_calls:
        print(
            f"sim: warning: {logs.repeated_calls:,} call rows repeat an earlier call in every field; kept (two "
            "calls may start and last alike at the log's resolution; a file exported twice counts them twice)",
            file=sys.stderr,
        )
    return logs


def timezone(name: str | None) -> tzinfo | None:
    """`--timezone Area/City` (an IANA name): None without one."""
    if name is None:
        return None
    if len(name) > 64 or not _ZONE.fullmatch(name):
        raise ArgumentError(
            one_line(f"--timezone {name[:64]!r}: expected an IANA name such as UTC or America/Sao_Paulo")
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ArgumentError(one_line(f"--timezone {name!r}: no such timezone")) from None
