"""Customers who wait for answers, on SimPy's clock: one process per conversation.

A customer sends an intent and waits for its reply — told at the instant the handler replies
(`Serving.replied`, at the record's `reply_at`, before the worker releases the lock) — then thinks
and sends the next. Waiting, it may run out of patience: then it gives up, nudges ("?") or, with
no nudge left, waits on without a timer; a busy apology may make it re-send the intent. Every choice
is the customer's own draw (`sim.run.conversations.Customer`); this module only decides when each
is asked for. A reply answers the intent it was sent for: the intent itself, a nudge or a re-send
of it, whichever is answered first; a later reply to one of them is read and ignored.

A customer who gave up is gone: its messages still waiting for a worker are dropped when a worker
picks them up, at no cost (the bot finds the conversation closed). They have no record; the run's
`ConversationRecord`s list them and the invariants count them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.metrics.records import ConversationRecord, MessageKind, Outcome
from sim.run.conversations import Customer
from sim.run.serve import message_of
from sim.run.workload import PlannedMessage
from sim.scenario.model import Conversations, Services
from sim.sut.handler import Handled

LATE = 1e-9  # a reply told after its instant by more than this would be a bug: the customer heard it late


@dataclass(slots=True)
class _Talk:
    """One conversation as it goes: its customer and what has happened so far."""

    customer: Customer
    started: float
    answered: int = 0
    messages: list[int] = field(default_factory=list)
    gave_up_at: float | None = None
    dropped: list[int] = field(default_factory=list)

    def record(self) -> ConversationRecord:
        c = self.customer
        return ConversationRecord(
            burst=c.burst,
            customer=c.name,
            started=self.started,
            intents=c.intents,
            answered=self.answered,
            sent=tuple(c.sent),
            messages=tuple(self.messages),
            gave_up_at=self.gave_up_at,
            dropped=tuple(self.dropped),
        )


class Conversing:
    """Every conversation of one run: opens them, runs each customer, routes replies to them."""

    def __init__(
        self, env: simpy.Environment, settings: Conversations, services: Services, *, seed: int, replication: int
    ) -> None:
        self.env = env
        self.settings = settings
        self.services = services
        self.seed, self.replication = seed, replication
        self.dropped = 0  # messages dropped unserved: their customer had left
        self._talks: list[_Talk] = []
        self._by_burst: dict[int, _Talk] = {}
        self._inbox: dict[int, simpy.Store] = {}  # message id → where its reply goes, until it comes
        self._send: Callable[[PlannedMessage], None] = _not_started
        self._next_id = 0
        self._first_burst = 0

    def start(
        self, starts: np.ndarray, *, first_id: int, first_burst: int, send: Callable[[PlannedMessage], None]
    ) -> None:
        """Open a conversation at each of `starts`; their messages get ids from `first_id` on, in the order
        they are sent, and bursts from `first_burst` on; `send` lets a message in."""
        self._send, self._next_id, self._first_burst = send, first_id, first_burst
        self.env.process(self._open(starts))

    def records(self) -> tuple[ConversationRecord, ...]:
        """Every conversation, finished or not (one whose reply never came still waits), by burst."""
        return tuple(t.record() for t in self._talks)

    def replied(self, message: int, handled: Handled) -> None:
        """The built-in handler has just replied to `message` (and to its debounce batch): see `heard`."""
        if handled.outcome is Outcome.MERGED:
            return  # answered by its batch leader's reply, which names it
        self.heard(message, handled.outcome, handled.replied_at, tuple(message_of(t) for t in handled.batch))

    def heard(self, message: int, outcome: Outcome, at: float, batch: tuple[int, ...] = ()) -> None:
        """A reply to `message` (and to the messages of its batch) was just made: the customer hears it
        at `at`, which the clock has not yet passed."""
        delay = at - self.env.now
        if delay < -LATE:
            raise RuntimeError(f"message {message}'s reply at {at} was told at {self.env.now}")
        for answered in (message, *batch):
            box = self._inbox.pop(answered, None)
            if box is not None:
                _deliver(self.env.timeout(max(delay, 0.0)), box, outcome)

    def drops(self, planned: PlannedMessage) -> bool:
        """A worker picked `planned` up: True (and counted) when its customer has left, so it is dropped."""
        if planned.burst < self._first_burst:
            return False  # an open-loop burst's message
        talk = self._by_burst[planned.burst]
        if talk.gave_up_at is None:
            return False
        talk.dropped.append(planned.id)
        self.dropped += 1
        return True

    def _open(self, starts: np.ndarray) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for number, at in enumerate(starts.tolist()):
            if at > env.now:
                yield env.timeout(at - env.now)
            customer = Customer(
                self.settings,
                self.services,
                seed=self.seed,
                replication=self.replication,
                number=number,
                burst=self._first_burst + number,
            )
            talk = _Talk(customer, started=env.now)
            self._talks.append(talk)
            self._by_burst[customer.burst] = talk
            env.process(self._converse(talk))

    def _converse(self, talk: _Talk) -> Generator[simpy.Event, Any, None]:
        for intent in range(talk.customer.intents):
            if intent:
                yield self.env.timeout(talk.customer.think())
            answered = yield from self._ask(talk)
            if not answered:
                return
            talk.answered += 1

    def _ask(self, talk: _Talk) -> Generator[simpy.Event, Any, bool]:
        """Send the next intent and wait until a reply other than the busy apology answers it (True),
        or the customer gives up (False)."""
        env, customer, settings = self.env, talk.customer, self.settings
        box = simpy.Store(env)
        self._say(talk, box, MessageKind.INTENT)
        nudges = resends = 0
        timer: simpy.Event | None = env.timeout(customer.patience())
        resending = False  # the timer is a re-send's delay, not the customer's patience
        reply = box.get()
        while True:
            yield reply if timer is None else reply | timer
            if reply.triggered:  # a reply (first, if the timer ran out at the same instant)
                if reply.value is not Outcome.BUSY:
                    return True
                reply = box.get()
                resending = resends < settings.max_resends and customer.resends()
                timer = env.timeout(customer.resend_delay() if resending else customer.patience())
            elif resending:
                resends += 1
                self._say(talk, box, MessageKind.RESEND)
                timer, resending = env.timeout(customer.patience()), False
            elif customer.gives_up():
                talk.gave_up_at = env.now
                return False
            elif nudges < settings.max_nudges:
                nudges += 1
                self._say(talk, box, MessageKind.NUDGE)
                timer = env.timeout(customer.patience())
            else:
                timer = None  # no nudge left: it waits for the reply, however long

    def _say(self, talk: _Talk, box: simpy.Store, kind: MessageKind) -> None:
        planned = talk.customer.message(self._next_id, self.env.now, kind)
        self._next_id += 1
        talk.messages.append(planned.id)
        self._inbox[planned.id] = box
        self._send(planned)


def _deliver(at: simpy.Event, box: simpy.Store, outcome: Outcome) -> None:
    """Put `outcome` in `box` when `at` fires."""

    def put(_: simpy.Event) -> None:
        box.put(outcome)

    at.callbacks.append(put)


def _not_started(planned: PlannedMessage) -> None:
    raise RuntimeError("conversations send messages only once started")
