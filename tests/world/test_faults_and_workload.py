"""A realistic world: daily curves, surges, calibrated latencies, call timeouts and faults in windows."""

import numpy as np
import pytest

from sim.core import distributions as d
from sim.metrics.summary import summarize
from sim.run.workload import arrivals
from sim.scenario import ScenarioError
from tests.world.scenario_kit import MAGNA, run, scenario

OPEN = """
[scenario]
seed = 9
duration = "2h"
[workload]
customers_per_hour = 300
population = 40
burst_size = { dist = "uniform", low = 1, high = 3 }
[services]
crm = "9s"
llm = "17s"
[workers]
count = 60
[lock]
timeout = "60s"
backoff = { kind = "exponential", base = "100ms", factor = 2, cap = "2s" }
[cache]
enabled = true
"""


def test_daily_curve_sets_the_rate_hour_by_hour():
    rates = [0] * 24
    rates[1], rates[2] = 600, 60
    s = scenario(OPEN.replace('duration = "2h"', 'duration = "3h"').replace("customers_per_hour = 300",
                 f"customers_per_hour = {rates}"), "[workload]\nburst_size = 1\n")  # fmt: skip
    hours = np.bincount([int(a.at // 3600) for a in arrivals(s, 0)], minlength=3)
    assert hours[0] == 0
    assert 500 < hours[1] < 700 and 30 < hours[2] < 95  # Poisson(600) and Poisson(60)


def test_a_daily_curve_needs_24_rates():
    with pytest.raises(ScenarioError, match=r"\[workload\]customers_per_hour: a daily curve needs 24 hourly rates"):
        scenario(OPEN.replace("customers_per_hour = 300", "customers_per_hour = [1, 2]"))


def test_surge_adds_customers_inside_the_outage_during_its_window():
    s = scenario(OPEN, "[[workload.surge]]\nstart = '30m'\nduration = '30m'\nmultiplier = 10\n")
    surge = [a for a in arrivals(s, 0) if a.in_outage]
    assert all(a.customer.startswith("s") for a in surge)
    starts = [a.at for a in surge if a.index == 0]
    assert min(starts) >= 1800 and max(starts) < 3600
    assert 9 * 150 * 0.8 < len(starts) < 9 * 150 * 1.2  # (10 − 1) × 300/h for half an hour


def test_the_crm_tells_surge_customers_they_are_inside_the_outage():
    result = run(OPEN, "[[workload.surge]]\nstart = '0s'\nduration = '10m'\nmultiplier = 5\n"
                       "[handler]\noutage_notice_skips_llm = true\n")  # fmt: skip
    surge = [r for r in result.records if r.customer.startswith("s") and r.outcome == "answered"]
    assert surge and not any(r.llm_called for r in surge)


def test_empirical_latencies_resample_the_observed_seconds(tmp_path):
    (tmp_path / "crm.csv").write_text("seconds\n8.5\n9.0\n31.0\n")
    path = tmp_path / "s.toml"
    path.write_text(OPEN + "\n[variants.x.services]\ncrm = { dist = 'empirical', file = 'crm.csv' }\n")
    from sim.scenario import load_scenario

    crm = load_scenario(path).variant("x").services.crm
    assert crm == d.Empirical((8.5, 9.0, 31.0), "crm.csv")
    assert set(crm.sample(np.random.default_rng(1), 200)) == {8.5, 9.0, 31.0}


def test_empirical_file_errors_name_the_line(tmp_path):
    (tmp_path / "crm.csv").write_text("seconds\n8.5\nslow\n")
    path = tmp_path / "s.toml"
    path.write_text(OPEN + "\n[variants.x.services]\ncrm = { dist = 'empirical', file = 'crm.csv' }\n")
    from sim.scenario import load_scenario

    with pytest.raises(ScenarioError, match=r"\[variants.x.services.crm\]file: crm.csv line 3: expected seconds"):
        load_scenario(path)


def test_mixture_gives_a_tail_with_its_weight():
    s = scenario(OPEN, """
        [services]
        crm = { dist = "mixture", components = [
            { weight = 0.98, dist = "uniform", low = "8s", high = "10s" },
            { weight = 0.02, dist = "fixed", value = "30s" } ] }
        """)  # fmt: skip
    crm = s.variants[0].services.crm
    draws = crm.sample(np.random.default_rng(2), 50_000)
    assert np.mean(draws == 30.0) == pytest.approx(0.02, abs=0.003)
    assert crm.mean() == pytest.approx(0.98 * 9 + 0.02 * 30)


def test_calls_past_their_timeout_fail_the_message():
    result = run(MAGNA, "[services]\nllm = '40s'\nllm_timeout = '30s'\n")
    m = summarize(result.records)
    assert m["failed"] >= 1 and m["answered"] == 0
    first = result.records[0]
    assert first.llm_s == pytest.approx(30.0, abs=0.01)


def test_crm_errors_inside_their_window_fail_messages_outside_they_do_not():
    result = run(OPEN, "[[faults]]\nkind = 'crm_errors'\nstart = '0s'\nduration = '30m'\nrate = 1.0\n")
    checked = [r for r in result.records if r.outcome != "busy" and r.source != "hit"]
    early = [r for r in checked if r.arrival + r.queue_wait + r.lock_wait < 1800 - 30]
    late = [r for r in checked if r.arrival > 1800 + 60]
    assert early and all(r.outcome == "failed" for r in early)
    assert late and all(r.outcome == "answered" for r in late)


def test_redis_down_falls_back_for_the_cache_and_the_lock_reports_errors():
    result = run(OPEN, "[[faults]]\nkind = 'redis_down'\nstart = '30m'\nduration = '5m'\n")
    m = summarize(result.records)
    assert m["redis_errors"] > 0
    during = [r for r in result.records if 1800 <= r.arrival < 2100]
    assert any(r.lock_errors > 0 for r in during)
    assert all(r.outcome in ("busy", "answered") for r in during)


def test_redis_restart_empties_the_cache_and_it_shows_in_the_hit_ratio():
    base = run(OPEN)
    restarted = run(OPEN, "[[faults]]\nkind = 'redis_restart'\nstart = '1h'\n")
    after = lambda rs: [r.source for r in rs if 3600 <= r.arrival + r.queue_wait + r.lock_wait < 3660 and r.source]  # noqa: E731
    assert after(restarted.records).count("miss") > after(base.records).count("miss")
    assert summarize(restarted.records)["cache_hit_ratio"] < summarize(base.records)["cache_hit_ratio"]


def test_a_worker_stalled_past_the_lock_ttl_loses_its_lock():
    result = run(MAGNA, "[[faults]]\nkind = 'stall'\nstart = '0s'\nduration = '10s'\nextra = '150s'\n")
    first, *rest = result.records
    assert first.lock_lost
    assert summarize(result.records)["lock_lost"] == 1
