"""The configuration is data: one frozen dataclass per backoff and fault kind, checked when built in code too."""

import pytest

from sim.experiment.sweep import backoff_table
from sim.scenario.load import parse_backoff
from sim.scenario.model import (
    BACKOFF_KINDS,
    CrmErrors,
    DecorrelatedJitterBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    FixedBackoff,
    FullJitterBackoff,
    RedisDown,
    RedisRestart,
    ScenarioError,
    Stall,
)
from sim.scenario.reader import Reader

EVERY_BACKOFF = [
    FixedBackoff(0.1),
    ExponentialBackoff(0.1, 2.0, 2.0),
    FullJitterBackoff(0.1, 3.0, 1.0),
    EqualJitterBackoff(0.2, 1.5, 4.0),
    DecorrelatedJitterBackoff(0.1, 2.0),
]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: FixedBackoff(0.0), "fixed backoff: delay must be above zero, got 0.0"),
        (lambda: ExponentialBackoff(0.5, 2.0, 0.1), "exponential backoff: cap must be at least base (0.5), got 0.1"),
        (lambda: FullJitterBackoff(0.1, 0.5, 1.0), "full_jitter backoff: factor must be at least 1, got 0.5"),
        (lambda: DecorrelatedJitterBackoff(float("nan"), 1.0), "decorrelated_jitter backoff: base must be above zero"),
        (lambda: RedisDown(-1.0, 5.0), "redis_down fault: start must be zero or more, got -1.0"),
        (lambda: RedisRestart(float("inf")), "redis_restart fault: start must be zero or more, got inf"),
        (lambda: CrmErrors(0.0, 10.0, 1.5), "crm_errors fault: rate must be from 0 to 1, got 1.5"),
        (lambda: CrmErrors(0.0, 0.0, 0.5), "crm_errors fault: duration must be above zero, got 0.0"),
        (lambda: Stall(0.0, 10.0, 0.0), "stall fault: extra must be above zero, got 0.0"),
    ],
)
def test_a_config_built_in_code_is_checked_like_a_file(build, message):
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


@pytest.mark.parametrize("backoff", EVERY_BACKOFF, ids=lambda b: b.kind)
def test_the_sweeps_table_of_a_backoff_reads_back_as_the_same_backoff(backoff):
    assert parse_backoff(Reader("--grid", "lock.backoff", backoff_table(backoff))) == backoff


@pytest.mark.parametrize("backoff", EVERY_BACKOFF, ids=lambda b: b.kind)
def test_scaling_a_backoff_scales_every_wait_and_keeps_its_kind_and_factor(backoff):
    scaled = backoff.scaled(0.5)
    assert type(scaled) is type(backoff) and scaled.first_delay() == backoff.first_delay() * 0.5
    assert getattr(scaled, "factor", None) == getattr(backoff, "factor", None)
    assert getattr(scaled, "cap", 0.0) == getattr(backoff, "cap", 0.0) * 0.5


def test_every_kind_a_file_may_name_has_its_class():
    assert list(BACKOFF_KINDS) == ["fixed", "exponential", "full_jitter", "equal_jitter", "decorrelated_jitter"]
    assert all(cls.kind == kind for kind, cls in BACKOFF_KINDS.items())


def test_a_decorrelated_backoff_still_reads_a_factor_it_has_no_use_for():
    table = {"kind": "decorrelated_jitter", "base": "100ms", "factor": 3, "cap": "2s"}
    backoff = parse_backoff(Reader("s.toml", "lock.backoff", table))
    assert backoff == DecorrelatedJitterBackoff(0.1, 2.0)
    assert backoff.describe() == "decorrelated jitter 100→2000 ms"
