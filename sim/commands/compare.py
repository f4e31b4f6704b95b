"""The commands that write report folders, `sim compare` and `sim sweep`: all input is
validated first, then replications run, then each folder is written atomically."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from sim.code import hash_seed
from sim.core.errors import ArgumentError, BaselineError, EnvironmentProblem, ExitCode
from sim.core.text import one_line
from sim.experiment import (
    DROP,
    DaskUnavailable,
    Records,
    default_processes,
    keeps_records,
    run_replications,
    run_until_precise,
    select,
)
from sim.experiment.capacity import local_processes
from sim.experiment.cluster import check_executor
from sim.experiment.sweep import grid_scenario, parse_grid
from sim.metrics.baseline import BaselineDiff, Previous, changes, load_previous
from sim.metrics.comparison import Comparison
from sim.metrics.meaningful import Margin
from sim.metrics.precision import next_count
from sim.metrics.thresholds import SINGLE_RUN, Threshold, ThresholdError, parse_threshold
from sim.report import document, markdown, terminal
from sim.report import sensitivity as sensitivity_report
from sim.report import sweep as sweep_report
from sim.report.folder import prepare, records_staging, write_atomically, write_report
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.scenario.bundled import resolve
from sim.scenario.work import largest_run
from sim.sensitivity import command as sensitivity
from sim.terminal.progress import Progress


def run_compare(args: argparse.Namespace) -> int:
    check_executor(args)
    _check_precision_options(args)
    scenarios = [_precise(_configured(load_and_warn(path), args), args) for path in args.scenarios]
    _refuse_shared_folders(scenarios, Path(args.out))
    thresholds = _cli_thresholds(args.threshold, scenarios)
    if args.ci or ci_environment():
        _refuse_single_runs(scenarios, thresholds, "--ci" if args.ci else "CI is set")
    watched = _watched_metrics(args)
    previous = _baselines(args.baseline, scenarios) if args.baseline is not None else {}
    plans = sensitivity.studies(args, scenarios)
    _check_summary()
    for scenario in scenarios:
        prepare(Path(args.out), scenario.name)
    args.processes = local_processes(args, largest_run(scenarios))
    breached = broken = False
    for scenario in scenarios:
        study = plans.get(scenario.name)
        cases_count = len(study.plan.cases) if study else 1
        with _progress(scenario, args, cases_count) as progress, _records_folder(scenario, Path(args.out)) as records:
            kept = Records(keep=records is None, folder=None if records is None else str(records))
            comparison = _replicate(scenario, thresholds, args, progress, kept)
            cases = study.run(comparison, lambda s: _replicate(s, thresholds, args, progress)) if study else None
            diff = _against_baseline(previous.get(scenario.name), comparison, watched)
            progress.stage("writing report")
            extra = functools.partial(sensitivity_report.write, cases) if cases else None
            out = write_report(comparison, Path(args.out), scenario.name, diff, extra, records)
        _publish_summary(markdown.render(document.build(comparison, diff, plots=False)))
        print(_headline(comparison, diff) + _one_line(comparison, out) + _regression_lines(diff))
        if cases:  # case thresholds are reported, never breached: the scenario as written decides
            _publish_summary(markdown.render(sensitivity_report.blocks(cases)))
            print(sensitivity_report.summary(cases, out))
        breached = breached or bool(comparison.breached) or bool(diff and diff.regressions)
        broken = broken or bool(comparison.violations) or bool(cases and cases.violations)
    return ExitCode.BROKEN if broken else ExitCode.BREACHED if breached else ExitCode.OK


def run_sweep(args: argparse.Namespace) -> int:
    check_executor(args)
    axes = parse_grid(args.grid)
    scenario = grid_scenario(_configured(load_and_warn(args.scenario), args), axes, args.variant)
    scenario = dataclasses.replace(scenario, precision=())  # [scenario]precision is `sim compare`'s
    _check_summary()
    prepare(Path(args.out), f"{scenario.name}-sweep")
    args.processes = local_processes(args, largest_run([scenario]))
    with _progress(scenario, args) as progress:
        comparison = _replicate(scenario, {scenario.name: []}, args, progress)
        progress.stage("writing report")
        out = write_atomically(
            Path(args.out), f"{scenario.name}-sweep", functools.partial(sweep_report.write, comparison, axes)
        )
    _publish_summary(IMAGE_LINE.sub("", (out / "report.md").read_text(encoding="utf-8")))
    print(f"{scenario.name}: {len(scenario.variants)} grid points × {comparison.replications} replications → {out}")
    for text in comparison.violations:
        print(f"  INVARIANT BROKEN: {text}")
    return ExitCode.BROKEN if comparison.violations else ExitCode.OK


def load_and_warn(argument: str) -> Scenario:
    """The scenario a path or a bundled name gives, after one `sim: warning:` line on stderr per
    accepted but senseless setting."""
    scenario = load_scenario(resolve(argument))
    if any(v.code is not None for v in scenario.variants):
        hash_seed.restart_with_fixed_seed()  # before any line is printed: a restart prints them again
    for text in scenario.warnings:
        print(one_line(f"sim: warning: {scenario.path}: {text}"), file=sys.stderr)
    return scenario


def _refuse_shared_folders(scenarios: list[Scenario], out: Path) -> None:
    """Two scenarios whose reports would land in one folder (compared resolved, ignoring case) are refused."""
    seen: dict[str, Scenario] = {}
    for scenario in scenarios:
        folder = os.path.normcase(str((out / scenario.name).resolve())).casefold()
        if folder in seen:
            raise ScenarioError(
                f"two scenarios are named {scenario.name!r} ({seen[folder].path} and {scenario.path}): "
                "their reports would overwrite each other"
            )
        seen[folder] = scenario


def _configured(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    scenario = select(scenario, seed=args.seed)
    if args.replications:
        scenario = dataclasses.replace(scenario, replications=args.replications)
    return with_margins(scenario, getattr(args, "meaningful", None))


def with_margins(scenario: Scenario, given: tuple[Margin, ...] | None) -> Scenario:
    """The scenario's minimal meaningful effects with `--meaningful`'s over them, metric by metric."""
    if not given:
        return scenario
    flagged = {m.metric for m in given}
    kept = tuple(m for m in scenario.meaningful if m.metric not in flagged)
    return dataclasses.replace(scenario, meaningful=(*kept, *given))


def _check_precision_options(args: argparse.Namespace) -> None:
    if args.precision and args.replications:
        raise ArgumentError("--replications fixes the count, --precision chooses it: give one of them")


def _precise(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The precision `sim compare` replicates to: --precision, else the scenario's; --replications N on the
    command line fixes the count instead (the scenario's precision is then left aside)."""
    if args.replications:
        return dataclasses.replace(scenario, precision=())
    precision = args.precision or scenario.precision
    if args.max_replications and not precision:
        raise ArgumentError(f"{scenario.name}: --max-replications needs --precision (or [scenario]precision)")
    return dataclasses.replace(
        scenario, precision=precision, max_replications=args.max_replications or scenario.max_replications
    )


