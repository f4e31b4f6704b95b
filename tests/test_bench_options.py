"""`sim bench --days N` stretches a scenario to N simulated days; `--memory` runs each length in a fresh
process and fits the peak memory per million messages. Figures only: no timing is asserted here."""

from __future__ import annotations

import numpy as np
import pytest

from sim import bench, cli
from sim.bench.memory import SizeFigures, memory_curve, mib_per_million
from sim.cli import main
from sim.run.workload import arrivals
from sim.scenario.load import load_scenario
from tests.helpers import MAGNA, write_scenario
from tests.world.scenario_kit import scenario

QUIET_DAY = """
[scenario]
seed = 5
duration = "24h"
[workload]
customers_per_hour = 30
population = 0
[services]
crm = "1s"
llm = "2s"
"""


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", "0"], "argument --days: must be a whole number from 1 to 365, got '0'"),
        (["--days", "366"], "argument --days: must be a whole number from 1 to 365, got '366'"),
        (["--days", "1e3"], "argument --days: invalid int value: '1e3'"),
        (["--memory", "1,0"], "argument --memory: must be a whole number from 1 to 365, got '0'"),
        (["--memory", ","], "argument --memory: invalid int value: ''"),
        (["--memory", ",".join(["1"] * 11)], "argument --memory: at most 10 run lengths, got 11"),
        (["--days", "60"], "--days 60: "),  # 60 reference days: ~5.9 M messages, past the scenario limit
        (["--days", "2", "--memory"], "--days and --memory: give --memory the lengths to run"),
    ],
)
def test_bad_bench_lengths_exit_2_with_one_line_before_any_run(capsys, args, message):
    assert main(["bench", "reference-day", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_the_cli_bounds_days_as_the_bench_does():
    assert cli.MAX_BENCH_DAYS == bench.MAX_DAYS
    with pytest.raises(cli.ArgumentError, match="from 1 to 365, got 0"):
        bench.stretched(load_scenario(MAGNA), 0)


def test_a_stretched_scenario_repeats_its_daily_curve():
    rates = [0] * 24
    rates[1] = 600
    s = scenario(QUIET_DAY.replace("customers_per_hour = 30", f"customers_per_hour = {rates}"))
    three = bench.stretched(s, 3)
    assert three.duration == 3 * 86400 and three.variants == s.variants and three.seed == s.seed
    hours = {int(a.at // 3600) for a in arrivals(three, 0)}
    assert hours == {1, 25, 49}  # the busy hour of each day, and only it


def test_the_slope_is_the_peak_per_million_messages():
    def size(messages: int, peak: float) -> SizeFigures:
        return SizeFigures(days=1, messages=messages, wall_s=1.0, messages_per_wall_s=1.0, peak_memory_mib=peak)

    assert mib_per_million([size(100_000, 90.0), size(300_000, 110.0)]) == 100.0
    assert mib_per_million([size(1_000_000, 100.0), size(2_000_000, 150.0), size(3_000_000, 200.0)]) == 50.0
    assert mib_per_million([size(5, 80.0), size(5, 81.0)]) is None  # one length: no slope


@pytest.mark.slow
def test_memory_runs_each_length_in_a_fresh_process(tmp_path):
    s = load_scenario(write_scenario(tmp_path, QUIET_DAY))
    curve = memory_curve(s, None, "direct", (1, 2))
    assert [z.days for z in curve.sizes] == [1, 2]
    one, two = (z.messages for z in curve.sizes)
    assert one == arrivals(s, 0).count and two == arrivals(bench.stretched(s, 2), 0).count
    assert 1.6 < two / one < 2.4  # a second day of the same Poisson rate
    assert all(z.peak_memory_mib > 10 for z in curve.sizes)
    assert curve.mib_per_million_messages is not None and np.isfinite(curve.mib_per_million_messages)
    assert "peak memory per million messages:" in curve.table()
