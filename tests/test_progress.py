"""Progress on stderr: a tqdm bar on a terminal, a plain line every few seconds in a CI log."""

import io
import threading

from sim.terminal.progress import PLAIN_EVERY_S, Progress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_at_most_every_few_seconds_with_an_eta_and_one_at_the_end():
    clock, log = Clock(), io.StringIO()
    with Progress(20, "magna", stream=log, clock=clock) as progress:
        for _ in range(12):
            clock.now += 0.25  # 12 runs in 3 s: no line yet
            progress.step()
        assert log.getvalue() == ""
        clock.now += PLAIN_EVERY_S - 3 + 0.1
        progress.step()  # 13 runs in 5.1 s: ETA 7 × 5.1 / 13
        progress.step()  # right after a line: none
        progress.stage("writing report")
    assert log.getvalue().splitlines() == [
        "magna: 13/20 runs, 5.1 s, ETA 2.7 s",
        "magna: writing report",
        "magna: 14/20 runs in 5.1 s",
    ]


def test_a_terminal_gets_a_tqdm_bar_with_rate_and_eta():
    clock, terminal = Clock(), Terminal()
    with Progress(4, "peak-hour", stream=terminal, clock=clock) as progress:
        progress.step()
        progress.step()
    shown = terminal.getvalue()
    assert "\r" in shown and "peak-hour" in shown and "2/4" in shown
    assert "runs/s" in shown and "<" in shown  # tqdm's [elapsed<remaining, rate]


def test_quiet_writes_nothing_even_on_a_terminal():
    terminal = Terminal()
    with Progress(3, "magna", stream=terminal, enabled=False) as progress:
        progress.step()
        progress.stage("writing report")
    assert terminal.getvalue() == ""


def test_steps_from_many_threads_are_all_counted():
    progress = Progress(8000, "live", unit="messages", stream=io.StringIO(), clock=Clock())  # no wall time
    threads = [threading.Thread(target=lambda: [progress.step() for _ in range(1000)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress.close()
    assert progress.done == 8000
    assert progress.stream.getvalue().endswith("live: 8000/8000 messages in 0.0 s\n")


def test_a_run_that_decides_its_length_as_it_goes_grows_the_total_never_shrinks_it():
    clock, log = Clock(), io.StringIO()
    with Progress(10, "magna", stream=log, clock=clock) as progress:
        progress.step(10)
        progress.grow(20)  # --precision: one more batch of 5 replications × 2 variants
        progress.grow(15)
        clock.now += PLAIN_EVERY_S
        progress.step()
    assert log.getvalue().splitlines()[0] == "magna: 11/20 runs, 5.0 s, ETA 4.1 s"


def test_a_terminal_bar_follows_a_grown_total():
    terminal = Terminal()
    with Progress(10, "magna", stream=terminal) as progress:
        progress.grow(30)
        assert progress._bar.total == 30