def _cli_thresholds(expressions: list[str], scenarios: list[Scenario]) -> dict[str, list[Threshold]]:
    """Per scenario, the command-line thresholds that apply to it (each variant they name is one of
    its variants); a typo, or a comparison that means nothing in a scenario it applies to, is an error."""
    every_variant = sorted({v.name for s in scenarios for v in s.variants})
    per_scenario: dict[str, list[Threshold]] = {s.name: [] for s in scenarios}
    for expression in expressions:
        try:
            threshold = parse_threshold(expression, every_variant)
        except ThresholdError as error:
            raise ScenarioError(f"--threshold: {error}") from None
        for s in scenarios:
            names = [v.name for v in s.variants]
            if {threshold.variant, threshold.reference} - {None} <= set(names):
                try:
                    talk, safety = s.workload.conversations is not None, s.measures_lock_safety()
                    per_scenario[s.name].append(
                        parse_threshold(expression, names, s.baseline, conversations=talk, lock_safety=safety)
                    )
                except ThresholdError as error:
                    raise ScenarioError(f"--threshold: {s.name}: {error}") from None
    return per_scenario


FALSE_ISH = frozenset({"", "0", "false", "no", "off"})


def ci_environment() -> bool:
    """CI mode by the environment: `CI` set to anything but empty or false-ish (GitHub Actions sets CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in FALSE_ISH


def _refuse_single_runs(scenarios: list[Scenario], cli: dict[str, list[Threshold]], why: str) -> None:
    """In CI mode a threshold must be able to claim a confidence bound: at least 2 replications."""
    for s in scenarios:
        count = len(s.thresholds) + len(cli[s.name])
        if count and s.replications < 2 and not s.precision:  # the stopping rule runs 2 or more
            raise ArgumentError(
                f"{s.name}: {count} threshold(s) cannot be judged on a single replication (no confidence "
                f"interval); in CI mode ({why}) at least --replications 2 is needed"
            )


def _baselines(path: str, scenarios: list[Scenario]) -> dict[str, Previous]:
    """Each scenario's baseline. A reports folder that holds some of the scenarios' results but not all:
    the others (new in this change, say) are compared without one, said on stderr; holding none of
    them, it is exit 2 (a wrong folder, most likely)."""
    if path and _is_folder(path):
        missing = [s.name for s in scenarios if not _is_file(Path(path) / s.name / "results.json")]
        if len(missing) < len(scenarios):
            for name in missing:
                print(f"sim: warning: --baseline {path[:200]!r}: no {name}/results.json, so {name} is compared "
                      "without a baseline (a new scenario?)", file=sys.stderr)  # fmt: skip
            return {s.name: _previous(path, s) for s in scenarios if s.name not in missing}
    return {s.name: _previous(path, s) for s in scenarios}


def _is_folder(path: str) -> bool:
    try:
        return Path(path).is_dir()
    except OSError:  # a name too long: `_previous` says so
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _previous(path: str, scenario: Scenario) -> Previous:
    """The scenario's baseline: RESULTS itself, or RESULTS/<name>/results.json for a reports folder."""
    if not path:
        raise BaselineError("--baseline: an empty path, expected a results.json or a reports folder")
    try:
        folder = Path(path).is_dir()
        candidate = Path(path) / scenario.name / "results.json" if folder else Path(path)
        if folder and not candidate.exists():
            raise BaselineError(f"{path}: a folder without {scenario.name}/results.json")
        previous = load_previous(candidate)
    except OSError as error:  # a name too long, a folder we may not enter
        raise BaselineError(f"--baseline {path[:200]}: {error.strerror or error}") from None
    except BaselineError as error:
        raise BaselineError(f"--baseline {error}") from None
    if previous.scenario != scenario.name:
        raise BaselineError(
            f"--baseline {candidate}: the results of scenario {previous.scenario[:60]!r}, not {scenario.name!r}"
        )
    return previous


