"""`sim tune`: the study from the scenario's [tune] section and the flags, checked before any
simulation; the search; the confirmation; the report folder `OUT/<name>-tune/`."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
from pathlib import Path

from sim.core.durations import parse_duration
from sim.core.errors import ArgumentError, ExitCode, ScenarioError
from sim.experiment import select
from sim.experiment.capacity import local_processes
from sim.experiment.cluster import check_executor
from sim.metrics.tuning import TuneResult
from sim.report import tune as tune_report
from sim.report.folder import prepare, write_atomically
from sim.scenario.model import Scenario
from sim.scenario.tune import (
    MAX_BUDGET,
    MAX_RUNS,
    TuneSettings,
    TuneSpecError,
    check_settings,
    parse_constraint,
    parse_cost,
    parse_dimension,
)
from sim.scenario.work import largest_run
from sim.terminal.progress import Progress
from sim.tune import journal, sensitivity
from sim.tune.confirm import TUNED, Confirmation, confirm, finalists
from sim.tune.evaluate import Runner
from sim.tune.search import Evaluated, Plan, search
from sim.tune.space import check_corners
from sim.tune.toml_block import variant_table

DELTA_SHARE = 0.01  # without [tune]delta: 1 % of the leader's cost


def run_tune(args: argparse.Namespace) -> int:
    from sim.commands.compare import load_and_warn  # the shared loader (warnings on stderr)

    check_executor(args)
    scenario = select(load_and_warn(args.scenario), seed=args.seed)
    scenario = dataclasses.replace(scenario, tune=settings(scenario, args))
    plan = _plan(scenario, args)
    check_corners(scenario, plan.base, plan.tune.space)
    out, name = Path(args.out), f"{scenario.name}-tune"
    prepare(out, name)
    with journal.sole_writer(out, scenario.name):
        folder, result, done = _study(plan, args, out, name)
    print(f"{scenario.name}: {len(done)} trials → {folder}/report.md\n{tune_report.terminal_headline(result)}")
    broken = result.comparison.violations if result.comparison else []
    for text in broken:
        print(f"  INVARIANT BROKEN: {text}")
    return ExitCode.BROKEN if broken else ExitCode.OK if result.chosen else ExitCode.BREACHED


def _study(plan: Plan, args: argparse.Namespace, out: Path, name: str) -> tuple[Path, TuneResult, list[Evaluated]]:
    """The search, its confirmation and the report folder, by the study's sole writer."""
    scenario = plan.scenario
    file = journal.path(out, scenario.name)
    study = journal.open_study(
        file, journal.study_name(scenario, plan.base, plan.replications), len(plan.tune.objectives)
    )
    runner = Runner(processes=local_processes(args, largest_run([scenario])) or 1, scheduler=_scheduler(args))
    with Progress(plan.trials, f"{scenario.name} tune", unit="trials", enabled=not args.quiet) as progress:
        resumed = len([t for t in study.trials if t.state.is_finished()])
        try:
            done, stopped = search(plan, study, runner, progress.step)
        except journal.Unreadable as error:
            raise journal.unreadable(file, str(error)) from None
        progress.stage("confirming on fresh replications")
        result = _confirmed(plan, done, stopped, resumed, runner)
        progress.stage("writing report")
        folder = write_atomically(out, name, functools.partial(tune_report.write, result))
    return folder, result, done


def settings(scenario: Scenario, args: argparse.Namespace) -> TuneSettings:
    """[tune] with the flags over it (a flag given replaces the file's list); exit 2 on any error."""
    file = scenario.tune
    if file is None and not args.space:
        raise ScenarioError(f"{scenario.path}: no [tune] section, and no --space: nothing to search")
    try:
        space = tuple(parse_dimension(s) for s in args.space) if args.space else file.space if file else ()
        objectives = tuple(parse_cost(o) for o in args.objective) if args.objective else file.objectives if file else ()
        constraints = tuple(parse_constraint(c) for c in args.constraint) if args.constraint else ()
    except TuneSpecError as error:
        raise ArgumentError(f"--space/--objective/--constraint: {error}") from None
    base = file or TuneSettings(variant=None, space=space, objectives=objectives)
    merged = dataclasses.replace(
        base,
        variant=args.variant or base.variant,
        space=space,
        objectives=objectives,
        constraints=constraints or base.constraints,
        trials=args.trials or base.trials,
        budget=args.budget if args.budget is not None else base.budget,
        delta=args.delta if args.delta is not None else base.delta,
    )
    try:
        check_settings(merged)
    except TuneSpecError as error:
        key = error.args[1] if len(error.args) > 1 else "space"
        raise ArgumentError(f"[tune]{key} / --{key.rstrip('s')}: {error.args[0]}") from None
    return merged


