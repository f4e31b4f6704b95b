"""The arrivals are drawn into numpy columns and each message is made when the run reaches it: the
messages must be exactly those the eager implementation (kept here as the oracle) made from the same
streams, every field, on every bundled scenario."""

from __future__ import annotations

import dataclasses
from dataclasses import astuple, dataclass, fields

import numpy as np
import pytest

from sim.run.streams import Streams
from sim.run.workload import PlannedMessage, arrivals, planned_messages
from sim.scenario.load import load_scenario
from sim.scenario.model import Scenario, ScriptedCustomer, Services, Workload
from sim.world.model import simulate
from tests.helpers import BUNDLED
from tests.world.scenario_kit import scenario

# ---- the oracle: the eager implementation this module replaced, with the burst number added ----


@dataclass(frozen=True, slots=True)
class _Burst:
    customer: str
    tax_id: str
    times: list[float]
    in_outage: bool = False
    scripted: bool = False


def eager_planned(scenario: Scenario, services: Services, rng: Streams) -> list[PlannedMessage]:
    w = scenario.workload
    bursts = [_Burst(c.name, c.tax_id, list(c.at), scripted=True) for c in w.scripted]
    bursts += _eager_bursts(w, _eager_starts(w, scenario.duration, rng.arrivals), rng, "c", False)
    bursts += _eager_bursts(w, _eager_surge_starts(w, rng.surges), rng, "s", True)
    flat = [(t, number, b, i) for number, b in enumerate(bursts) for i, t in enumerate(b.times)]
    flat.sort(key=lambda item: item[0])
    n = len(flat)
    crm, llm = services.crm.sample(rng.crm, n), services.llm.sample(rng.llm, n)
    customers = sorted({b.customer for _, _, b, _ in flat})
    points = dict(zip(customers, services.installation_points.sample(rng.points, len(customers)), strict=True))
    faults = rng.faults.random(n)
    return [
        PlannedMessage(
            id=k,
            customer=b.customer,
            tax_id=b.tax_id,
            index=i,
            burst=number,
            at=at,
            crm_latency=float(crm[k]),
            llm_latency=float(llm[k]),
            points=int(points[b.customer]),
            in_outage=b.in_outage,
            fault_draw=float(faults[k]),
            scripted=b.scripted,
        )
        for k, (at, number, b, i) in enumerate(flat)
    ]


def _eager_starts(w: Workload, duration: float, rng: np.random.Generator) -> np.ndarray:
    if duration <= 0 or w.customers_per_hour <= 0:
        return np.empty(0)
    if not w.hourly_rates:
        return _eager_poisson(w.customers_per_hour / 3600.0, 0.0, duration, rng)
    hours = np.arange(0.0, duration, 3600.0)
    return np.concatenate([_eager_poisson(w.rate_at(h) / 3600.0, h, min(h + 3600.0, duration), rng) for h in hours])


def _eager_surge_starts(w: Workload, rng: np.random.Generator) -> np.ndarray:
    pieces = [
        _eager_poisson((s.multiplier - 1) * w.rate_at(s.start) / 3600.0, s.start, s.start + s.duration, rng)
        for s in w.surges
    ]
    return np.sort(np.concatenate(pieces)) if pieces else np.empty(0)


def _eager_bursts(w: Workload, starts: np.ndarray, rng: Streams, prefix: str, in_outage: bool) -> list[_Burst]:
    n = len(starts)
    if n == 0:
        return []
    stream = rng.bursts if not in_outage else rng.surges
    sizes = w.burst_size.sample(stream, n)
    gaps = w.burst_gap.sample(stream, int(sizes.sum()))
    if w.population > 0 and not in_outage:
        who = [f"{prefix}{k}" for k in rng.customers.integers(0, w.population, n)]
    else:
        who = [f"{prefix}{k}" for k in range(n)]
    bursts, used = [], 0
    for start, size, customer in zip(starts, sizes, who, strict=True):
        offsets = np.cumsum(gaps[used : used + size]) - gaps[used]
        used += size
        bursts.append(_Burst(customer, customer, [float(start + o) for o in offsets], in_outage))
    return bursts


