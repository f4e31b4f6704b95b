"""Progress of a long command on stderr, never on stdout (which carries results and JSON).

On a terminal: a tqdm bar, with rate and ETA. Elsewhere (a CI log, a file): a plain
line at most every `PLAIN_EVERY_S` seconds and one at the end, since a log shows no
carriage returns and a bar redrawn in it would be hundreds of lines of noise.

Thread-safe: `sim live` serves messages on worker threads, each of which may `step()`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

PLAIN_EVERY_S = 5.0  # a CI log line at most this often: enough to see a run move, few enough to read


class Progress:
    """`total` steps of `unit` (runs, messages) under a `label` (the scenario's name).

    Use it as a context manager, or call `close()`: the last line is written then.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        unit: str = "runs",
        enabled: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self._clock = clock
        self._started = self._last_line = clock()
        self._lock = threading.Lock()
        self._closed = False
        self._bar = self._tqdm() if enabled and _is_terminal(self.stream) else None

    def step(self, n: int = 1) -> None:
        """`n` more steps done."""
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
            elif self.enabled and self._clock() - self._last_line >= PLAIN_EVERY_S:
                self._plain_line()

    def grow(self, total: int) -> None:
        """The total is now `total` (a run that decides as it goes how many steps it needs)."""
        with self._lock:
            self.total = max(self.total, total)
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()

    def settle(self) -> None:
        """The total is what was done: an estimate made before the count (lines of a log, blank and bad
        ones included) is corrected once the count is known."""
        with self._lock:
            self.total = self.done
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()

    def stage(self, text: str) -> None:
        """A step without a count, said once (e.g. "writing report" after the last run)."""
        with self._lock:
            if self._bar is not None:
                self._bar.set_postfix_str(text)
            elif self.enabled:
                self._write(f"{self.label}: {text}")

    def close(self, *, summary: bool = True) -> None:
        """`summary`: the last line ("9/9 runs in 3.2 s"); left out when the work failed (its error is the line)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._bar is not None:
                self._bar.close()
            elif self.enabled and summary:
                self._write(f"{self.label}: {self.done}/{self.total} {self.unit} in {self._elapsed():.1f} s")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close(summary=kind is None)

    def _plain_line(self) -> None:
        elapsed = self._elapsed()
        line = f"{self.label}: {self.done}/{self.total} {self.unit}, {elapsed:.1f} s"
        if 0 < self.done < self.total:
            line += f", ETA {elapsed / self.done * (self.total - self.done):.1f} s"
        self._write(line)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self._last_line = self._clock()

    def _elapsed(self) -> float:
        return self._clock() - self._started

    def _tqdm(self) -> Any:
        from tqdm import tqdm  # only on a terminal: a CI run or a test never pays for its import

        return tqdm(total=self.total, desc=self.label, unit=f" {self.unit}", file=self.stream, dynamic_ncols=True)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
