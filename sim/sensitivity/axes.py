"""The assumptions a comparison may hang on, as a registry of axes.

An axis is one assumption (the burst mix, the worker count, …) with its cases: each case a
name and a pure transform `Scenario -> Scenario` built with `dataclasses.replace` on the
scenario's frozen dataclasses. The scenario as written is every axis's implicit first case,
so an axis lists only the alternatives. A new assumption is one `register(Axis(...))` call
(after the setting it varies exists in the model).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from sim.core.distributions import ChoiceCount, Exponential, LogNormal, Uniform
from sim.scenario.limits import MAX_POPULATION, MAX_RATE, MAX_WORKERS
from sim.scenario.model import Conversations, Scenario, TimerSettings, Variant, WorkerModel
from sim.sensitivity.spread import spread

Transform = Callable[[Scenario], Scenario]
AXIS_KEY = re.compile(r"[a-z][a-z0-9-]{0,31}")  # what `--axes` names: plain, short, safe in any output

# The less bursty mix: most customers send one message and wait.
LIGHT_SIZES, LIGHT_WEIGHTS = (1, 2, 3, 4, 5), (0.80, 0.15, 0.04, 0.008, 0.002)
DIALOG_GAP = (40.0, 90.0)  # seconds from one message to the customer's next, as in a dialogue


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    name: str  # how a report names the case: "light burst mix"
    words: str  # what it changes, in the report: "burst sizes 1–5 weighted 80/15/4/0.8/0.2 %"
    transform: Transform


@dataclass(frozen=True, slots=True, kw_only=True)
class Axis:
    key: str  # on the command line (`--axes burst-mix,workers`)
    name: str  # in the report: "burst mix"
    words: str  # the assumption, in one sentence
    cases: tuple[Case, ...]  # the alternatives to the scenario as written

    def __post_init__(self) -> None:
        if not AXIS_KEY.fullmatch(self.key):
            raise ValueError(f"axis key {self.key!r} is not lowercase letters, digits and '-'")
        names = [c.name for c in self.cases]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"axis {self.key}: needs one or more cases with distinct names, got {names}")


AXES: dict[str, Axis] = {}  # key → axis, in registration order (the report's order)


def register(axis: Axis) -> Axis:
    if axis.key in AXES:
        raise ValueError(f"axis {axis.key!r} is registered already")
    AXES[axis.key] = axis
    return axis


def each_variant(change: Callable[[Variant], Variant]) -> Transform:
    """A transform applying `change` to every variant: an assumption is the same for all of them."""
    return lambda s: replace(s, variants=tuple(change(v) for v in s.variants))


# ---------------------------------------------------------------- the axes available today


def _light_mix(s: Scenario) -> Scenario:
    if not _random_customers(s):
        return s  # scripted customers keep their script: the burst mix is not theirs
    return replace(s, workload=replace(s.workload, burst_size=ChoiceCount(LIGHT_SIZES, LIGHT_WEIGHTS)))


def _dialog_pacing(s: Scenario) -> Scenario:
    if not _random_customers(s):
        return s
    return replace(s, workload=replace(s.workload, burst_gap=Uniform(*DIALOG_GAP)))


def _random_customers(s: Scenario) -> bool:
    """Whether bursts are drawn at all (a scripted story like Magna's has none, and no burst mix to vary)."""
    w = s.workload
    return s.duration > 0 and (w.customers_per_hour > 0 or any(r > 0 for r in w.hourly_rates))


def _workers(factor: float) -> Transform:
    return each_variant(lambda v: replace(v, workers=min(max(round(v.workers * factor), 1), MAX_WORKERS)))


def _latency_spread(k: float) -> Transform:
    def change(v: Variant) -> Variant:
        services = replace(v.services, crm=spread(v.services.crm, k), llm=spread(v.services.llm, k))
        return replace(v, services=services)

    return each_variant(change)


def _population(factor: float) -> Transform:
    def change(s: Scenario) -> Scenario:
        population = min(round(s.workload.population * factor), MAX_POPULATION)
        return replace(s, workload=replace(s.workload, population=population))

    return change


def _traffic(factor: float) -> Transform:
    def change(s: Scenario) -> Scenario:
        w = s.workload
        hourly = tuple(min(r * factor, MAX_RATE) for r in w.hourly_rates)
        return replace(s, workload=replace(w, customers_per_hour=w.customers_per_hour * factor, hourly_rates=hourly))

    return change


register(
    Axis(
        key="burst-mix",
        name="burst mix",
        words="how many messages a customer sends in a row without waiting for an answer, and how fast",
        cases=(
            Case(
                name="light burst mix",
                words="burst sizes 1–5 weighted 80/15/4/0.8/0.2 % (most customers send one message)",
                transform=_light_mix,
            ),
            Case(
                name="dialog pacing",
                words="each follow-up 40–90 s (uniform) after the customer's previous message",
                transform=_dialog_pacing,
            ),
        ),
    )
)
register(
    Axis(
        key="workers",
        name="worker count",
        words="how many messages the bot serves at once",
        cases=(
            Case(name="half the workers", words="every variant's worker count halved", transform=_workers(0.5)),
            Case(name="double the workers", words="every variant's worker count doubled", transform=_workers(2.0)),
        ),
    )
)
register(
    Axis(
        key="latency-spread",
        name="CRM and LLM latency spread",
        words="how long the slow CRM and LLM calls take, around the same typical call",
        cases=(
            Case(
                name="narrow latency tails",
                words="CRM and LLM spread halved (lognormal σ × 0.5, median kept)",
                transform=_latency_spread(0.5),
            ),
            Case(
                name="wide latency tails",
                words="CRM and LLM spread doubled (lognormal σ × 2, median kept)",
                transform=_latency_spread(2.0),
            ),
        ),
    )
)
register(
    Axis(
        key="returning",
        name="returning customers",
        words="how often a customer comes back while the cache still holds their lookup",
        cases=(
            Case(
                name="more returning customers",
                words="customer population halved (bursts drawn from half as many customers)",
                transform=_population(0.5),
            ),
            Case(
                name="fewer returning customers",
                words="customer population doubled",
                transform=_population(2.0),
            ),
        ),
    )
)
register(
    Axis(
        key="traffic",
        name="traffic",
        words="how many customers write per hour",
        cases=(
            Case(name="half the traffic", words="customers per hour × 0.5", transform=_traffic(0.5)),
            Case(name="1.5× the traffic", words="customers per hour × 1.5", transform=_traffic(1.5)),
        ),
    )
)


# ---------------------------------------------------------------- the world's timing and the bot's workers


def _async_workers(v: Variant) -> Variant:
    return replace(v, worker_model=WorkerModel.ASYNC)


def _jitter(v: Variant) -> Variant:
    return replace(v, timers=TimerSettings(jitter=JITTER))


def _jitter_and_round_trips(v: Variant) -> Variant:
    return replace(v, timers=TimerSettings(jitter=JITTER), redis_rtt=Uniform(*ROUND_TRIP))


JITTER = 0.005  # ±5 ms on every sleep of the bot's own: enough to break the exact timers' 1 ms ties
ROUND_TRIP = (0.001, 0.006)  # seconds, uniform: a Redis round trip over a real network

register(
    Axis(
        key="worker-model",
        name="worker model",
        words="whether a message waiting for the lock holds one of the bot's workers",
        cases=(
            Case(
                name="async workers",
                words="a waiting message holds no worker, no worker limit (a Node.js-style bot)",
                transform=each_variant(_async_workers),
            ),
        ),
    )
)
register(
    Axis(
        key="timing",
        name="timer and network jitter",
        words="whether the bot's sleeps end exactly on time and every Redis round trip takes 1 ms",
        cases=(
            Case(
                name="timer jitter",
                words=f"each lock retry, debounce and watchdog sleep ends within ±{JITTER * 1000:g} ms of its time",
                transform=each_variant(_jitter),
            ),
            Case(
                name="jitter and varied round trips",
                words=(
                    f"±{JITTER * 1000:g} ms timer jitter and Redis round trips uniform "
                    f"{ROUND_TRIP[0] * 1000:g}–{ROUND_TRIP[1] * 1000:g} ms"
                ),
                transform=each_variant(_jitter_and_round_trips),
            ),
        ),
    )
)


# ---------------------------------------------------------------- customers who wait for answers

THINK = LogNormal(median=20.0, p95=90.0)  # reading the answer and typing the next question
RESEND_AFTER_APOLOGY = 0.5  # "sorry, still processing": half the customers send their question again


def _waiting(share: float) -> Transform:
    """`share` of the bursts' customers become conversations: each sends the same number of
    questions, but one at a time, after the previous answer (or a nudge on impatience)."""

    def change(s: Scenario) -> Scenario:
        if not _random_customers(s) or s.workload.conversations is not None:
            return s  # a script, or a workload that already says who waits
        w = s.workload
        talk = Conversations(
            sessions_per_hour=w.customers_per_hour * share,
            messages=w.burst_size,
            think=THINK,
            impatience=Exponential(60.0),
            max_nudges=1,
            give_up=0.0,
            resend=RESEND_AFTER_APOLOGY,
            resend_delay=Exponential(10.0),
            max_resends=3,
        )
        bursts = 1.0 - share
        hourly = tuple(r * bursts for r in w.hourly_rates)
        opened = replace(w, customers_per_hour=w.customers_per_hour * bursts, hourly_rates=hourly, conversations=talk)
        return replace(s, workload=opened)

    return change


register(
    Axis(
        key="waiting",
        name="customers who wait for answers",
        words="whether customers fire their messages in a burst or wait for each answer before the next",
        cases=(
            Case(
                name="half wait for answers",
                words=(
                    "half the customers send their messages one at a time, each after the previous answer and a "
                    "think time (lognormal, median 20 s), nudging after 60 s (exponential) without one and "
                    "re-sending after an apology with probability 0.5; each is a new customer"
                ),
                transform=_waiting(0.5),
            ),
            Case(
                name="most wait for answers",
                words="as above for nine customers in ten",
                transform=_waiting(0.9),
            ),
        ),
    )
)
