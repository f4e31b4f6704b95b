"""How a command meets its process: the console's streams and encoding, signals, crash reports.

`sim.cli` parses arguments and maps outcomes to exit codes; this module keeps that
promise honest at the edges — a cp1252 console, a closed pipe, a SIGTERM from CI, a
temp folder that cannot be written — so that every way a command ends is still one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO, cast


def replace_what_the_console_cannot_show() -> None:
    """A cp1252 console cannot show '→' or '×': a '?' beats a crash."""
    for stream in (sys.stdout, sys.stderr):
        getattr(stream, "reconfigure", lambda **_: None)(errors="replace")


def say(line: str) -> None:
    """One line on stderr, whatever its encoding can show (a cp1252 console cannot show '→')."""
    print(line.encode(sys.stderr.encoding or "utf-8", "replace").decode(sys.stderr.encoding or "utf-8"),
          file=sys.stderr)  # fmt: skip


def crash_report() -> str:
    """Writes the current traceback to a file in the temp folder and says where; never raises.

    It runs inside the exit-4 handler: a full or unwritable temp folder must not turn one line into two tracebacks.
    """
    path = ""
    try:
        handle, path = tempfile.mkstemp(prefix="sim-crash-", suffix=".txt")
        with open(handle, "w", encoding="utf-8") as f:
            traceback.print_exc(file=f)
    except Exception as error:  # noqa: BLE001 - an OSError, or anything else: the one line must still come out
        with contextlib.suppress(OSError):
            if path:
                os.unlink(path)  # an empty or cut traceback file would only mislead
        reason = getattr(error, "strerror", None) or type(error).__name__
        return f"traceback could not be written ({reason})"
    return f"traceback written to {path}"


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (what CI sends to cancel a job) ends a command as Ctrl-C does: its cleanup, one line, exit 130.

    Replication workers forked from this process inherit the handler; in them it restores the default
    action and ends the worker silently, as the pool's terminate() expects.
    """
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread (an embedding program's worker)
        return
    owner = os.getpid()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Output:
    """What became of stdout and stderr while a command ran (`guarded_output`)."""

    def __init__(self, stdout: _Guarded, stderr: _Guarded) -> None:
        self._stdout, self._stderr = stdout, stderr

    def settled(self, code: int) -> int:
        """The command's exit code, unless its results could not be written to stdout (a full disk, an
        I/O error): then one line on stderr and exit 2 (bad environment), if the command had ended 0 or 1.
        A closed pipe is not a failure (`sim run … | head -1`), nor is a stderr that cannot be written."""
        failed = self._stdout.failure
        if not failed:
            return code
        with contextlib.suppress(OSError, ValueError):  # stderr may be as full as stdout
            say(f"sim: error: stdout: cannot write the output: {failed}")
        return 2 if code in (0, 1) else code


@contextlib.contextmanager
def guarded_output() -> Iterator[Output]:
    """While a command runs, output to a closed pipe (`sim run … | head -1`) is dropped instead of raising,
    and so is output to a stream that fails (a full disk, a device such as /dev/full): the command still
    finishes (its reports are written), and `Output.settled` turns a failed stdout into exit 2.
    A failing stderr never changes the exit code: only diagnostics are lost.
    """
    saved = sys.stdout, sys.stderr
    stdout, stderr = _Guarded(sys.stdout), _Guarded(sys.stderr)
    sys.stdout, sys.stderr = cast(TextIO, stdout), cast(TextIO, stderr)
    try:
        yield Output(stdout, stderr)
    finally:
        for stream in (stdout, stderr):
            stream.flush()  # what is still buffered goes now, while a failure is still handled
        sys.stdout, sys.stderr = saved


class _Guarded:
    """A text stream that goes quiet once its reader has gone (EPIPE), like `head` expects of a Unix tool,
    or once writing to it fails (ENOSPC, EIO, …), remembering why."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False
        self.failure = ""  # why a write failed ("No space left on device"); empty for a closed pipe

    def write(self, text: str) -> int:
        self._guarded(lambda: self._stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno…: the stream's own
        return getattr(self._stream, name)

    def _guarded(self, action: Any) -> None:
        if self._gone:
            return
        try:
            action()
        except BrokenPipeError:
            self._gone = True
            self._discard_rest()
        except OSError as error:
            if error.errno is None:
                raise
            self._gone = True
            self.failure = error.strerror or os.strerror(error.errno)
            self._discard_rest()

    def _discard_rest(self) -> None:
        """Point the descriptor at /dev/null, so the interpreter's final flush of the buffer cannot fail."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
