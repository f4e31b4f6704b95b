"""A one-line progress bar on stderr, silent unless stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, *, enabled: bool = True, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.started = time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            filled = int(30 * self.done / max(self.total, 1))
            elapsed = time.monotonic() - self.started
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} runs, {elapsed:.1f} s")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
