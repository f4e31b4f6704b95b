"""Who writes when: bursts of messages, and the latencies each message will meet.

Everything random is drawn here, up front, from the run's named `Streams`
(`sim.run.streams`). Two variants of a replication therefore see the same
customers at the same instants, and — where their service distributions
agree — the same CRM and LLM latencies for the same message (common random
numbers). Pure numpy: both engines plan their messages here.

The draws are held as numpy columns (a few dozen bytes per message) and each
`PlannedMessage` is made only when the run reaches it, so a month-long run does
not hold a month of message objects before its first message arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.run.streams import Streams
from sim.run.trace import replay
from sim.scenario.model import Scenario, ScriptedCustomer, Services, Workload


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    id: int
    customer: str
    tax_id: str
    index: int  # 0 for the first message of its burst
    burst: int  # the run-wide number of its burst, in generation order: scripted, random, then surge bursts
    at: float
    in_outage: bool = False  # the customer writes from a region with an active massive outage
    scripted: bool = False  # one of the scenario's scripted customers, not a generated one


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedMessage:
    id: int
    customer: str
    tax_id: str
    index: int
    burst: int
    at: float
    crm_latency: float
    llm_latency: float
    points: int
    in_outage: bool = False
    fault_draw: float = 1.0  # uniform [0, 1): the CRM call fails where it is below the error rate
    scripted: bool = False


@dataclass(frozen=True, slots=True)
class Bursts:
    """Every burst of a run, numbered in generation order: the scripted customers, the random
    bursts (customers `c…`), then the surges' bursts (customers `s…`, inside the outage)."""

    scripted: tuple[ScriptedCustomer, ...]
    ids: np.ndarray  # the number in each random or surge customer's name, random bursts first
    first_surge: int  # where the surge bursts start in `ids`

    def __len__(self) -> int:
        return len(self.scripted) + len(self.ids)

    def customer(self, burst: int) -> str:
        if burst < len(self.scripted):
            return self.scripted[burst].name
        j = burst - len(self.scripted)
        return f"{'c' if j < self.first_surge else 's'}{self.ids[j]}"

    def names(self, burst: int) -> tuple[str, str]:
        """The customer and its tax id; a generated customer's tax id is its name, the same string
        (a run's records keep one copy of each per customer, and a month has millions)."""
        if burst < len(self.scripted):
            return self.scripted[burst].name, self.scripted[burst].tax_id
        customer = self.customer(burst)
        return customer, customer

    def in_outage(self, burst: int) -> bool:
        return burst - len(self.scripted) >= self.first_surge

    def is_scripted(self, burst: int) -> bool:
        return burst < len(self.scripted)

    def distinct(self, written: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sorted names of the customers of the bursts `written`, and each burst's place among them.
        A name is made once per distinct customer, not per burst: a population repeats its customers."""
        random, random_of = np.unique(self.ids[: self.first_surge], return_inverse=True)
        surge, surge_of = np.unique(self.ids[self.first_surge :], return_inverse=True)
        candidates = np.concatenate(
            [np.array([c.name for c in self.scripted], dtype=str), _named("c", random), _named("s", surge)]
        )
        scripted = len(self.scripted)
        candidate_of = np.concatenate(
            [np.arange(scripted), scripted + random_of, scripted + len(random) + surge_of]
        ).astype(np.int64)
        used = np.zeros(len(candidates), dtype=bool)
        used[candidate_of[written]] = True  # a scripted customer may have no message
        names = np.unique(candidates[used])
        place = np.minimum(np.searchsorted(names, candidates), max(len(names) - 1, 0))
        return names, place[candidate_of]


class BurstTable(Protocol):
    """Who writes each burst: generated (`Bursts`) or recorded (`sim.run.trace.TraceBursts`)."""

    def __len__(self) -> int: ...
    def customer(self, burst: int) -> str: ...
    def names(self, burst: int) -> tuple[str, str]: ...  # its customer and tax id
    def in_outage(self, burst: int) -> bool: ...
    def is_scripted(self, burst: int) -> bool: ...
    def distinct(self, written: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True, slots=True)
class Arrivals:
    """Every message of a run as columns in arrival order (ties keep generation order);
    iterating makes one `Arrival` at a time."""

    bursts: BurstTable
    at: np.ndarray  # float64 seconds
    burst: np.ndarray  # each message's burst number
    index: np.ndarray  # each message's place in its burst

    @property
    def count(self) -> int:
        return len(self.at)

    def __iter__(self) -> Iterator[Arrival]:
        b = self.bursts
        for n, (at, burst, index) in enumerate(zip(self.at, self.burst, self.index, strict=True)):
            k = int(burst)
            customer, tax_id = b.names(k)
            yield Arrival(
                id=n,
                customer=customer,
                tax_id=tax_id,
                index=int(index),
                burst=k,
                at=float(at),
                in_outage=b.in_outage(k),
                scripted=b.is_scripted(k),
            )


@dataclass(frozen=True, slots=True)
class Plan:
    """The arrivals with the latencies, fault draws and installation points each message will meet;
    iterating makes one `PlannedMessage` at a time, in arrival order."""

    arrivals: Arrivals
    crm: np.ndarray  # by message id
    llm: np.ndarray
    faults: np.ndarray
    points: np.ndarray  # by burst: its customer's installation points

    @property
    def count(self) -> int:
        return self.arrivals.count

    def __iter__(self) -> Iterator[PlannedMessage]:
        for a, crm, llm, fault in zip(self.arrivals, self.crm, self.llm, self.faults, strict=True):
            yield PlannedMessage(
                id=a.id,
                customer=a.customer,
                tax_id=a.tax_id,
                index=a.index,
                burst=a.burst,
                at=a.at,
                crm_latency=float(crm),
                llm_latency=float(llm),
                points=int(self.points[a.burst]),
                in_outage=a.in_outage,
                fault_draw=float(fault),
                scripted=a.scripted,
            )


def planned_messages(scenario: Scenario, services: Services, rng: Streams) -> Plan:
    """Every message of a run with the latencies it will meet, in arrival order."""
    return plan(draw_arrivals(scenario, rng), services, rng)


def arrivals(scenario: Scenario, replication: int) -> Arrivals:
    """Every message of `replication`, in arrival order, from streams of its own."""
    return draw_arrivals(scenario, Streams.of(scenario.seed, replication))


def draw_arrivals(scenario: Scenario, rng: Streams) -> Arrivals:
    """Every message of the run, in arrival order (ties keep generation order); a trace's, when the
    workload names one (`sim.run.trace`)."""
    w = scenario.workload
    if w.trace is not None:
        played = replay(w.trace, rng.arrivals)
        return Arrivals(played.bursts, played.at, played.burst, played.index)
    random = _random_bursts(w, _burst_starts(w, scenario.duration, rng.arrivals), rng, False)
    surge = _random_bursts(w, _surge_starts(w, rng.surges), rng, True)
    scripted = [np.asarray(c.at, dtype=float) for c in w.scripted]
    sizes = np.concatenate([np.array([len(t) for t in scripted], dtype=np.int64), random.sizes, surge.sizes])
    at = np.concatenate([*scripted, random.times, surge.times])
    burst = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)  # bursts per run are far below 2**31
    index = (np.arange(len(at)) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int32)
    order = np.argsort(at, kind="stable")
    bursts = Bursts(w.scripted, np.concatenate([random.ids, surge.ids]), len(random.ids))
    return Arrivals(bursts, at[order], burst[order], index[order])


def plan(arrived: Arrivals, services: Services, rng: Streams) -> Plan:
    """Attach the latencies each message will meet under `services`."""
    n = arrived.count
    crm = services.crm.sample(rng.crm, n)
    llm = services.llm.sample(rng.llm, n)
    points = _points_by_burst(arrived, services, rng.points)
    faults = rng.faults.random(n)
    return Plan(arrived, crm, llm, faults, points)


@dataclass(frozen=True, slots=True)
class _Drawn:
    """Random bursts in generation order: their sizes, customer numbers and message times (burst by burst)."""

    sizes: np.ndarray
    ids: np.ndarray
    times: np.ndarray


_NONE = _Drawn(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))


def _burst_starts(workload: Workload, duration: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson burst starts; with a daily curve, one homogeneous piece per hour."""
    if duration <= 0 or workload.customers_per_hour <= 0:
        return np.empty(0)
    if not workload.hourly_rates:
        return _poisson_times(workload.customers_per_hour / 3600.0, 0.0, duration, rng)
    hours = np.arange(0.0, duration, 3600.0)
    pieces = [_poisson_times(workload.rate_at(h) / 3600.0, h, min(h + 3600.0, duration), rng) for h in hours]
    return np.concatenate(pieces)


def _surge_starts(workload: Workload, rng: np.random.Generator) -> np.ndarray:
    """The extra bursts of each surge: (multiplier − 1) × the rate at its start, for its duration."""
    pieces = [
        _poisson_times((s.multiplier - 1) * workload.rate_at(s.start) / 3600.0, s.start, s.start + s.duration, rng)
        for s in workload.surges
    ]
    return np.sort(np.concatenate(pieces)) if pieces else np.empty(0)


def _random_bursts(workload: Workload, starts: np.ndarray, rng: Streams, in_outage: bool) -> _Drawn:
    """Bursts starting at `starts`: sizes, gaps and (from a population, or new) customers."""
    n = len(starts)
    if n == 0:
        return _NONE
    stream = rng.bursts if not in_outage else rng.surges
    sizes = workload.burst_size.sample(stream, n)
    gaps = workload.burst_gap.sample(stream, int(sizes.sum()))
    if workload.population > 0 and not in_outage:
        ids = rng.customers.integers(0, workload.population, n)
    else:
        ids = np.arange(n, dtype=np.int64)
    return _Drawn(sizes, ids, np.repeat(starts, sizes) + _offsets(sizes, gaps))


def _offsets(sizes: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Each message's offset from its burst's start: the running sum of its burst's gaps less the
    first (unused: the burst starts at its start). Summed position by position, each step the
    addition `np.cumsum` of one burst would make, so the offsets are bit for bit the same."""
    first = np.cumsum(sizes) - sizes  # where each burst's gaps begin
    running = gaps.copy()
    longer = np.flatnonzero(sizes > 1)
    for j in range(1, int(sizes.max(initial=0))):
        longer = longer[sizes[longer] > j]  # the bursts with a message at place j
        at = first[longer] + j
        running[at] = running[at - 1] + gaps[at]
    some = sizes > 0
    offsets: np.ndarray = running - np.repeat(gaps[first[some]], sizes[some])
    return offsets


def _poisson_times(rate_per_s: float, begin: float, end: float, rng: np.random.Generator) -> np.ndarray:
    count = rng.poisson(rate_per_s * (end - begin))
    return np.sort(rng.uniform(begin, end, count))


def _points_by_burst(arrived: Arrivals, services: Services, rng: np.random.Generator) -> np.ndarray:
    """Each burst's customer's installation points: one draw per distinct customer with a message,
    in the order Python sorts their names (numpy sorts str arrays by code point, as Python does)."""
    names, place = arrived.bursts.distinct(np.unique(arrived.burst))
    counts = services.installation_points.sample(rng, len(names))
    return counts[place] if len(names) else np.zeros(len(place), dtype=np.int64)


def _named(prefix: str, ids: np.ndarray) -> np.ndarray:
    """`prefix` followed by each id in decimal, as a numpy str array as wide as the longest."""
    if len(ids) == 0:
        return np.empty(0, dtype=str)
    named: np.ndarray = np.strings.add(prefix, ids.astype(f"U{len(str(int(ids.max())))}"))
    return named
