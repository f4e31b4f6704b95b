"""The layer both engines share: the streams of a run, the backoff → retry policy mapping, tokens."""

import numpy as np
import pytest

from sim.run.assemble import retry_policy
from sim.run.serve import SIMULATED, TimeScale, message_of, token
from sim.run.streams import STREAMS, Streams
from sim.scenario.model import (
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
)
from sim.sut import retry


def test_each_named_stream_is_the_child_of_its_position_in_the_append_only_list():
    rng = Streams.of(7, 3)
    children = np.random.SeedSequence([7, 3]).spawn(len(STREAMS))
    for name, child in zip(STREAMS, children, strict=True):
        expected = np.random.Generator(np.random.PCG64(child)).random(4)
        assert list(getattr(rng, name).random(4)) == list(expected), name


def test_streams_of_a_run_are_made_anew_for_each_run():
    assert Streams.of(1, 0).crm.random() == Streams.of(1, 0).crm.random()
    assert Streams.of(1, 0).crm.random() != Streams.of(1, 1).crm.random()


def half():
    return 0.5


@pytest.mark.parametrize(
    "backoff, policy",
    [
        (FixedBackoff(0.1), retry.Fixed(0.1)),
        (ExponentialBackoff(0.1, 3.0, 2.0), retry.Exponential(0.1, 3.0, 2.0)),
        (FullJitterBackoff(0.1, 2.0, 1.0), retry.FullJitter(retry.Exponential(0.1, 2.0, 1.0), half)),
        (EqualJitterBackoff(0.1, 2.0, 1.0), retry.EqualJitter(retry.Exponential(0.1, 2.0, 1.0), half)),
        (DecorrelatedJitterBackoff(0.1, 2.0), retry.DecorrelatedJitter(0.1, 2.0, half)),
    ],
    ids=lambda x: getattr(x, "kind", ""),
)
def test_each_backoff_kind_becomes_its_retry_policy(backoff, policy):
    made = retry_policy(backoff, half)
    assert type(made) is type(policy) and made == policy
    assert [made.delay(n) for n in (1, 2, 3)] == [policy.delay(n) for n in (1, 2, 3)]


@pytest.mark.parametrize("run_id", ["", "0123abcd"])
def test_a_token_gives_back_its_message_id_with_or_without_a_run_id(run_id):
    assert message_of(token(42, run_id)) == 42
    assert token(42, run_id).endswith(f"@{run_id}") == bool(run_id)


def test_the_simulated_clock_leaves_times_as_they_are_and_a_live_one_rescales_them():
    assert (SIMULATED.at(12.5), SIMULATED.instant(None)) == (12.5, None)
    wall = TimeScale(start=100.0, factor=0.5)
    assert (wall.at(101.0), wall.instant(None), wall.instant(100.5)) == (2.0, None, 1.0)