def _watched_metrics(args: argparse.Namespace) -> tuple[str, ...]:
    """The metrics of --fail-on-regression (checked by the parser); they need a baseline."""
    if args.fail_on_regression and args.baseline is None:
        raise ArgumentError("--fail-on-regression needs --baseline RESULTS to compare against")
    return args.fail_on_regression or ()


def _against_baseline(previous: Previous | None, c: Comparison, watched: tuple[str, ...]) -> BaselineDiff | None:
    """The changes against the baseline; what cannot be compared is said on stderr, never skipped silently."""
    if previous is None:
        return None
    diff = changes(previous, c, watched)
    for text in diff.not_compared:
        print(f"sim: warning: {c.scenario}: {text}", file=sys.stderr)
    return diff


def _regression_lines(diff: BaselineDiff | None) -> str:
    return "".join(
        f"\n  regressed: {ch.variant}.{ch.metric} {ch.old:.4g} → {ch.new:.4g} (significantly worse than the baseline)"
        for ch in (diff.regressions if diff else [])
    )


def _progress(scenario: Scenario, args: argparse.Namespace, cases: int = 1) -> Progress:
    first = next_count(0, scenario.max_replications) if scenario.precision else scenario.replications
    return Progress(cases * first * len(scenario.variants), scenario.name, enabled=not args.quiet)


@contextlib.contextmanager
def _records_folder(scenario: Scenario, out: Path) -> Iterator[Path | None]:
    """None when the records come back to the parent; else the folder the workers write them into."""
    if keeps_records(scenario):
        yield None
        return
    with records_staging(out, scenario.name) as folder:
        yield folder