def _eager_poisson(rate_per_s: float, begin: float, end: float, rng: np.random.Generator) -> np.ndarray:
    count = rng.poisson(rate_per_s * (end - begin))
    return np.sort(rng.uniform(begin, end, count))


# ---- the tests ----


def assert_same_messages(s: Scenario, services: Services, replication: int = 0) -> None:
    expected = eager_planned(s, services, Streams.of(s.seed, replication))
    plan = planned_messages(s, services, Streams.of(s.seed, replication))
    made = list(plan)
    assert plan.count == len(made) == len(expected)
    for old, new in zip(expected, made, strict=True):
        # Every field, types included (a numpy scalar where a float was would change what records hold).
        assert astuple(new) == astuple(old), (old, new)
        assert [type(getattr(new, f.name)) for f in fields(new)] == [type(getattr(old, f.name)) for f in fields(old)]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_scenario_plans_the_messages_the_eager_implementation_planned(path):
    s = load_scenario(path)
    for services in dict.fromkeys(v.services for v in s.variants):  # each distinct one
        assert_same_messages(s, services)


TRICKY = """
[scenario]
seed = 11
duration = "1h"
[workload]
customers_per_hour = 400
population = 30
burst_size = { dist = "geometric", mean = 3 }
burst_gap = { dist = "exponential", mean = "20s" }
[[workload.script]]
customer = "c10"
messages = ["0s", "0s", "5s"]
[[workload.script]]
customer = "Zoë"
tax_id = "T-1"
messages = ["0s"]
[[workload.script]]
customer = "c9"
messages = ["1800s"]
[[workload.surge]]
start = "10m"
duration = "20m"
multiplier = 4
[services]
installation_points = { dist = "uniform", low = 1, high = 1000 }
[services.crm]
dist = "mixture"
components = [{ weight = 1, dist = "fixed", value = "1s" }, { weight = 2, dist = "uniform", low = "2s", high = "3s" }]
"""


@pytest.mark.parametrize("replication", [0, 1, 2])
def test_scripted_names_among_random_ones_ties_and_surges_plan_as_before(replication):
    # Scripted customers named like random ones ("c10" shares its points with a random c10), ties at 0 s
    # (generation order decides), a non-ASCII name, long geometric bursts, a surge and a mixture; and,
    # as only code can build it, a scripted customer with no message (it draws no points).
    s = scenario(TRICKY)
    silent = ScriptedCustomer("a-silent-one", "T-0", ())
    s = dataclasses.replace(s, workload=dataclasses.replace(s.workload, scripted=(silent, *s.workload.scripted)))
    assert_same_messages(s, s.variants[0].services, replication)


def test_arrivals_come_in_time_order_numbered_and_counted():
    arrived = arrivals(scenario(TRICKY), 0)
    made = list(arrived)
    assert len(made) == arrived.count > 100
    assert [a.id for a in made] == list(range(arrived.count))
    assert all(a.at <= b.at for a, b in zip(made, made[1:], strict=False))


def test_a_burst_is_one_customer_numbered_in_generation_order():
    s = scenario(TRICKY)
    made = list(arrivals(s, 0))
    by_burst: dict[int, list] = {}
    for a in made:
        by_burst.setdefault(a.burst, []).append(a)
    for members in by_burst.values():
        assert len({(a.customer, a.tax_id, a.in_outage) for a in members}) == 1
        assert [a.index for a in members] == list(range(len(members)))  # in time order, ties in burst order
    assert [by_burst[b][0].customer for b in range(3)] == ["c10", "Zoë", "c9"]  # the script comes first
    surge = sorted(b for b, members in by_burst.items() if members[0].in_outage)
    assert surge == list(range(surge[0], len(by_burst)))  # the surges' bursts come last


def test_the_run_counts_every_message_that_arrived():
    s = scenario(TRICKY, "[workers]\ncount = 50\n")
    result = simulate(s, s.variants[0], 0)
    assert result.violations == ()  # the invariants were told how many arrived: none lost, none extra
    assert len(result.records) == arrivals(s, 0).count
