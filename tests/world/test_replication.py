"""Replication and failover against an independent model of the replicas.

`Model` below knows nothing of fakeredis or of `sim.world.replication`: it interprets the few
commands the test sends on a dict of (value, expiry), decides itself which of them reached the
replicas (as Redis, only a command that changed a key: a refused SET NX, an empty LPOP, a DEL or
PEXPIRE of a missing key change nothing, so nothing is shipped), computes when
each replica applies each write (in the primary's order: the running maximum of the write's
instant plus its lag), which writes each replica holds when the primary dies, which replica is
promoted, and what `WAIT` answers. The simulated Redis must agree with it on every key, value and
expiry.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.sut.lock import RELEASE_SCRIPT
from sim.world import fakeredis_clock
from sim.world.executors import DirectExecutor, RedisPyExecutor
from sim.world.replication import Replicated, Replication

KEYS = ("a", "b", "c")


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


class Lags:
    """Hands out the lags in order, as `Replication` draws them: per shipped write, replica by replica."""

    def __init__(self, lags: list[float]) -> None:
        self.lags, self.at = lags, 0

    def __call__(self) -> float:
        lag = self.lags[self.at % len(self.lags)]
        self.at += 1
        return lag


# -- the independent model -------------------------------------------------------------------------


@dataclass
class Model:
    """A few Redis commands on a dict: key → (value, expiry or None); a list is a Python list."""

    data: dict[str, tuple[object, float | None]] = field(default_factory=dict)

    def _get(self, key: str, now: float) -> object | None:
        found = self.data.get(key)
        if found is None:
            return None
        if found[1] is not None and found[1] < now:  # expired: gone (fakeredis keeps a key alive at its instant)
            del self.data[key]
            return None
        return found[0]

    def run(self, command: tuple, now: float) -> tuple[bool, bool]:
        """(whether it succeeded, whether the replicas are sent it)."""
        name, key, *rest = command
        value = self._get(key, now)
        if name == "SET":
            nx = "NX" in rest
            if nx and value is not None:
                return True, False  # refused: a nil reply, nothing shipped
            expiry = now + rest[rest.index("PX") + 1] / 1000.0 if "PX" in rest else None
            self.data[key] = (rest[0], expiry)
            return True, True
        if name == "DEL":
            return True, self.data.pop(key, None) is not None and value is not None  # a missing key: nothing
        if name == "INCR":
            if isinstance(value, list) or (value is not None and not str(value).lstrip("-").isdigit()):
                return False, False  # an error: nothing written
            expiry = self.data[key][1] if value is not None else None
            self.data[key] = (str(int(value or 0) + 1), expiry)
            return True, True
        if name == "RPUSH":
            if value is not None and not isinstance(value, list):
                return False, False
            if value is None:
                self.data[key] = ([], None)
            self.data[key][0].append(rest[0])  # type: ignore[union-attr]
            return True, True
        if name == "LPOP":
            if value is not None and not isinstance(value, list):
                return False, False
            if not value:
                return True, False  # nil: nothing popped, nothing shipped
            value.pop(0)
            if not value:
                del self.data[key]
            return True, True
        if name == "PEXPIRE":
            if value is None:
                return True, False  # no key: nothing changed
            self.data[key] = (value, now + rest[0] / 1000.0)
            return True, True
        raise AssertionError(name)

    def live(self, now: float) -> dict[str, tuple[object, float | None]]:
        return {k: (v[0], v[1]) for k in list(self.data) if (v := self.data[k]) and self._get(k, now) is not None}


def expected_replicas(shipped: list[float], lags: list[float], replicas: int) -> list[list[float]]:
    """Per replica, when it applies each shipped write (instants in `shipped`, lags drawn in order)."""
    draw = Lags(lags)
    applied: list[list[float]] = [[] for _ in range(replicas)]
    for at in shipped:
        for times in applied:
            times.append(max(times[-1] if times else -math.inf, at + draw()))
    return applied


# -- driving the simulated Redis -------------------------------------------------------------------


def contents(server, now: float) -> dict[str, tuple[object, float | None]]:
    """Every live key of `server`: its value (a list for a list) and its expiry in seconds, as the model keeps them."""
    client = fakeredis_clock.client(server)
    found = {}
    for raw in client.keys("*"):
        key = raw.decode()
        kind = client.type(key).decode()
        value = [v.decode() for v in client.lrange(key, 0, -1)] if kind == "list" else client.get(key).decode()
        expires = client.pexpiretime(key)
        found[key] = (value, None if expires == -1 else expires)
    return found


def as_model_sees(model: Model, now: float) -> dict[str, tuple[object, float | None]]:
    return {k: (v, None if e is None else int(e * 1000)) for k, (v, e) in model.live(now).items()}


key = st.sampled_from(KEYS)
commands = st.one_of(
    st.tuples(st.just("SET"), key, st.sampled_from(["1", "x"])),
    st.tuples(st.just("SET"), key, st.sampled_from(["2", "y"]), st.just("PX"), st.sampled_from([1, 700, 3000])),
    st.tuples(st.just("SET"), key, st.just("z"), st.just("NX"), st.just("PX"), st.sampled_from([400, 2500])),
    st.tuples(st.just("DEL"), key),
    st.tuples(st.just("INCR"), key),
    st.tuples(st.just("RPUSH"), key, st.sampled_from(["p", "q"])),
    st.tuples(st.just("LPOP"), key),
    st.tuples(st.just("PEXPIRE"), key, st.sampled_from([300, 1500])),
)
steps = st.lists(st.tuples(st.sampled_from([0.0, 0.013, 0.25, 0.6, 1.1]), commands), max_size=25)
lag_lists = st.lists(st.sampled_from([0.0, 0.004, 0.2, 0.9, 2.7]), min_size=1, max_size=7)


@settings(max_examples=300, deadline=None)
@given(steps, lag_lists, st.integers(1, 3), st.floats(0.0, 12.0), st.sampled_from([0.5, 4.0]))
def test_the_promoted_replica_holds_what_the_independent_model_says(steps, lags, replicas, death, detection):
    clock, model = Clock(), Model()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, replicas, Lags(lags), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    shipped: list[tuple[float, tuple]] = []
    for dt, command in steps:
        clock.now += dt
        if clock.now >= death:
            break
        ok, ships = model.run(command, clock.now)
        try:
            executor.command(command)
            assert ok, command
        except redis.ResponseError:
            assert not ok, command
        if ships:
            shipped.append((clock.now, command))
    applied = expected_replicas([at for at, _ in shipped], lags, replicas)
    clock.now = death
    replication.fail()
    held = [sum(1 for at in times if at <= death) for times in applied]
    chosen = max(range(replicas), key=lambda j: (held[j], -j))
    clock.now = death + detection
    assert replication.promote() == 1
    survivor = Model()
    for at, command in shipped[: held[chosen]]:
        survivor.run(command, at)
    assert contents(primary, clock.now) == as_model_sees(survivor, clock.now)
    assert replication.offset == held[chosen]


@settings(max_examples=200, deadline=None)
@given(steps, lag_lists, st.integers(1, 3), st.integers(0, 4), st.sampled_from([0.0, 0.1, 1.0, 5.0]))
def test_wait_answers_what_the_independent_model_says(steps, lags, replicas, count, timeout):
    clock, model = Clock(), Model()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, replicas, Lags(lags), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    shipped: list[float] = []
    for dt, command in steps:
        clock.now += dt
        ok, ships = model.run(command, clock.now)
        if ok:
            executor.command(command)
        if ships:
            shipped.append(clock.now)
    now = clock.now
    acks = sorted(times[-1] if times else -math.inf for times in expected_replicas(shipped, lags, replicas))
    reach = now if count == 0 else max(now, acks[count - 1]) if count <= replicas else math.inf
    until = min(reach, now + timeout if timeout > 0 else math.inf)
    plan = replication.wait(count, timeout)
    assert (plan.until, plan.acknowledged) == (until, sum(1 for at in acks if at <= until))


def test_a_relative_ttl_becomes_the_same_absolute_expiry_on_the_replica_however_late_it_applies():
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, 1, Lags([1.5]), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    executor.command(("SET", "lock", "me", "NX", "PX", 2000))  # expires at 2.0 s on the primary
    clock.now = 1.9
    replication.fail()  # the replica applied it at 1.5 s
    clock.now = 1.95
    replication.promote()
    assert contents(primary, 1.95) == {"lock": ("me", 2000)}  # not 1.5 + 2 s


def test_a_set_nx_refused_on_the_primary_is_not_replayed_even_if_the_key_expired_by_then():
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, 1, Lags([0.0, 5.0]), clock)  # the first write lands at once, later ones 5 s late
    executor = Replicated(DirectExecutor(primary), replication)
    executor.command(("SET", "lock", "A", "NX", "PX", 1000))
    clock.now = 0.5
    assert executor.command(("SET", "lock", "B", "NX", "PX", 1000)) is None  # refused: A holds it
    clock.now = 9.0
    replication.settle()
    replication.fail()
    replication.promote()
    assert contents(primary, 9.0) == {}  # A's lock expired at 1 s; B's refused SET never reached the replica


def test_a_script_is_replicated_as_its_effects_and_the_promoted_replica_has_no_script_loaded():
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, 1, Lags([0.01]), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    executor.command(("SET", "lock:thread:t", "msg-1", "PX", 120000))
    assert executor.script(RELEASE_SCRIPT, ("lock:thread:t",), ("msg-1",)) == 1
    executor.command(("SET", "lock:thread:u", "msg-2", "PX", 120000))
    clock.now = 1.0
    replication.fail()
    replication.promote()
    assert contents(primary, 1.0) == {"lock:thread:u": ("msg-2", 120000)}  # the release's DEL applied too
    sha = hashlib.sha1(RELEASE_SCRIPT.encode()).hexdigest()
    assert fakeredis_clock.client(primary).script_exists(sha) == [False]  # loaded on the old primary only


@pytest.mark.parametrize("path", [DirectExecutor, RedisPyExecutor], ids=["direct", "redis-py"])
def test_after_a_promotion_the_next_script_call_reloads_it_on_either_path(path):
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, 1, Lags([0.0]), clock)
    executor = Replicated(path(primary), replication)
    executor.command(("SET", "lock:thread:t", "msg-1", "PX", 120000))
    assert executor.script(RELEASE_SCRIPT, ("lock:thread:t",), ("other",)) == -1
    clock.now = 1.0
    replication.fail()
    replication.promote()
    assert fakeredis_clock.client(primary).script_exists(hashlib.sha1(RELEASE_SCRIPT.encode()).hexdigest()) == [False]
    assert executor.script(RELEASE_SCRIPT, ("lock:thread:t",), ("msg-1",)) == 1  # NOSCRIPT, loaded, run


def test_the_other_replicas_catch_up_with_the_promoted_one_after_a_lag():
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    # Write 1: replica 1 after 0.1 s, replica 2 after 3 s; write 2: 0.1 s and 3 s again; after the promotion, 0.5 s.
    replication = Replication(primary, 2, Lags([0.1, 3.0, 0.1, 3.0, 0.5, 0.5]), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    executor.command(("SET", "a", "1"))
    executor.command(("RPUSH", "q", "x"))
    clock.now = 1.0
    replication.fail()
    replication.promote()  # replica 1 had both writes; replica 2 none
    other = replication.replicas[0]
    assert other.number == 2 and replication.wait(1, 0).until == 1.5  # it has both writes 0.5 s after the promotion
    clock.now = 1.5
    replication.settle()
    assert contents(other.server, 1.5) == contents(primary, 1.5) == {"a": ("1", None), "q": (["x"], None)}


def test_a_restart_without_persistence_empties_the_replicas_too():
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, 2, Lags([0.0]), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    executor.command(("SET", "a", "1"))
    clock.now = 1.0
    replication.settle()
    replication.flush()
    assert [contents(r.server, 1.0) for r in replication.replicas] == [{}, {}]
    assert replication.wait(2, 1.0).acknowledged == 2  # nothing left to acknowledge


def test_only_commands_that_changed_a_key_are_shipped():
    clock = Clock()
    primary = fakeredis_clock.clocked_server(clock)
    replication = Replication(primary, 1, Lags([1.0]), clock)
    executor = Replicated(DirectExecutor(primary), replication)
    nothing = [
        ("GET", "a"),
        ("PTTL", "a"),
        ("DEL", "a"),
        ("PEXPIRE", "a", 100),
        ("LPOP", "none"),
        ("SCRIPT", "LOAD", "return 1"),
    ]
    for command in nothing:
        executor.command(command)
    with pytest.raises(redis.ResponseError):
        executor.command(("INCR", "a", "b"))  # wrong arity: refused before it ran
    assert replication.offset == 0
    executor.command(("SET", "a", "1", "GET"))  # replies nil (no old value), and writes
    executor.command(("SET", "a", "1", "NX"))  # refused
    executor.command(("SET", "a", "1"))  # the same value again: Redis ships it too
    assert replication.offset == 2
