"""`[workers]model`, `[redis]rtt` as a distribution, `[timers]jitter` and `[cache]hit_cost`:
read, refused in one line, described in words, and carried by sweeps and tuned tables."""

import pytest

from sim.core import distributions as d
from sim.experiment.sweep import grid_scenario, parse_grid
from sim.live import check_live
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.describe import workload
from sim.scenario.model import WorkerModel
from sim.tune.toml_block import variant_table
from tests.helpers import write_scenario as write
from tests.scenario.test_hostile_values import cli_refuses

BASE = """
[workload]
[[workload.script]]
customer = "a"
messages = ["0s", "2s"]
"""

NOISY = (
    BASE
    + """
[workers]
count = 8
model = "async"
[redis]
rtt = { dist = "lognormal", median = "1ms", p95 = "8ms" }
[timers]
jitter = "5ms"
[cache]
enabled = true
hit_cost = { dist = "uniform", low = "50ms", high = "100ms" }
[variants.pool]
workers = { model = "pool" }
redis = { rtt = "2ms" }
[variants.exact]
timers = { jitter = "0s" }
cache = { enabled = false }
"""
)


def test_the_defaults_are_a_pool_with_exact_timers_a_constant_round_trip_and_free_hits(tmp_path):
    v = load_scenario(write(tmp_path, BASE)).variants[0]
    assert (v.worker_model, v.redis_rtt, v.timers.jitter, v.cache.hit_cost) == (WorkerModel.POOL, 0.001, 0.0, None)


def test_every_setting_is_read_and_a_variant_overrides_or_inherits_each(tmp_path):
    s = load_scenario(write(tmp_path, NOISY))
    pool, exact = s.variant("pool"), s.variant("exact")
    assert pool.worker_model is WorkerModel.POOL and pool.redis_rtt == 0.002
    assert pool.timers.jitter == 0.005 and pool.cache.hit_cost == d.Uniform(0.05, 0.1)
    assert exact.worker_model is WorkerModel.ASYNC and exact.redis_rtt == d.LogNormal(0.001, 0.008)
    assert exact.timers.jitter == 0.0 and exact.workers == 8


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[workers]\nmodel = "threads"\n', "[workers]model: expected one of pool, async, got 'threads'"),
        ('[timers]\njitter = "-5ms"\n', "[timers]jitter: expected a duration"),
        ('[timers]\nspread = "5ms"\n', "[timers]spread: unknown key (allowed here: jitter)"),
        ('[redis]\nrtt = { dist = "uniform", low = "5ms", high = "1ms" }\n', "[redis.rtt]high: must be at least low"),
        ('[cache]\nhit_cost = { dist = "gauss" }\n', "[cache.hit_cost]dist: expected one of fixed"),
    ],
)
def test_a_bad_timing_setting_is_one_line_naming_its_key(tmp_path, capsys, extra, message):
    assert message in cli_refuses(write(tmp_path, BASE + extra), capsys)


def test_the_words_name_the_worker_model_and_every_noise_source(tmp_path):
    s = load_scenario(write(tmp_path, NOISY))
    lines = workload(s)
    services = next(line for line in lines if line.startswith("**Services**"))
    assert services.endswith(
        "Redis round trip 2 ms; each of the handler's timers ends within ±5 ms of its due time; "
        "a cache hit costs uniform 50 ms–100 ms more."
    )
    assert lines[-2].endswith("cache 300 s; 8 workers.")  # the baseline, a pool
    assert lines[-1] == (
        "**exact:** as pool, except cache.enabled on → off; redis_rtt 2 ms → lognormal, median 1 ms, p95 8 ms; "
        "worker_model pool → async; timers.jitter 5 ms → 0 s."
    )
    assert s.variant("exact").describe().endswith("no cache; async workers (a waiting message holds none; no limit)")
    assert load_scenario(write(tmp_path, BASE + '[redis]\nrtt = { dist = "fixed", value = "3ms" }\n')).variants[
        0
    ].redis_rtt == d.Fixed(0.003)


def test_a_sweep_varies_the_worker_model_and_the_jitter(tmp_path):
    s = load_scenario(write(tmp_path, BASE))
    grid = grid_scenario(s, parse_grid(["workers.model=pool,async", "timers.jitter=0ms,5ms"]))
    assert [(v.worker_model.value, v.timers.jitter) for v in grid.variants] == [
        ("pool", 0.0), ("pool", 0.005), ("async", 0.0), ("async", 0.005),
    ]  # fmt: skip


def test_a_tuned_table_keeps_the_worker_model_and_a_drawn_round_trip(tmp_path):
    s = load_scenario(write(tmp_path, NOISY))
    source = s.variant("exact")
    pasted = write(tmp_path, NOISY + "\n" + variant_table(source, "tuned", "exact"), "pasted.toml")
    tuned = load_scenario(pasted).variant("tuned")
    assert (tuned.worker_model, tuned.redis_rtt, tuned.workers) == (source.worker_model, source.redis_rtt, 8)


def test_sim_live_refuses_the_async_model_before_connecting(tmp_path):
    with pytest.raises(ScenarioError, match="variant 'default': the async worker model is simulated only"):
        check_live(load_scenario(write(tmp_path, BASE + '[workers]\nmodel = "async"\n')))
    check_live(load_scenario(write(tmp_path, BASE)))
