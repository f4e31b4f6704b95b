"""Command line: argument parsing and exit codes only (`sim.core.errors.ExitCode`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

from sim.core.errors import ArgumentError, EnvironmentProblem, ExitCode, SimError
from sim.core.text import one_line
from sim.metrics.catalog import ALL_METRICS
from sim.scenario.limits import MAX_REPLICATIONS, MAX_SEED
from sim.terminal import console

if TYPE_CHECKING:
    from sim.experiment import VariantRun
    from sim.metrics.meaningful import Margin
    from sim.metrics.precision import Target
    from sim.scenario import Scenario

# What a command needs (SimPy, fakeredis, redis-py, matplotlib, scipy, Dask) is imported
# inside that command's handler, not here: `sim --help` and a mistyped argument answer
# in a tenth of a second instead of two (tests/test_startup.py holds that line).

MAX_BENCH_DAYS = 365  # `sim bench --days` (sim.bench.MAX_DAYS; the CLI does not import sim.bench to parse)
MAX_MEMORY_SIZES = 10  # run lengths of `sim bench --memory`
MAX_FIT_ROWS = 2_000_000  # `sim bench --fit`: the most rows `sim fit` reads (sim.logs.read.MAX_ROWS)
MIN_FIT_ROWS = 1_000
DEFAULT_BENCH = "reference-day"  # a bundled scenario's name: `sim bench` works from any folder


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # `--rep` is not `--replications`: a typo is an error
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_INPUT, f"{self.prog}: error: {one_line(message)}\n")


EXIT_CODES = """exit codes:
  0    ok
  1    a threshold not met: breached, or not applicable without 'or n/a' (or a
       significant, meaningful regression against --baseline)
  2    bad input or environment, found before any simulation ran (one line on stderr)
  3    the simulator broke one of its own invariants (a bug in sim or in the code under test)
  4    an internal error in sim (one line; the traceback is written to a file it names)
  5    sim live: the Redis server went away or refused writes during the run
  130  interrupted (Ctrl-C or SIGTERM): one line, the previous report kept

