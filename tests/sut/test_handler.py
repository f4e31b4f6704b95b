"""The message handler end to end on the production driver."""

import pytest

from sim.run.services import PlannedCrm, PlannedLlm
from sim.sut.cache import OutageCache
from sim.sut.handler import BUSY_REPLY, Message, MessageHandler, ServiceError
from sim.sut.lock import LockConfig, ThreadLock
from sim.sut.retry import Fixed
from tests.helpers import Harness


def handler(ttl=120, timeout=30, cache_ttl=300):
    return MessageHandler(ThreadLock(LockConfig(ttl, timeout, Fixed(0.1))), OutageCache(cache_ttl))


def msg(token="t1"):
    return Message("thread_A", "123", "hello", token)


class FailingLlm:
    def answer(self, text, outage_points):
        raise ServiceError("LLM timed out")
        yield  # pragma: no cover - makes this a generator


def test_answers_after_crm_and_llm_and_releases_the_lock():
    h = Harness()
    done = h.run(handler().handle(msg(), PlannedCrm(9.0, 2), PlannedLlm(17.0)))
    assert (done.outcome, done.answer.source, done.lock_lost) == ("answered", "miss", False)
    assert (done.answer.crm_s, done.answer.llm_s, done.replied_at) == (9.0, 17.0, 26.0)
    assert h.redis.get("lock:thread:thread_A") is None


def test_busy_apology_when_the_lock_stays_taken():
    h = Harness()
    h.redis.set("lock:thread:thread_A", "other", px=600_000)
    done = h.run(handler().handle(msg(), PlannedCrm(9.0, 2), PlannedLlm(17.0)))
    assert (done.outcome, done.answer.reply, done.answer.source) == ("busy", BUSY_REPLY, None)
    assert done.replied_at == pytest.approx(30.0)


def test_processing_longer_than_the_ttl_is_recorded_as_lock_lost():
    h = Harness()
    done = h.run(handler(ttl=20).handle(msg(), PlannedCrm(9.0, 2), PlannedLlm(17.0)))
    assert (done.outcome, done.lock_lost) == ("answered", True)


def test_service_failure_is_a_failed_outcome_and_still_releases_the_lock():
    h = Harness()
    done = h.run(handler().handle(msg(), PlannedCrm(9.0, 2), FailingLlm()))
    assert (done.outcome, done.lock_lost) == ("failed", False)
    assert h.redis.get("lock:thread:thread_A") is None


def test_answered_from_the_crm_when_redis_goes_away_after_the_lock_is_taken():
    h = Harness()

    def redis_dies_once_locked(line):
        h.logs.append(line)
        if line.startswith("Lock acquired"):
            h.server.connected = False

    h.driver.log = redis_dies_once_locked
    done = h.run(handler().handle(msg(), PlannedCrm(9.0, 2), PlannedLlm(17.0)))
    assert (done.outcome, done.answer.source, done.answer.cache_errors) == ("answered", "fallback", 1)
    assert done.lock_lost is False  # the release could not reach Redis: unknown, not lost
    assert h.logs[-1] == "Lock for thread_A not released: unreachable"


def test_unreachable_redis_means_busy_after_the_lock_timeout_with_every_attempt_an_error():
    h = Harness()
    h.server.connected = False
    done = h.run(handler(timeout=1).handle(msg(), PlannedCrm(9.0, 2), PlannedLlm(17.0)))
    assert (done.outcome, done.acquisition.attempts, done.acquisition.errors) == ("busy", 11, 11)


def test_joining_a_debounce_batch_sets_its_ttl_in_the_same_script_as_the_append():
    """One EVALSHA, not RPUSH then PEXPIRE: nothing can leave a batch list without a TTL."""
    from sim.sut.effects import Script
    from sim.sut.handler import JOIN_BATCH_SCRIPT, HandlerOptions

    h = Harness()
    debounced = MessageHandler(
        ThreadLock(LockConfig(120, 30, Fixed(0.1))), OutageCache(300), HandlerOptions(debounce=2.0)
    )
    step = debounced._join_batch(msg())
    effect = step.send(None)
    assert type(effect) is Script and effect.source is JOIN_BATCH_SCRIPT
    assert h.run(debounced._join_batch(msg("t2"))) is True  # the first in its batch answers for all
    assert h.run(debounced._join_batch(msg("t3"))) is False
    assert h.redis.lrange("debounce:thread_A", 0, -1) == [b"t2", b"t3"]
    assert h.redis.pttl("debounce:thread_A") == 2 * (2_000 + 30_000)
