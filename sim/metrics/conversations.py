"""The metrics of customers who wait for answers, from a run's `ConversationRecord`s.

What a before/after comparison with such customers must show beside the messages' own metrics:
how many customers gave up, how many of their intents got an answer, and how much the waiting
provoked (nudges, re-sends after a busy apology, messages dropped because their customer had left).
Rates per intent are per intent *sent*: an intent a customer never sent (it had left) could not be
nudged. The share answered is over every intent the customers came with: one never sent is one
the customer did not get answered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sim.metrics.catalog import CONVERSATION_METRICS
from sim.metrics.records import ConversationRecord, MessageKind


def conversation_metrics(conversations: Sequence[ConversationRecord]) -> dict[str, float]:
    """CONVERSATION_METRICS of one run, in their order; NaN where one does not apply (no conversation,
    no intent sent). A run of a scenario with conversations that opened none has 0 conversations."""
    kinds = [kind for talk in conversations for kind in talk.sent]
    sent = kinds.count(MessageKind.INTENT)
    intents = sum(talk.intents for talk in conversations)
    found = {
        "conversations": len(conversations),
        "abandon_rate": _share(sum(talk.gave_up_at is not None for talk in conversations), len(conversations)),
        "intents_answered_rate": _share(sum(talk.answered for talk in conversations), intents),
        "nudges_per_intent": _share(kinds.count(MessageKind.NUDGE), sent),
        "resends_per_intent": _share(kinds.count(MessageKind.RESEND), sent),
        "dropped_messages": sum(len(talk.dropped) for talk in conversations),
    }
    assert list(found) == list(CONVERSATION_METRICS)
    return found


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan
