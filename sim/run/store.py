"""The conversation store as a run sees it: where each answer made under the lock is written, outside Redis.

It is the witness of lock safety. An answer is written at the end of its handling; a holder whose
lock was lost (its TTL ran out during a stall, or a failover promoted a replica that never had it)
still writes, and if the worker that took the lock after it has written already, the older answer
lands last: a stale write (`sim.metrics.lock_safety` finds them in the records, by when each
holder acquired). With fencing, every grant carries a token that only grows, and the store refuses
a write whose token is older than the newest it has accepted for that conversation (Kleppmann,
"How to do distributed locking"): then no stale write can land.
"""

from __future__ import annotations

from sim.sut.effects import SYNC, Step


class FencedStore:
    """Accepts every write, or with `fencing` refuses one whose fence is older than the conversation's newest.

    `writes` and `refused` are counted here, where the writes happen; the records must add up to them.
    A write takes no simulated time: the store is a measuring device, not a service whose latency is studied.
    """

    __slots__ = ("_newest", "fencing", "refused", "writes")

    def __init__(self, *, fencing: bool) -> None:
        self.fencing = fencing
        self.writes = 0
        self.refused = 0
        self._newest: dict[str, int] = {}  # conversation → the newest fence accepted

    def write(self, thread_id: str, token: str, fence: int | None) -> Step[bool]:
        yield SYNC  # the writes of every worker land in the order of the world's clock
        self.writes += 1
        if not self.fencing or fence is None:
            return True
        newest = self._newest.get(thread_id)
        if newest is not None and fence < newest:
            self.refused += 1
            return False
        self._newest[thread_id] = fence
        return True
