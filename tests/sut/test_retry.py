import pytest

from sim.sut.retry import DecorrelatedJitter, EqualJitter, Exponential, Fixed, FullJitter


def test_fixed_policy_waits_the_same_every_time():
    assert [Fixed(0.1).delay(n) for n in range(1, 5)] == [0.1, 0.1, 0.1, 0.1]


def test_exponential_policy_matches_the_seed_sequence_in_ms():
    policy = Exponential(base=0.1, factor=2, cap=2.0)
    waits_ms = [round(policy.delay(n) * 1000) for n in range(1, 9)]
    assert waits_ms == [100, 200, 400, 800, 1600, 2000, 2000, 2000]


def test_exponential_policy_stays_capped_for_huge_attempt_numbers():
    assert Exponential(0.1, 2, 2.0).delay(10_000) == 2.0


def test_full_jitter_scales_the_exponential_wait_by_the_random_draw():
    policy = FullJitter(Exponential(0.1, 2, 2.0), rand=lambda: 0.25)
    assert [policy.delay(n) for n in (1, 3, 6)] == pytest.approx([0.025, 0.1, 0.5])


def test_equal_jitter_keeps_half_the_wait_fixed():
    low = EqualJitter(Exponential(0.1, 2, 2.0), rand=lambda: 0.0)
    high = EqualJitter(Exponential(0.1, 2, 2.0), rand=lambda: 0.999999)
    assert low.delay(3) == pytest.approx(0.2)
    assert high.delay(3) == pytest.approx(0.4, rel=1e-5)


def test_decorrelated_jitter_grows_from_the_previous_wait_and_is_capped():
    draws = iter([1.0, 1.0, 1.0, 1.0, 0.0])
    policy = DecorrelatedJitter(base=0.1, cap=2.0, rand=lambda: next(draws))
    waits = [policy.delay(n) for n in range(1, 6)]
    # uniform(base, 3 * previous) at its top: 0.3, 0.9, 2.7→cap 2.0, then cap, then base.
    assert waits == pytest.approx([0.3, 0.9, 2.0, 2.0, 0.1])


def test_decorrelated_jitter_restarts_from_base_on_a_new_acquire():
    policy = DecorrelatedJitter(base=0.1, cap=2.0, rand=lambda: 1.0)
    [policy.delay(n) for n in range(1, 4)]
    assert policy.fresh().delay(1) == pytest.approx(0.3)
