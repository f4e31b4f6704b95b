"""Who writes when: bursts of messages, and the latencies each message will meet.

Everything random is drawn here, up front, from the run's named `Streams`
(`sim.run.streams`). Two variants of a replication therefore see the same
customers at the same instants, and — where their service distributions
agree — the same CRM and LLM latencies for the same message (common random
numbers). Pure numpy: both engines plan their messages here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.run.streams import Streams
from sim.scenario.model import Scenario, Services, Workload


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    id: int
    customer: str
    tax_id: str
    index: int  # 0 for the first message of its burst
    at: float
    in_outage: bool = False  # the customer writes from a region with an active massive outage
    burst: int = 0  # which burst of the run it belongs to (a customer of a population may write several)
    scripted: bool = False  # one of the scenario's scripted customers, not a generated one


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedMessage:
    id: int
    customer: str
    tax_id: str
    index: int
    at: float
    crm_latency: float
    llm_latency: float
    points: int
    in_outage: bool = False
    fault_draw: float = 1.0  # uniform [0, 1): the CRM call fails where it is below the error rate
    burst: int = 0
    scripted: bool = False


def planned_messages(scenario: Scenario, services: Services, rng: Streams) -> list[PlannedMessage]:
    """Every message of a run with the latencies it will meet, in arrival order."""
    return plan(draw_arrivals(scenario, rng), services, rng)


def arrivals(scenario: Scenario, replication: int) -> list[Arrival]:
    """Every message of `replication`, in arrival order, from streams of its own."""
    return draw_arrivals(scenario, Streams.of(scenario.seed, replication))


def draw_arrivals(scenario: Scenario, rng: Streams) -> list[Arrival]:
    """Every message of the run, in arrival order (ties keep generation order)."""
    w = scenario.workload
    bursts = _scripted(w) + _random_bursts(w, _burst_starts(w, scenario.duration, rng.arrivals), rng, "c", False)
    bursts += _random_bursts(w, _surge_starts(w, rng.surges), rng, "s", True)
    flat = [(t, k, b, i) for k, b in enumerate(bursts) for i, t in enumerate(b.times)]
    flat.sort(key=lambda item: item[0])
    return [
        Arrival(id=n, customer=b.customer, tax_id=b.tax_id, index=i, at=at, burst=k, **b.who())
        for n, (at, k, b, i) in enumerate(flat)
    ]


def plan(arrived: list[Arrival], services: Services, rng: Streams) -> list[PlannedMessage]:
    """Attach the latencies each message will meet under `services`."""
    n = len(arrived)
    crm = services.crm.sample(rng.crm, n)
    llm = services.llm.sample(rng.llm, n)
    points = _points_per_customer(arrived, services, rng.points)
    faults = rng.faults.random(n)
    return [
        PlannedMessage(
            id=a.id,
            customer=a.customer,
            tax_id=a.tax_id,
            index=a.index,
            at=a.at,
            crm_latency=float(crm[i]),
            llm_latency=float(llm[i]),
            points=points[a.customer],
            in_outage=a.in_outage,
            fault_draw=float(faults[i]),
            burst=a.burst,
            scripted=a.scripted,
        )
        for i, a in enumerate(arrived)
    ]


@dataclass(frozen=True, slots=True)
class Burst:
    customer: str
    tax_id: str
    times: list[float]
    in_outage: bool = False
    scripted: bool = False

    def who(self) -> dict[str, bool]:
        """What its messages carry about their customer."""
        return {"in_outage": self.in_outage, "scripted": self.scripted}


def _scripted(workload: Workload) -> list[Burst]:
    return [Burst(c.name, c.tax_id, list(c.at), scripted=True) for c in workload.scripted]


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


def _random_bursts(workload: Workload, starts: np.ndarray, rng: Streams, prefix: str, in_outage: bool) -> list[Burst]:
    """Bursts starting at `starts`: sizes, gaps and (from a population, or new) customers."""
    n = len(starts)
    if n == 0:
        return []
    stream = rng.bursts if not in_outage else rng.surges
    sizes = workload.burst_size.sample(stream, n)
    gaps = workload.burst_gap.sample(stream, int(sizes.sum()))
    if workload.population > 0 and not in_outage:
        who = [f"{prefix}{k}" for k in rng.customers.integers(0, workload.population, n)]
    else:
        who = [f"{prefix}{k}" for k in range(n)]
    bursts, used = [], 0
    for start, size, customer in zip(starts, sizes, who, strict=True):
        # The first gap of each burst is unused: the burst starts at `start`.
        offsets = np.cumsum(gaps[used : used + size]) - gaps[used]
        used += size
        bursts.append(Burst(customer, customer, [float(start + o) for o in offsets], in_outage))
    return bursts


def _poisson_times(rate_per_s: float, begin: float, end: float, rng: np.random.Generator) -> np.ndarray:
    count = rng.poisson(rate_per_s * (end - begin))
    return np.sort(rng.uniform(begin, end, count))


def _points_per_customer(arrived: list[Arrival], services: Services, rng: np.random.Generator) -> dict[str, int]:
    customers = sorted({a.customer for a in arrived})
    counts = services.installation_points.sample(rng, len(customers))
    return {c: int(k) for c, k in zip(customers, counts, strict=True)}
