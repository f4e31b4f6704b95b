"""A trace and a scenario `sim fit` made from the same log describe one world: their main metrics
must agree within their intervals.

The trace is one realisation of the fitted world's arrivals (its replications differ only in the
latencies), so it is held to the fitted scenario's 95 % prediction interval for one replication,
mean ± t·s·√(1 + 1/R) — the interval `sim validate` uses — widened by the trace's own 95 % CI."""

from __future__ import annotations

import math

import pytest

from sim.cli import main
from sim.experiment import run_replications
from sim.fit.export import write_logs
from sim.scenario import load_scenario
from sim.world.model import simulate
from tests.helpers import write_scenario

WORLD = """
[scenario]
seed = 3
duration = "1h"
[workload]
customers_per_hour = 300
population = 400
burst_size = { dist = "choice", values = [1, 2, 3, 4], weights = [0.4, 0.3, 0.2, 0.1] }
burst_gap = { dist = "exponential", mean = "6s" }
[services]
crm = { dist = "lognormal", median = "9s", p95 = "14s" }
llm = { dist = "lognormal", median = "17s", p95 = "28s" }
[workers]
count = 30
"""
VARIANTS = """
[workers]
count = 30
[variants.before]
lock = { timeout = "30s" }
[variants.after]
lock = { timeout = "60s", backoff = { kind = "exponential", base = "100ms", factor = 2, cap = "2s" } }
cache = { enabled = true, ttl = "300s" }
"""
METRICS = ("busy_rate", "latency_answered_p50_s", "latency_answered_p95_s", "cache_hit_ratio", "customers_apologised")


@pytest.mark.slow  # about 25 s of CPU: two scenarios, two variants, six replications
def test_a_trace_and_the_scenario_fitted_from_its_log_agree_on_the_main_metrics(tmp_path):
    world = load_scenario(write_scenario(tmp_path, WORLD, "world.toml"))
    write_logs(simulate(world, world.variants[0], 0).records, tmp_path)
    fitted = tmp_path / "fitted.toml"
    assert main(["fit", str(tmp_path / "messages.csv"), str(tmp_path / "calls.csv"), "--out", str(fitted)]) == 0
    fitted.write_text(fitted.read_text().replace("replications = 10", "replications = 6") + VARIANTS)
    header = '[scenario]\nseed = 9\nreplications = 6\n[workload]\ntrace = "messages.csv"\n[services]\n'
    services = fitted.read_text().split("[services]\n", 1)[1].split("\n\n", 1)[0]  # the fitted latencies
    traced = write_scenario(tmp_path, header + services + "\n" + VARIANTS, "traced.toml")
    by_fit, by_trace = (run_replications(load_scenario(p)).estimates for p in (fitted, traced))
    for variant in ("before", "after"):
        for metric in METRICS:
            f, t = by_fit[variant][metric], by_trace[variant][metric]
            if metric == "cache_hit_ratio" and variant == "before":
                continue  # no cache: not applicable
            predicted = (f.high - f.low) / 2 * math.sqrt(f.n + 1)  # t·s/√R → t·s·√(1 + 1/R)
            assert abs(f.mean - t.mean) <= predicted + (t.high - t.low) / 2, (variant, metric, f, t)
