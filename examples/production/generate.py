"""Write the bundled "production" logs: one synthetic day of a small support desk.

Generated once with a fixed seed and committed (`messages.csv`, `calls.csv`); rerunning this
script writes the same files. The world here is deliberately *not* `sim`'s, so fitting it is a
real test of `sim fit`:

- sessions start as a Poisson process whose rate follows a two-peak daily curve (late morning
  and evening, a quiet night), mean ~55 sessions an hour;
- inside a session messages are a Hawkes (self-exciting) cluster: the first message, then each
  message begets Poisson(0.6) more, each after an exponential delay of mean 9 s plus a 1 s
  typing floor; so sizes are ~2.5 on average, geometric-like with a long tail, and the gaps are
  a mixture of short bursts and longer pauses — not `sim`'s i.i.d. gaps;
- three in ten sessions are returning customers, picked with a preference for the recent ones
  (not `sim`'s uniform population);
- the CRM and the LLM take lognormal times with a heavier Pareto tail (4 % and 3 % of calls);
  0.5 % of CRM calls fail (the message fails);
- production runs the *before* configuration: one lock per customer, a message waits for the
  previous one of its customer up to 30 s, else gets the "still processing" apology; plenty of
  workers; no cache.

Customer ids are pseudonyms (`sim.fit.anonymise.pseudonym`, a salted hash), as `sim trace`
writes them: the file can be committed.

    python examples/production/generate.py        # writes messages.csv and calls.csv beside it
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sim.fit.anonymise import pseudonym

SEED = 20240304
DAY = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
SALT = b"bundled example: not a secret, the ids were never real"
LOCK_WAIT = 30.0  # production's lock timeout (before)
CRM_ERROR = 0.005
FOLDER = Path(__file__).parent


def hourly_rates() -> np.ndarray:
    """Sessions per hour by hour of day: a night floor, a late-morning and an evening peak."""
    h = np.arange(24) + 0.5
    curve = 6 + 70 * np.exp(-(((h - 11) / 2.5) ** 2)) + 85 * np.exp(-(((h - 20) / 2.0) ** 2))
    return np.asarray(curve)


def session_starts(rng: np.random.Generator) -> np.ndarray:
    pieces = [h * 3600 + np.sort(rng.uniform(0, 3600, rng.poisson(r))) for h, r in enumerate(hourly_rates())]
    return np.concatenate(pieces)


def hawkes_session(rng: np.random.Generator, start: float) -> list[float]:
    """The first message and its descendants: each message begets Poisson(0.6) children."""
    times, pending = [start], [start]
    while pending and len(times) < 40:
        parent = pending.pop()
        for _ in range(rng.poisson(0.6)):
            child = parent + 1.0 + rng.exponential(9.0)
            times.append(child)
            pending.append(child)
    return sorted(times)


def latency(rng: np.random.Generator, median: float, sigma: float, tail_share: float, tail_from: float) -> float:
    if rng.random() < tail_share:
        return min(tail_from * (1 + rng.pareto(1.8)), 120.0)
    return float(median * math.exp(sigma * rng.standard_normal()))


def customers(rng: np.random.Generator, count: int) -> list[str]:
    """Three in ten sessions come from an earlier customer, the recent ones likelier."""
    names: list[str] = []
    for k in range(count):
        if names and rng.random() < 0.3:
            back = min(int(rng.geometric(0.02)), len(names))
            names.append(names[-back])
        else:
            names.append(f"customer-{k}")
    return names


def main() -> None:
    rng = np.random.default_rng(SEED)
    starts = session_starts(rng)
    who = customers(rng, len(starts))
    messages = sorted((t, c) for start, c in zip(starts, who, strict=True) for t in hawkes_session(rng, start))
    free_at: dict[str, float] = {}  # when each customer's lock is released
    message_rows, call_rows = [], []
    for at, customer in messages:
        begin = max(at, free_at.get(customer, 0.0))
        if begin - at > LOCK_WAIT:
            message_rows.append((at, customer, "busy", LOCK_WAIT))
            continue
        crm = latency(rng, 2.5, 0.35, 0.04, 6.0)
        call_rows.append((begin, "crm", crm, rng.random() < CRM_ERROR))
        if call_rows[-1][3]:
            free_at[customer] = begin + crm
            message_rows.append((at, customer, "failed", begin + crm - at))
            continue
        llm = latency(rng, 6.0, 0.45, 0.03, 15.0)
        call_rows.append((begin + crm, "llm", llm, False))
        free_at[customer] = begin + crm + llm
        message_rows.append((at, customer, "answered", begin + crm + llm - at))
    write(message_rows, call_rows)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(DAY.timestamp() + seconds, UTC).isoformat(timespec="milliseconds")


def write(message_rows: list[tuple[float, str, str, float]], call_rows: list[tuple[float, str, float, bool]]) -> None:
    with (FOLDER / "messages.csv").open("w", newline="") as out:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["timestamp", "customer", "outcome", "reply_s"])
        for at, customer, outcome, reply in message_rows:
            w.writerow([iso(at), pseudonym(customer, SALT), outcome, f"{reply:.3f}"])
    with (FOLDER / "calls.csv").open("w", newline="") as out:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["service", "start", "duration_s", "error"])
        for start, service, duration, error in sorted(call_rows):
            w.writerow([service, iso(start), f"{duration:.3f}", "true" if error else ""])


if __name__ == "__main__":
    main()