A closed stdout (`sim run … | head -1`) is not an error: the rest of the output
is dropped and the exit code is the one the command would have had."""

SCENARIO_HELP = "a scenario file, or a bundled scenario's name (e.g. magna)"

COMMANDS = {  # name → one line of help, in the order `sim` lists them
    "run": "simulate one replication of every variant and print the metrics",
    "compare": "replicate every variant, compare, write a report folder",
    "sweep": "run one variant over a grid of settings; heatmaps of the results",
    "tune": "search settings for the best configuration; confirm it on fresh replications",
    "live": "run the same code in real time against a real Redis server",
    "bench": "measure simulated messages per wall-second",
    "fit": "fit a scenario's traffic and latencies from production logs",
    "validate": "compare a scenario's simulation with production logs",
    "trace": "write a message log with hashed customer ids, to replay or commit",
    "schema": "print the JSON Schema of scenario files (for editors and CI)",
    "comment": "write a pull request's comment (Markdown) from sim compare's report folders",
}


def epilog() -> str:
    """Exit codes and metric names (for --threshold and --fail-on-regression), wrapped to 80 columns."""
    lines, line = ["metrics:"], " "
    for name in ALL_METRICS:
        if len(line) + len(name) + 2 > 80:
            lines.append(line)
            line = " "
        line += f" {name},"
    return EXIT_CODES + "\n\n" + "\n".join([*lines, line.rstrip(",")])


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sim",
        description="Load simulator for the chatbot's Redis lock and cache.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print sim's version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = commands.add_parser("run", help=COMMANDS["run"])
    run.add_argument("scenario", help=SCENARIO_HELP)
    run.add_argument("--variant", help="run only this variant")
    run.add_argument("--seed", type=_seed, help="override the scenario's seed")
    run.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    run.add_argument(
        "--trace", nargs="?", const="-", metavar="FILE",
        help="write the production log lines on simulated time to stderr, or to FILE (stdout keeps the metrics)",
    )  # fmt: skip
    run.add_argument("--check-determinism", action="store_true", help="run twice and compare every record")
    run.set_defaults(handler=_run)

    compare = commands.add_parser("compare", help=COMMANDS["compare"])
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or bundled names")
    compare.add_argument(
        "--out", type=_folder, default="reports", help="reports go to OUT/<scenario name>/ (default: reports)"
    )
    compare.add_argument(
        "--threshold", action="append", default=[], metavar="EXPR",
        help="e.g. 'busy_rate<1%%', 'after.latency_p95_s<60s' or 'change(after.busy_rate)<=-50%%'; repeatable; "
        "judged on the 95%% CI bound",
    )  # fmt: skip
    compare.add_argument("--baseline", metavar="RESULTS", help="a previous results.json (or a reports folder)")
    compare.add_argument(
        "--fail-on-regression", type=_regression_metrics, metavar="METRIC[,METRIC…]",
        help="exit 1 when one of these metrics is significantly worse than in --baseline, e.g. busy_rate,latency_p95_s",
    )  # fmt: skip
    compare.add_argument(
        "--ci", action="store_true",
        help="CI mode (also when the CI environment variable is true): thresholds need --replications 2 or more",
    )  # fmt: skip
    compare.add_argument(
        "--sensitivity", nargs="?", const="one-at-a-time", choices=("one-at-a-time", "full"),
        help="also rerun the comparison under other workload assumptions, one at a time (default) or every "
        "combination; writes sensitivity.md and .json beside the report",
    )  # fmt: skip
    _meaningful_option(compare)
    compare.add_argument("--axes", metavar="NAME,…", help="with --sensitivity: the assumptions to vary (default: all)")
    compare.add_argument("--claims", metavar="SET", help="with --sensitivity: claims to check in every case (seed)")
    _replication_options(compare)
    compare.add_argument(
        "--precision", type=_precision, metavar="METRIC=HALF_WIDTH[,…]",
        help="replicate until each paired difference's 95%% CI half-width is at most this, e.g. "
        "busy_rate=0.2%%,latency_answered_p95_s=1s (replaces --replications)",
    )  # fmt: skip
    compare.add_argument(
        "--max-replications", type=_max_replications, metavar="N",
        help="with --precision: stop at N replications at most (default: the scenario's max_replications, else 100)",
    )  # fmt: skip
    compare.set_defaults(handler=_compare)

    sweep = commands.add_parser("sweep", help=COMMANDS["sweep"])
    sweep.add_argument("scenario", help=SCENARIO_HELP)
    sweep.add_argument(
        "--grid", action="append", required=True, metavar="KEY=V1,V2,…",
        help="a setting and its values, e.g. lock.timeout=30s,45s,60s; repeat for more axes",
    )  # fmt: skip
    sweep.add_argument("--variant", help="the variant the grid starts from (default: the baseline)")
    sweep.add_argument("--out", type=_folder, default="reports", help="report goes to OUT/<scenario name>-sweep/")
    _replication_options(sweep)
    sweep.set_defaults(handler=_sweep)

    tune = commands.add_parser("tune", help=COMMANDS["tune"])
    tune.add_argument("scenario", help=SCENARIO_HELP)
    tune.add_argument(
        "--space", action="append", default=[], metavar="KEY=LOW..HIGH[:log][:int]|KEY=V1,V2,…",
        help="a setting to search, e.g. lock.timeout=10s..120s or lock.fair=true,false; replaces [tune]space",
    )  # fmt: skip
    tune.add_argument(
        "--objective", action="append", default=[], metavar="EXPR",
        help="to minimise: a metric or a cost such as 'redis_commands*1e-6 + busy*0.5'; two or more: a Pareto front",
    )  # fmt: skip
    tune.add_argument(
        "--constraint", action="append", default=[], metavar="EXPR",
        help="e.g. 'busy_rate<0.01', judged on the 95%% CI bound; replaces [tune]constraints",
    )  # fmt: skip
    tune.add_argument("--trials", type=_trials, help="candidates to evaluate (default: [tune]trials, else 30)")
    tune.add_argument("--budget", type=_budget, metavar="DURATION", help="wall time for the search, e.g. 10m")
    tune.add_argument(
        "--delta", type=_delta, help="the indifference zone δ in objective units (default: 1%% of the leader)"
    )
    tune.add_argument(
        "--variant", help="the variant to start from and compare with (default: [tune]variant, else the baseline)"
    )
    tune.add_argument("--out", type=_folder, default="reports", help="report goes to OUT/<scenario name>-tune/")
    _replication_options(tune)
    tune.set_defaults(handler=_tune)

    live = commands.add_parser("live", help=COMMANDS["live"])
    live.add_argument("scenario", help=SCENARIO_HELP)
    live.add_argument("--redis", required=True, metavar="URL", help="e.g. redis://127.0.0.1:6379/0")
    live.add_argument(
        "--time-scale", type=_time_scale, default=1.0,
        help="multiply every duration, from 0.001 to 1000 (default 1)",
    )  # fmt: skip
    live.add_argument("--variant", help="run only this variant")
    live.add_argument("--seed", type=_seed, help="override the scenario's seed")
    live.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    live.add_argument("--quiet", action="store_true", help="no progress (messages served) on stderr")
    live.set_defaults(handler=_live)

    bench = commands.add_parser("bench", help=COMMANDS["bench"])
    bench.add_argument(
        "scenario", nargs="?",
        help=f"{SCENARIO_HELP}; default: {DEFAULT_BENCH}, by the built-in bot and by the same bot as a team's handler",
    )  # fmt: skip
    bench.add_argument("--variant", help="the variant to time (default: the first)")
    bench.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    bench.add_argument("--redis-path", choices=("direct", "redis-py"), default="direct", help="default: direct")
    bench.add_argument("--quiet", action="store_true", help="no progress on stderr")
    bench.add_argument("--days", type=_days, help="run the scenario's rates for N simulated days (1 to 365)")
    bench.add_argument(
        "--memory", nargs="?", const="1,7,30", type=_day_list, metavar="DAYS,…",
        help="peak memory of one run of each length (default 1,7,30 days), each in a fresh process, "
        "and the MiB per million messages",
    )  # fmt: skip
    bench.add_argument(
        "--fit", nargs="?", const=MAX_FIT_ROWS, type=_fit_rows, metavar="ROWS",
        help=f"time sim fit on a made-up log of ROWS rows (default {MAX_FIT_ROWS:,}, the limit), each customer model "
        "in a fresh process on one core",
    )  # fmt: skip
    bench.set_defaults(handler=_bench)
    _fit_commands(commands)
    comment = commands.add_parser("comment", help=COMMANDS["comment"])
    comment.add_argument(
        "reports", nargs="+", metavar="REPORTS", help="report folders (OUT/<name>), or folders of them (OUT)"
    )
    comment.add_argument(
        "--artifact-url", type=_artifact_url, metavar="URL",
        help="where the run's artifact with the full reports and plots is (linked from the comment)",
    )  # fmt: skip
    comment.add_argument("--out", metavar="FILE", help="write the comment to FILE (default: stdout)")
    comment.set_defaults(handler=_comment)
    return parser


def _fit_commands(commands: Any) -> None:
    """`sim fit`, `sim validate` (their bodies: sim/fit/commands.py) and `sim trace` (sim/fit/anonymise.py)."""
    fit = commands.add_parser("fit", help=COMMANDS["fit"])
    fit.add_argument("logs", nargs="+", metavar="LOGS", help="message and service-call logs (.csv, .jsonl)")
    fit.add_argument("--out", required=True, metavar="SCENARIO.toml", help="the scenario file to write")
    fit.add_argument("--report", type=_folder, metavar="DIR", help="write the fit report to DIR/<name>-fit/")
    fit.add_argument(
        "--session-gap", type=_duration, default=600.0, metavar="DURATION",
        help="silence that ends a customer's session (default 10m)",
    )  # fmt: skip
    fit.add_argument(
        "--cache-ttl", type=_duration, default=300.0, metavar="DURATION",
        help="returns within it are counted as possible cache hits (default 300s)",
    )  # fmt: skip
    fit.add_argument(
        "--customers", choices=("bursts", "conversations"), default="bursts",
        help="write open-loop bursts (default) or customers who wait for answers ([workload.conversations]; "
        "needs reply_s in the message log)",
    )  # fmt: skip
    _log_options(fit)
    fit.add_argument(
        "--force", action="store_true",
        help="replace existing files sim did not write (a hand-written scenario at --out); never an input",
    )  # fmt: skip
    fit.set_defaults(handler=_fit)

    validate = commands.add_parser("validate", help=COMMANDS["validate"])
    validate.add_argument("scenario", help=SCENARIO_HELP)
    validate.add_argument("logs", nargs="+", metavar="LOGS", help="message and service-call logs (.csv, .jsonl)")
    validate.add_argument("--variant", help="production's configuration (default: the scenario's baseline)")
    validate.add_argument(
        "--require", action="append", default=[], metavar="METRIC",
        choices=("busy_share", "reply_p50_s", "reply_p95_s", "crm_calls_per_message", "cache_hit_ratio"),
        help="exit 1 when this metric is outside the prediction interval; repeatable",
    )  # fmt: skip
    validate.add_argument("--out", type=_folder, metavar="DIR", help="write DIR/<name>-validation/")
    validate.add_argument("--replications", type=_replications, help="override the scenario's replications")
    validate.add_argument("--seed", type=_seed, help="override the scenario's seed")
    validate.add_argument("--processes", type=_processes, help="default: 1")
    _log_options(validate)
    validate.set_defaults(handler=_validate)

    trace = commands.add_parser("trace", help=COMMANDS["trace"])
    trace.add_argument("logs", nargs="+", metavar="LOGS", help="message logs (.csv, .jsonl); call rows are left out")
    trace.add_argument("--out", required=True, metavar="TRACE.csv", help="the anonymised message log to write")
    trace.add_argument(
        "--salt-file", metavar="FILE",
        help="the secret the ids are hashed with (default: a random one, not kept)",
    )  # fmt: skip
    _log_options(trace)
    trace.add_argument(
        "--force", action="store_true", help="replace an existing file sim did not write; never an input"
    )
    trace.set_defaults(handler=_trace)

    schema = commands.add_parser("schema", help=COMMANDS["schema"])
    schema.add_argument(
        "--markdown", action="store_true",
        help="print the scenario-file reference page instead (docs/reference/scenario-file.md)",
    )  # fmt: skip
    schema.set_defaults(handler=_schema)


def _log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--columns", metavar="FIELD=COLUMN,…", help="your column names, e.g. timestamp=ts,customer=conv"
    )
    parser.add_argument("--timezone", metavar="ZONE", help="for timestamps without one, and hours of day (default UTC)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _fit(args: argparse.Namespace) -> int:
    from sim.fit.commands import run_fit

    return run_fit(args)


def _validate(args: argparse.Namespace) -> int:
    from sim.fit.commands import run_validate

    return run_validate(args)


def _trace(args: argparse.Namespace) -> int:
    from sim.fit.anonymise import run_trace

    return run_trace(args)


def _schema(args: argparse.Namespace) -> int:
    """The scenario file's keys as a JSON Schema, or as the docs' reference page: from the table the loader checks."""
    if args.markdown:
        from sim.scenario.schema_docs import markdown

        sys.stdout.write(markdown())
    else:
        from sim.scenario.schema import json_text

        sys.stdout.write(json_text())
    return ExitCode.OK


def _comment(args: argparse.Namespace) -> int:
    from sim.report.comment import render, sections

    if args.out is not None:
        _check_ours("--out", args.out, COMMENT_MARK)  # before reading: it may name one of the reports
    body = render(sections(args.reports), args.artifact_url)
    if args.out is None:
        sys.stdout.write(body)
        return ExitCode.OK
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(body)
    except OSError as error:
        raise EnvironmentProblem(f"--out {args.out[:200]!r}: cannot write: {error.strerror or error}") from None
    return ExitCode.OK


ARTIFACT_URL = re.compile(r"https?://[^\s()<>\[\]\\`]{1,2000}")


def _artifact_url(text: str) -> str:
    """A plain http(s) URL, with nothing that could end or bend a Markdown link."""
    if not ARTIFACT_URL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected an http(s) URL without spaces or brackets, got {text[:80]!r}")
    return text


def _duration(text: str) -> float:
    from sim.core.durations import MAX_DURATION, parse_duration

    seconds = parse_duration(text)
    if seconds is None or not 0 < seconds <= MAX_DURATION:
        raise argparse.ArgumentTypeError(f"expected a duration such as '10m' or '300s', got {text[:40]!r}")
    return seconds


class _Version(argparse.Action):
    """`--version`, looked up only when asked for (importlib.metadata scans every installed package)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"sim {version()}")
        parser.exit(ExitCode.OK)


def version() -> str:
    """The installed distribution's version; the package's own when it runs from a source tree."""
    from importlib import metadata

    import sim

    try:
        return metadata.version("sim")
    except metadata.PackageNotFoundError:
        return sim.__version__


def usage() -> str:
    """What a bare `sim` says: the usage line and the commands, one line each."""
    width = max(map(len, COMMANDS))
    listed = "\n".join(f"  {name:<{width}}  {text}" for name, text in COMMANDS.items())
    return f"{build_parser().format_usage()}\ncommands:\n{listed}\n\n`sim COMMAND --help` for a command's options"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; every way it can end is one exit code (see EXIT_CODES)."""
    console.replace_what_the_console_cannot_show()
    if argv is None:  # the `sim` command itself, not a caller inside a process: it may restart itself
        from sim.code import hash_seed

        hash_seed.may_restart = True
    with console.sigterm_as_ctrl_c(), console.guarded_output() as output:
        code = _command(argv)
    return output.settled(code)


def _command(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            console.say(usage())
            return ExitCode.BAD_INPUT
        return int(args.handler(args))
    except SystemExit as done:  # argparse: --help (0) or a bad argument (2, its one line already printed)
        return int(done.code or 0)
    except SimError as error:
        console.say(f"sim: error: {one_line(str(error))}")  # whatever a path or URL in it holds: one line
        return error.exit_code
    except KeyboardInterrupt:
        console.say("sim: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as error:  # noqa: BLE001 - anything else is a bug in sim: say so, keep the traceback
        console.say(one_line(f"sim: internal error (a bug in sim): {type(error).__name__}; {console.crash_report()}"))
        return ExitCode.INTERNAL


def _run(args: argparse.Namespace) -> int:
    from sim.commands.compare import load_and_warn
    from sim.experiment import run_once, select
    from sim.report.terminal import run_json, run_table

    scenario = select(load_and_warn(args.scenario), args.variant, args.seed)
    with _trace_output(args.trace) as trace_out:  # opened before the run: a bad FILE costs no simulation
        results = run_once(scenario, trace=trace_out is not None)
        for name, result in results.items():
            if trace_out is not None:
                trace_out.write(f"--- {name} ---\n" + "".join(f"{line}\n" for line in result.run.trace))
    metrics = {name: result.metrics for name, result in results.items()}
    print(run_json(scenario, metrics) if args.json else run_table(scenario, metrics))
    broken = [f"{name}: {text}" for name, result in results.items() for text in result.run.violations]
    if args.check_determinism:
        broken += _determinism_problems(scenario, results)
    for text in broken:
        print(f"sim: INVARIANT BROKEN: {text}", file=sys.stderr)
    return ExitCode.BROKEN if broken else ExitCode.OK


TRACE_MARK = "--- "  # a trace file's first line: `--- VARIANT ---`
COMMENT_MARK = "<!-- sim compare comment -->"  # sim comment's first line (sim.report.comment.MARKER)


def _check_ours(flag: str, target: str, mark: str) -> None:
    """An output file replaces only a file sim wrote: never the scenario's log, a report's results.json, a link."""
    from sim.core.files import NotOurs, check_replaceable

    try:
        check_replaceable(target, mark)
    except NotOurs as error:
        raise ArgumentError(f"{flag} {target[:200]}: {error}") from None


@contextlib.contextmanager
def _trace_output(target: str | None) -> Iterator[IO[str] | None]:
    """Where `--trace` goes: nowhere (None), stderr ("-") or FILE, opened for writing before the run."""
    if target is None or target == "-":
        yield None if target is None else sys.stderr
        return
    if target.endswith(".toml"):  # `sim run --trace magna.toml` meant the scenario: never overwrite it
        raise ArgumentError(f"--trace {target[:200]}: a trace file ending in .toml (put the scenario first?)")
    _check_ours("--trace", target, TRACE_MARK)
    try:
        out = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as error:
        raise EnvironmentProblem(f"--trace {target[:200]}: cannot write: {error.strerror or error}") from None
    written = _FailingWrites(out, target)
    try:
        yield cast(IO[str], written)
    finally:
        written.close()


class _FailingWrites:
    """The trace file: a write or the closing flush that fails (a full disk, /dev/full) is exit 2 naming --trace."""

    def __init__(self, out: IO[str], target: str) -> None:
        self._out, self._target = out, target

    def write(self, text: str) -> int:
        with self._named():
            return self._out.write(text)

    def close(self) -> None:
        with self._named():
            self._out.close()

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            with contextlib.suppress(OSError):
                self._out.close()  # its buffer is lost with the disk; a second failure must not hide the first
            raise EnvironmentProblem(f"--trace {self._target[:200]}: cannot write: {error.strerror or error}") from None


def _determinism_problems(scenario: Scenario, first: dict[str, VariantRun]) -> list[str]:
    from sim.experiment import run_once

    second = run_once(scenario)
    problems = []
    for name, result in first.items():
        again = second[name].run.records
        differing = [a.message for a, b in zip(result.run.records, again, strict=False) if a != b]
        if differing or len(again) != len(result.run.records):
            problems.append(f"{name}: not deterministic, records differ from message {differing[:1]}")
        else:
            print(f"{name}: deterministic, {len(again)} records identical in two runs", file=sys.stderr)
    return problems


def _compare(args: argparse.Namespace) -> int:
    from sim.commands.compare import run_compare

    return run_compare(args)


def _sweep(args: argparse.Namespace) -> int:
    from sim.commands.compare import run_sweep

    return run_sweep(args)


def _tune(args: argparse.Namespace) -> int:
    from sim.tune.command import run_tune

    return run_tune(args)


def _bench(args: argparse.Namespace) -> int:
    from sim.bench import PHASES, bench, stretched
    from sim.commands.compare import load_and_warn
    from sim.terminal.progress import Progress

    if args.fit is not None:
        return _bench_fit(args)
    if args.scenario is None and args.memory is None and args.days is None and args.variant is None:
        return _bench_pair(args)
    scenario = load_and_warn(args.scenario or DEFAULT_BENCH)
    if args.memory is not None:
        return _bench_memory(args, scenario)
    if args.days is not None:
        scenario = stretched(scenario, args.days)
    with Progress(PHASES, f"{scenario.name} bench", unit="phases", enabled=not args.quiet) as progress:
        figures = bench(scenario, args.variant, args.redis_path, on_phase=progress.step).as_dict()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print("\n".join(f"{key:<28}{value}" for key, value in figures.items()))
    return ExitCode.OK


def _bench_pair(args: argparse.Namespace) -> int:
    from sim.bench import PAIR, bench_pair, pair_table
    from sim.scenario.bundled import EXAMPLES, resolve
    from sim.terminal.progress import Progress

    paths = (resolve(PAIR[0]), str(EXAMPLES / PAIR[1]))
    with Progress(
        len(paths), "reference day, built-in bot and team handler", unit="benches", enabled=not args.quiet
    ) as p:
        builtin, handler = bench_pair(paths, args.redis_path, on_phase=p.step)
    if args.json:
        print(json.dumps({"builtin": builtin.as_dict(), "handler": handler.as_dict()}, indent=2))
    else:
        print(pair_table(builtin, handler))
    return ExitCode.OK


def _bench_fit(args: argparse.Namespace) -> int:
    from sim.bench.fit import MODES, as_json, fit_speed
    from sim.terminal.progress import Progress

    if args.days is not None or args.memory is not None:
        raise ArgumentError("--fit times sim fit on a log of its own: give it without --days or --memory")
    with Progress(len(MODES), f"sim fit on {args.fit:,} rows", unit="modes", enabled=not args.quiet) as progress:
        speed = fit_speed(args.fit, on_mode=progress.step)
    print(as_json(speed) if args.json else speed.table())
    return ExitCode.OK


def _bench_memory(args: argparse.Namespace, scenario: Scenario) -> int:
    from sim.bench.memory import memory_curve
    from sim.terminal.progress import Progress

    if args.days is not None:
        raise ArgumentError("--days and --memory: give --memory the lengths to run, e.g. --memory 1,3")
    days = sum(args.memory)  # progress by simulated day: a 30-day run takes 30 times as long as one day
    with Progress(days, f"{scenario.name} memory", unit="simulated days", enabled=not args.quiet) as progress:
        curve = memory_curve(scenario, args.variant, args.redis_path, args.memory, on_size=progress.step)
    print(json.dumps(curve.as_dict(), indent=2) if args.json else curve.table())
    return ExitCode.OK


def _live(args: argparse.Namespace) -> int:
    from sim.commands.compare import load_and_warn
    from sim.experiment import select
    from sim.live import LiveRun, check_live, connect, fail_if_redis_failed, live_comparison, run_live
    from sim.live.code import check_live_code, run_live_code
    from sim.metrics.summary import summarize
    from sim.report.terminal import headline_lines, run_json, run_table

    scenario = select(load_and_warn(args.scenario), args.variant, args.seed)
    check_live(scenario)
    check_live_code(scenario, args.time_scale)
    client = connect(args.redis)  # before any thread starts: a bad URL or server is exit 2
    runs: list[LiveRun] = []
    for variant in scenario.variants:
        if variant.code is not None:
            runs.append(run_live_code(scenario, variant, client, args.redis, progress=not args.quiet))
        else:
            runs.append(run_live(scenario, variant, client, args.time_scale, progress=not args.quiet))
        if runs[-1].failure():
            break  # the server failed: the other variants would only count more errors
    metrics = {run.result.variant: summarize(run.result.records) for run in runs}
    head = headline_lines(live_comparison(scenario, runs))
    print(run_json(scenario, metrics) if args.json else head + run_table(scenario, metrics))
    fail_if_redis_failed(runs)  # before the invariants: records made while Redis failed prove nothing
    broken = [f"{run.result.variant}: {text}" for run in runs for text in run.result.violations]
    for text in broken:
        print(f"sim: INVARIANT BROKEN: {text}", file=sys.stderr)
    return ExitCode.BROKEN if broken else ExitCode.OK


def _time_scale(text: str) -> float:
    from sim.live import check_time_scale  # only `sim live --time-scale` pays for redis-py and SimPy

    try:
        return check_time_scale(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _replication_options(parser: argparse.ArgumentParser) -> None:
    """What `compare` and `sweep` share: how many replications, from which seed, run where."""
    parser.add_argument("--replications", type=_replications, help="override the scenario's replications")
    parser.add_argument("--seed", type=_seed, help="override the scenario's seed")
    parser.add_argument("--processes", type=_processes, help="default: all cores")
    parser.add_argument("--executor", choices=("local", "dask"), default="local", help="where replications run")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler, with --executor dask")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _meaningful_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--meaningful", type=_margins, metavar="METRIC=MARGIN[,…]",
        help="the smallest difference that matters, per metric, over [scenario]meaningful: e.g. "
        "latency_p95_s=500ms,busy_rate=0.1%%,crm_calls=5%% relative (default: 100 ms for times, 1%% of the "
        "baseline's mean for the rest); smaller differences are 'no meaningful difference'",
    )  # fmt: skip


def _margins(text: str) -> tuple[Margin, ...]:
    from sim.metrics.meaningful import parse_margins

    try:
        return parse_margins(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _regression_metrics(text: str) -> tuple[str, ...]:
    from sim.metrics.baseline import regression_metrics

    try:
        return regression_metrics(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


MAX_PROCESSES = 1024  # more workers than any machine has cores only costs memory


def _whole_number(text: str, low: int, high: int) -> int:
    """An argument that must be a whole number from `low` to `high`, both included."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high:,}, got {text!r}")
    return value