def _replicate(
    scenario: Scenario,
    thresholds: dict[str, list[Threshold]],
    args: argparse.Namespace,
    progress: Progress,
    records: Records = DROP,  # a sweep's records are dropped: its report has no records.csv
) -> Comparison:
    scheduler = args.scheduler if args.executor == "dask" else None
    try:
        if scenario.precision:
            return run_until_precise(
                scenario,
                processes=args.processes or default_processes(),
                scheduler=scheduler,
                extra_thresholds=thresholds[scenario.name],
                on_done=progress.step,
                on_batch=lambda planned: progress.grow(planned * len(scenario.variants)),
                records=records,
            )
        return run_replications(
            scenario,
            processes=args.processes or default_processes(),
            scheduler=scheduler,
            extra_thresholds=thresholds[scenario.name],
            on_done=progress.step,
            records=records,
        )
    except DaskUnavailable as error:
        raise ScenarioError(str(error)) from None
    except OSError as error:
        if scheduler is None:
            raise
        raise ScenarioError(f"--scheduler {scheduler}: {error}") from None  # dask: "timed out trying to connect"


def _check_summary() -> None:
    """Before any simulation: GITHUB_STEP_SUMMARY, when set, names a regular file we can append to."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        os.close(_open_summary(summary))


IMAGE_LINE = re.compile(r"^!\[[^\]]*\]\([^)]*\)[ \t]*\n?", re.MULTILINE)  # `![caption](plot.png)`
WRITTEN = " (the report is written)"


def _publish_summary(text: str) -> None:
    """In GitHub Actions, show the report (Markdown) on the job's summary page.

    Without its plots: their links are relative to the report folder and would show as broken images there.
    """
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    data = (text + "\n").encode("utf-8")
    handle = _open_summary(summary, WRITTEN)
    try:
        while data:  # unbuffered: a failing write is reported here, not again by a close
            data = data[os.write(handle, data) :]
    except OSError as error:
        raise EnvironmentProblem(f"{_shown(summary)}: cannot append to it: {error.strerror}{WRITTEN}") from None
    finally:
        os.close(handle)


def _open_summary(summary: str, note: str = "") -> int:
    """A descriptor for appending to GITHUB_STEP_SUMMARY, if it is (or can be created as) a regular file.

    Anything else is refused without waiting: a FIFO would block an open for writing until a reader
    came (O_NONBLOCK), a link is not followed (O_NOFOLLOW), a device such as /dev/full is no summary.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        found: int | None = os.lstat(summary).st_mode
    except OSError:
        found = None  # missing (it is created) or unreachable (the open says why)
    if found is not None and not stat.S_ISREG(found):
        raise EnvironmentProblem(f"{_shown(summary)}: {_kind_of(found)}, not a file to append the report to{note}")
    try:
        handle = os.open(summary, flags, 0o644)
    except OSError as error:
        raise EnvironmentProblem(f"{_shown(summary)}: cannot append to it: {error.strerror}{note}") from None
    if not stat.S_ISREG(os.fstat(handle).st_mode):  # swapped for something else between the check and the open
        os.close(handle)
        raise EnvironmentProblem(f"{_shown(summary)}: not a file to append the report to{note}")
    os.set_blocking(handle, True)
    return handle


def _shown(summary: str) -> str:
    return f"GITHUB_STEP_SUMMARY={summary[:200]}"


def _kind_of(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a named pipe", stat.S_ISLNK: "a symbolic link",
             stat.S_ISCHR: "a device", stat.S_ISBLK: "a device", stat.S_ISSOCK: "a socket"}  # fmt: skip
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


def _headline(c: Comparison, diff: BaselineDiff | None) -> str:
    """The headlines and the threshold checks, as the report's first screen says them; then the summary line."""
    text = terminal.first_screen(document.first_screen(c, diff))
    return text + "\n" if text else ""


def _one_line(c: Comparison, out: Path) -> str:
    checks = f"{len(c.thresholds)} threshold checks"
    status = f"{len(c.breached)} of {checks} BREACHED" if c.breached else f"all {checks} passed"
    if not c.thresholds:
        status = "no thresholds"
    line = f"{c.scenario}: {len(c.estimates)} variants × {c.replications} replications, {status} → {out}/report.md"
    if c.stopping:
        line += f"\n  {document.stopping_text(c)}"
    for t in c.breached:
        said = "breached" if t.applicable else "not met"
        line += f"\n  {said}: {t.expression} for {t.variant}: {t.judged}"
    if any(t.single_run for t in c.thresholds):
        line += f"\n  note: thresholds {SINGLE_RUN} claim no confidence bound (use --replications 2 or more)"
    for text in c.violations:
        line += f"\n  INVARIANT BROKEN: {text}"
    return line
