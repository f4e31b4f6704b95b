"""Who writes when: bursts of messages, and the latencies each message will meet.

Everything random is drawn here, up front, from named streams of one
`SeedSequence(seed, replication)`. Two variants of a replication therefore see
the same customers at the same instants, and — where their service
distributions agree — the same CRM and LLM latencies for the same message
(common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario.model import Scenario, Services, Workload

STREAMS = ("arrivals", "bursts", "customers", "crm", "llm", "points", "jitter")


def streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """One independent generator per named stream, derived from (seed, replication)."""
    children = np.random.SeedSequence([seed, replication]).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(STREAMS, children, strict=True)}


@dataclass(frozen=True, slots=True)
class Arrival:
    id: int
    customer: str
    tax_id: str
    index: int  # 0 for the first message of its burst
    at: float


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    id: int
    customer: str
    tax_id: str
    index: int
    at: float
    crm_latency: float
    llm_latency: float
    points: int


def arrivals(scenario: Scenario, replication: int) -> list[Arrival]:
    """Every message of the run, in arrival order (ties keep generation order)."""
    rng = streams(scenario.seed, replication)
    bursts = _scripted(scenario.workload) + _random_bursts(scenario.workload, scenario.duration, rng)
    flat = [(t, customer, tax_id, i) for customer, tax_id, times in bursts for i, t in enumerate(times)]
    flat.sort(key=lambda item: item[0])
    return [Arrival(n, customer, tax_id, index, at) for n, (at, customer, tax_id, index) in enumerate(flat)]


def plan(arrived: list[Arrival], services: Services, seed: int, replication: int) -> list[PlannedMessage]:
    """Attach the latencies each message will meet under `services`."""
    rng = streams(seed, replication)
    n = len(arrived)
    crm = services.crm.sample(rng["crm"], n)
    llm = services.llm.sample(rng["llm"], n)
    points = _points_per_customer(arrived, services, rng["points"])
    return [
        PlannedMessage(a.id, a.customer, a.tax_id, a.index, a.at, float(crm[i]), float(llm[i]), points[a.customer])
        for i, a in enumerate(arrived)
    ]


Burst = tuple[str, str, list[float]]  # customer, tax id, arrival times


def _scripted(workload: Workload) -> list[Burst]:
    return [(c.name, c.tax_id, list(c.at)) for c in workload.scripted]


def _random_bursts(workload: Workload, duration: float, rng: dict[str, np.random.Generator]) -> list[Burst]:
    if workload.customers_per_hour <= 0 or duration <= 0:
        return []
    starts = _poisson_times(workload.customers_per_hour / 3600.0, duration, rng["arrivals"])
    n = len(starts)
    sizes = workload.burst_size.sample(rng["bursts"], n)
    gaps = workload.burst_gap.sample(rng["bursts"], int(sizes.sum()))
    if workload.population > 0:
        who = [f"c{k}" for k in rng["customers"].integers(0, workload.population, n)]
    else:
        who = [f"c{k}" for k in range(n)]
    bursts, used = [], 0
    for start, size, customer in zip(starts, sizes, who, strict=True):
        # The first gap of each burst is unused: the burst starts at `start`.
        offsets = np.cumsum(gaps[used : used + size]) - gaps[used]
        used += size
        bursts.append((customer, customer, [float(start + o) for o in offsets]))
    return bursts


def _poisson_times(rate_per_s: float, duration: float, rng: np.random.Generator) -> np.ndarray:
    count = rng.poisson(rate_per_s * duration)
    return np.sort(rng.uniform(0.0, duration, count))


def _points_per_customer(arrived: list[Arrival], services: Services, rng: np.random.Generator) -> dict[str, int]:
    customers = sorted({a.customer for a in arrived})
    counts = services.installation_points.sample(rng, len(customers))
    return {c: int(k) for c, k in zip(customers, counts, strict=True)}