def _folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a folder name (an empty one would mean the current folder)")
    return text


def _seed(text: str) -> int:
    return _whole_number(text, 0, MAX_SEED)  # numpy's SeedSequence refuses negative seeds


def _days(text: str) -> int:
    return _whole_number(text, 1, MAX_BENCH_DAYS)


def _day_list(text: str) -> tuple[int, ...]:
    """`--memory 1,3`: run lengths in days, each from 1 to MAX_BENCH_DAYS."""
    parts = text.split(",")
    if len(parts) > MAX_MEMORY_SIZES:
        raise argparse.ArgumentTypeError(f"at most {MAX_MEMORY_SIZES} run lengths, got {len(parts)}")
    return tuple(_days(part.strip()) for part in parts)


def _fit_rows(text: str) -> int:
    return _whole_number(text, MIN_FIT_ROWS, MAX_FIT_ROWS)


def _replications(text: str) -> int:
    return _whole_number(text, 1, MAX_REPLICATIONS)  # the same limit as [scenario]replications


def _max_replications(text: str) -> int:
    return _whole_number(text, 2, MAX_REPLICATIONS)  # a precision needs an interval: 2 at least


def _precision(text: str) -> tuple[Target, ...]:
    from sim.metrics.precision import parse_targets

    try:
        return parse_targets(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _trials(text: str) -> int:
    return _whole_number(text, 1, 10_000)  # [tune]trials' limit


def _budget(text: str) -> float:
    from sim.tune.command import budget

    return budget(text)


def _delta(text: str) -> float:
    from sim.tune.command import delta

    return delta(text)


def _processes(text: str) -> int:
    return _whole_number(text, 1, MAX_PROCESSES)
