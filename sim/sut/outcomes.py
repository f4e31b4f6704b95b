"""The closed sets the handler and the cache produce.

In a module of their own, free of any import, so that the results model
(`sim.metrics.records`) can name them without pulling in redis-py: `sim --help`
stays fast.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What the customer got for a message."""

    ANSWERED = "answered"  # an answer (the LLM's, or the outage notice)
    BUSY = "busy"  # the busy apology: the lock stayed taken
    FAILED = "failed"  # the failure apology: a service failed or timed out
    MERGED = "merged"  # debounce: answered by the reply to another message of its burst
    NO_REPLY = "no_reply"  # a team's handler (`[code]`) returned without replying: the customer got nothing


class Source(StrEnum):
    """Where the outage check's answer came from (a check that did not finish has none: `None`)."""

    HIT = "hit"  # the cache, or another worker's single-flight fill
    MISS = "miss"  # the CRM, then stored in the cache
    FALLBACK = "fallback"  # the CRM, because the cache could not be read
    OFF = "off"  # the CRM, with caching off


class Stored(StrEnum):
    """What the conversation store did with an answer, written as it was sent (runs that measure lock safety)."""

    ACCEPTED = "accepted"
    REFUSED = "refused"  # fencing: the holder's token was older than one the store had accepted
