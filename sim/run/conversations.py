"""Customers who wait for answers: when their sessions open, and every choice each one makes.

A conversation's customer is drawn from streams of its own, keyed by (seed, replication,
conversation) (`sim.run.streams.conversation`): how many intents it has, how long it thinks,
how patient it is, whether it gives up or re-sends, and its messages' CRM and LLM latencies.
Two variants of a replication therefore see the same customers making the same choices given
the same replies (common random numbers), however differently the other customers fared.
The engine (`sim.world.conversations`) decides *when* each choice is asked for; this module
only answers. Pure numpy, no SimPy.
"""

from __future__ import annotations

import numpy as np

from sim.core.distributions import Distribution
from sim.metrics.records import MessageKind
from sim.run.streams import conversation
from sim.run.workload import PlannedMessage
from sim.scenario.model import Conversations, Services, Workload

CUSTOMER_PREFIX = "w"  # conversation customers are w0, w1, … (random bursts are c…, surges s…)


def session_starts(workload: Workload, duration: float, rng: np.random.Generator) -> np.ndarray:
    """When each conversation opens: Poisson, one homogeneous piece per hour (the rate may follow
    the hourly rates' shape), sorted."""
    if workload.conversations is None or duration <= 0:
        return np.empty(0)
    pieces = []
    for begin in np.arange(0.0, duration, 3600.0):
        end = min(begin + 3600.0, duration)
        count = rng.poisson(workload.session_rate_at(begin) / 3600.0 * (end - begin))
        pieces.append(np.sort(rng.uniform(begin, end, count)))
    return np.concatenate(pieces) if pieces else np.empty(0)


class Customer:
    """The customer of one conversation: its draws, and the messages it has sent so far."""

    __slots__ = ("settings", "services", "number", "burst", "name", "intents", "points", "sent", "_rng")

    def __init__(
        self,
        settings: Conversations,
        services: Services,
        *,
        seed: int,
        replication: int,
        number: int,
        burst: int,
    ) -> None:
        self.settings = settings
        self.services = services
        self.number = number  # its place among the run's conversations, in opening order
        self.burst = burst
        self.name = f"{CUSTOMER_PREFIX}{number}"
        self._rng = conversation(seed, replication, number)
        behaviour = self._rng["behaviour"]
        self.intents = int(settings.messages.sample(behaviour, 1)[0])
        self.points = int(services.installation_points.sample(behaviour, 1)[0])
        self.sent: list[MessageKind] = []

    def message(self, message_id: int, at: float, kind: MessageKind) -> PlannedMessage:
        """Its next message, sent at `at`, with the CRM and LLM latencies and the fault draw it will meet."""
        index = len(self.sent)
        self.sent.append(kind)
        return PlannedMessage(
            id=message_id,
            customer=self.name,
            tax_id=self.name,
            index=index,
            burst=self.burst,
            at=at,
            crm_latency=float(self.services.crm.sample(self._rng["crm"], 1)[0]),
            llm_latency=float(self.services.llm.sample(self._rng["llm"], 1)[0]),
            points=self.points,
            fault_draw=float(self._rng["faults"].random()),
        )

    def think(self) -> float:
        """Reading the reply and typing the next intent."""
        return self._draw(self.settings.think)

    def patience(self) -> float:
        """How long it waits for a reply before it gives up, nudges or waits on."""
        return self._draw(self.settings.impatience)

    def gives_up(self) -> bool:
        """At an impatience expiry: does it leave?"""
        return self._chance(self.settings.give_up)

    def resends(self) -> bool:
        """After a busy apology: does it send the intent again?"""
        return self._chance(self.settings.resend)

    def resend_delay(self) -> float:
        return self._draw(self.settings.resend_delay)

    def _draw(self, dist: Distribution) -> float:
        return float(dist.sample(self._rng["behaviour"], 1)[0])

    def _chance(self, p: float) -> bool:
        """A uniform draw against `p`, drawn even when p is 0 or 1: the stream stays aligned across settings."""
        return bool(self._rng["behaviour"].random() < p)
