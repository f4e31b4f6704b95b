"""The random world of one run: one independent generator per named stream.

Every stream is derived from `SeedSequence([seed, replication])`, so two
variants of a replication see the same customers at the same instants and —
where their service distributions agree — the same latencies (common random
numbers). A run makes its `Streams` once and passes it down; streams never
share draws, so the order in which the parts of a run use them does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Append only: a stream's seed depends on its position, so new streams must not shift the old ones.
STREAMS = (
    *("arrivals", "bursts", "customers", "crm", "llm", "points", "jitter", "surges", "faults", "conversations"),
    *("rtt", "timers", "hits"),  # timing noise: drawn only when a variant turns it on
    "code",  # a team's handler (`[code]`): its randomness, `random`, `uuid4`, `os.urandom`…
    "replication",  # replication lags: drawn only when a variant has replicas
)


@dataclass(frozen=True, slots=True)
class Streams:
    arrivals: np.random.Generator  # burst starts
    bursts: np.random.Generator  # sizes and gaps of ordinary bursts
    customers: np.random.Generator  # who writes, from a population
    crm: np.random.Generator  # CRM latencies
    llm: np.random.Generator  # LLM latencies
    points: np.random.Generator  # installation points per customer
    jitter: np.random.Generator  # the handler's backoff jitter and XFetch
    surges: np.random.Generator  # the extra bursts of surges: starts, sizes, gaps
    faults: np.random.Generator  # each message's draw against the CRM error rate
    conversations: np.random.Generator  # when conversations open (each one's choices: `conversation`)
    rtt: np.random.Generator  # Redis round trips, when `[redis]rtt` is a distribution
    timers: np.random.Generator  # how late or early each of the handler's sleeps ends (`[timers]jitter`)
    hits: np.random.Generator  # what each cache hit costs (`[cache]hit_cost`)
    code: np.random.Generator  # seeds a team's handler's entropy (`sim.code.containment`)
    replication: np.random.Generator  # how long each replica takes to apply each write (`[redis]replication_lag`)

    @classmethod
    def of(cls, seed: int, replication: int) -> Streams:
        children = np.random.SeedSequence([seed, replication]).spawn(len(STREAMS))
        generators = (np.random.Generator(np.random.PCG64(child)) for child in children)
        return cls(**dict(zip(STREAMS, generators, strict=True)))


CONVERSATION_PARTS = ("behaviour", "crm", "llm", "faults")


def conversation(seed: int, replication: int, number: int) -> dict[str, np.random.Generator]:
    """The streams of conversation `number` of replication `replication`, keyed by the three alone:
    its customer's choices (`behaviour`), and its messages' CRM and LLM latencies and fault draws, one
    generator each. Two variants see the same customer make the same choices given the same replies,
    whatever the other conversations did. The key is a child of the `conversations` stream's."""
    key = (STREAMS.index("conversations"), number)
    parts = np.random.SeedSequence([seed, replication], spawn_key=key).spawn(len(CONVERSATION_PARTS))
    return {
        name: np.random.Generator(np.random.PCG64(part)) for name, part in zip(CONVERSATION_PARTS, parts, strict=True)
    }