def _plan(scenario: Scenario, args: argparse.Namespace) -> Plan:
    tune = scenario.tune
    assert tune is not None
    base = tune.variant or scenario.baseline
    scenario.variant(base)  # an unknown --variant is exit 2 here
    replications = args.replications or tune.replications or scenario.replications
    if replications < 2:
        raise ArgumentError("sim tune needs at least 2 replications per candidate (a CI needs two)")
    if tune.trials * replications > MAX_RUNS:
        raise ArgumentError(
            f"{tune.trials:,} trials × {replications:,} replications is {tune.trials * replications:,} runs; "
            f"the limit is {MAX_RUNS:,} (fewer trials or replications)"
        )
    return Plan(
        scenario=scenario, base=base, tune=tune, replications=replications, trials=tune.trials, budget=tune.budget
    )


def _confirmed(plan: Plan, done: list[Evaluated], stopped: str, resumed: int, runner: Runner) -> TuneResult:
    tune = plan.tune
    leaders = finalists(done, tune.finalists, len(tune.objectives))
    if not leaders:  # every candidate was dropped: the least bad ones are still worth a fresh look
        leaders = sorted((e for e in done if e.repeat_of is None), key=lambda e: e.sample.means())[: tune.finalists]
    delta = tune.delta or max(DELTA_SHARE * abs(leaders[0].sample.means()[0]), 1e-9)
    c: Confirmation = confirm(plan, leaders, runner, delta)
    records = tuple(e.record() for e in done)
    importance = sensitivity.importance(tune.space, records)
    return TuneResult(
        scenario=plan.scenario.name,
        seed=plan.scenario.seed,
        base=plan.base,
        space=tuple(_space_text(d) for d in tune.space),
        objectives=tuple(o.text for o in tune.objectives),
        constraints=tuple(t.expression for t in tune.constraints),
        trials=records,
        stopped_by=stopped,
        resumed=min(resumed, len(done)),
        finalists=c.finalists,
        chosen=c.chosen,
        guarantee=c.guarantee,
        toml=variant_table(c.variant, TUNED, plan.base),
        sensitivity=importance.shares if importance else {},
        unexplained=importance.unexplained if importance else None,
        comparison=c.comparison,
        base_fresh=c.base_fresh,
        gains=c.gains,
    )


def _space_text(d: object) -> str:
    from sim.scenario.tune import Choice, Range
    from sim.tune.space import render

    if isinstance(d, Choice):
        return f"{d.key}={','.join(d.values)}"
    assert isinstance(d, Range)
    flags = (":log" if d.log else "") + (":int" if d.integer else "")
    return f"{d.key}={render(d, d.low)}..{render(d, d.high)}{flags}"


def budget(text: str) -> float:
    """--budget 10m: wall time for the search (the confirmation runs after it)."""
    seconds = parse_duration(text)
    if seconds is None or not 0 < seconds <= MAX_BUDGET or math.isnan(seconds):
        raise argparse.ArgumentTypeError(f"expected a duration from 1s to 7 days such as '10m', got {text[:40]!r}")
    return seconds


def delta(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text[:40]!r}") from None
    if not 0 < value <= 1e15:
        raise argparse.ArgumentTypeError(f"expected a number > 0 and at most 1e15, got {text[:40]!r}")
    return value


def _scheduler(args: argparse.Namespace) -> str | None:
    return str(args.scheduler) if args.executor == "dask" else None
