"""`[workload.conversations]`: read, validated, bounded, described."""

import pytest

from sim.cli import main
from sim.core import distributions as d
from sim.live import check_live
from sim.scenario import ScenarioError
from sim.scenario.describe import setup, workload
from sim.world.model import simulate
from tests.helpers import write_scenario
from tests.world.scenario_kit import scenario

BASE = """
[scenario]
duration = "1h"
[workload.conversations]
sessions_per_hour = 30
"""


def conversations(extra: str = ""):
    return scenario(BASE, extra).workload.conversations


def test_defaults():
    c = conversations()
    assert c.sessions_per_hour == 30 and c.messages == d.FixedCount(1)
    assert (c.max_nudges, c.give_up, c.resend, c.max_resends) == (1, 0.0, 0.0, 3)
    assert c.think == d.Exponential(30.0) and c.impatience == d.Exponential(60.0)


def test_every_setting_is_read():
    c = conversations(
        """
        [workload.conversations]
        messages = { dist = "choice", values = [1, 2], weights = [3, 1] }
        think = { dist = "lognormal", median = "20s", p95 = "90s" }
        impatience = "45s"
        max_nudges = 3
        give_up = 0.25
        resend = 0.8
        resend_delay = "4s"
        max_resends = 2
        """
    )
    assert c.messages == d.ChoiceCount((1, 2), (3.0, 1.0)) and c.impatience == d.Fixed(45.0)
    assert (c.max_nudges, c.give_up, c.resend, c.resend_delay, c.max_resends) == (3, 0.25, 0.8, d.Fixed(4.0), 2)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("give_up = 1.5", "[workload.conversations]give_up: must be <= 1"),
        ("resend = -0.1", "[workload.conversations]resend: must be >= 0"),
        ("max_nudges = 101", "[workload.conversations]max_nudges: must be <= 100"),
        ("max_resends = 2.5", "[workload.conversations]max_resends: expected a whole number"),
        ("messages = 0", "[workload.conversations]messages: must be >= 1"),
        ("messages = 1001", "[workload.conversations]messages: must be <= 1000"),
        ("sessions_per_hour = -1", "[workload.conversations]sessions_per_hour: must be >= 0"),
        ("sessions_per_hour = nan", "[workload.conversations]sessions_per_hour: expected a number"),
        ('impatience = "-3s"', "[workload.conversations]impatience"),
        ('think = { dist = "gaussian" }', "[workload.conversations.think]dist"),
        ("patience = 3", "[workload.conversations]patience: unknown key"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(extra, named):
    with pytest.raises(ScenarioError) as caught:
        conversations(f"[workload.conversations]\n{extra}\n")
    assert named in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("rates", ["0", "[" + ", ".join(["0"] * 24) + "]"])
def test_a_workload_whose_conversations_never_open_is_as_empty_as_one_without_customers(rates):
    """`sessions_per_hour = 0` was accepted (a run of nothing) while `customers_per_hour = 0` is refused."""
    with pytest.raises(ScenarioError) as caught:
        scenario("[scenario]\nduration = '1h'\n[workload]\ncustomers_per_hour = 0\n", "")
    assert "[workload]customers_per_hour: the workload is empty" in str(caught.value)
    with pytest.raises(ScenarioError) as caught:
        scenario(f"[scenario]\nduration = '1h'\n[workload.conversations]\nsessions_per_hour = {rates}\n")
    assert "[workload.conversations]sessions_per_hour: the workload is empty" in str(caught.value)
    with_bursts = "[scenario]\nduration = '1h'\n[workload]\ncustomers_per_hour = 5\n[workload.conversations]\n"
    assert scenario(with_bursts + f"sessions_per_hour = {rates}\n").workload.customers_per_hour == 5  # not empty


def test_the_run_size_counts_every_nudge_and_resend_a_conversation_may_send(tmp_path, capsys):
    path = write_scenario(
        tmp_path,
        """
        [scenario]
        duration = "1000h"
        [workload.conversations]
        sessions_per_hour = 1000
        messages = 10
        max_nudges = 100
        """,
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "messages per run" in err and len(err.splitlines()) == 1


def test_too_many_sessions_are_refused_before_the_run(tmp_path, capsys):
    text = '[scenario]\nduration = "1000h"\n[workload.conversations]\nsessions_per_hour = 6000\n'
    path = write_scenario(tmp_path, text)
    assert main(["run", str(path)]) == 2
    assert "[workload]conversations: over" in capsys.readouterr().err


def test_conversations_alone_are_a_workload_and_need_a_duration():
    with pytest.raises(ScenarioError, match=r"\[scenario\]duration: is required"):
        scenario("[workload.conversations]\nsessions_per_hour = 3\n")


def test_sessions_follow_the_hourly_curve_scaled_to_their_own_mean():
    s = scenario(BASE, "[workload]\ncustomers_per_hour = [" + ", ".join(["10"] * 12 + ["30"] * 12) + "]\n")
    assert s.workload.session_rate_at(0.0) == pytest.approx(15.0)  # 30 × 10/20
    assert s.workload.session_rate_at(13 * 3600.0) == pytest.approx(45.0)


def test_described_in_the_report_and_carried_in_the_setup():
    s = scenario(BASE, '[workload.conversations]\ngive_up = 0.2\nimpatience = "40s"\n')
    line = next(text for text in workload(s) if text.startswith("**Conversations**"))
    assert "30 per hour" in line and "impatience 40 s" in line and "probability 0.2" in line
    assert setup(s)["workload"]["conversations"]["give_up"] == 0.2
    plain = scenario("[scenario]\nduration = '1h'\n[workload]\ncustomers_per_hour = 3\n")
    assert "conversations" not in setup(plain)["workload"]  # results.json as before the section existed


def test_sim_live_refuses_them_before_connecting():
    with pytest.raises(ScenarioError, match="only on simulated time"):
        check_live(scenario(BASE))


def test_sessions_per_hour_may_be_a_daily_curve_of_its_own():
    curve = [0.0] * 24
    curve[1] = 240.0
    s = scenario(BASE.replace('"1h"', '"3h"'), f"[workload.conversations]\nsessions_per_hour = {curve}\n")
    c = s.workload.conversations
    assert c.sessions_per_hour == 10.0 and c.hourly_rates == tuple(curve)
    assert [s.workload.session_rate_at(t) for t in (0, 3600, 7199, 7200, 86400 + 3600)] == [0, 240, 240, 0, 240]
    run = simulate(s, s.variants[0], 0)
    starts = [talk.started for talk in run.conversations]
    assert len(starts) > 150 and all(3600 <= t < 7200 for t in starts)  # Poisson(240) sessions, all in hour 1


def test_a_curve_of_other_than_24_rates_is_refused():
    with pytest.raises(ScenarioError, match=r"sessions_per_hour: a daily curve needs 24 hourly rates, got 23"):
        conversations(f"[workload.conversations]\nsessions_per_hour = {[1.0] * 23}\n")
