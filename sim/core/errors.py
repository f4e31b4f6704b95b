"""Every error `sim` reports to its user, and the exit code each one means.

A `SimError` is somebody else's fault — a scenario file, an argument, a baseline
file, the machine or a Redis server — and is reported as one line. Anything else
that escapes a command is a bug in `sim` (exit 4, traceback written to a file).
The CLI maps these to exit codes in one place (`sim.cli.main`).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    BREACHED = 1  # a threshold was breached, or a significant regression against a baseline
    BAD_INPUT = 2  # bad input or environment, found before any simulation ran; one line on stderr
    BROKEN = 3  # the simulator broke one of its own invariants (or a run was not deterministic)
    INTERNAL = 4  # a bug in sim: one line, and the traceback in a file
    LIVE_REDIS_FAILED = 5  # `sim live`: the Redis server went away or refused writes during the run
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class SimError(Exception):
    """Bad input or environment; the message is one line and names the culprit."""

    exit_code = ExitCode.BAD_INPUT


class ScenarioError(SimError):
    """A scenario file (or a setting given on the command line in its terms) is invalid."""


class ArgumentError(SimError):
    """A command-line argument is invalid."""


class BaselineError(SimError):
    """A previous results file given with `--baseline` cannot be read or compared."""


class EnvironmentProblem(SimError):
    """The machine cannot do what was asked: an unwritable folder, an unreachable server."""


class LiveRedisFailed(SimError):
    """A live run's Redis server went away or refused writes while the run was under way."""

    exit_code = ExitCode.LIVE_REDIS_FAILED
