"""Parameter recovery for customers who wait for answers: a simulated run with only conversations
(`known-conversations.toml`) written as logs and fitted back with `sim fit --customers conversations`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.core import distributions as d
from sim.scenario import load_scenario
from sim.scenario.model import MAX_RETRIES
from tests.fit.simulated import simulated_and_fitted

KNOWN = Path(__file__).with_name("known-conversations.toml")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conversations")
    scenario, out = simulated_and_fitted(KNOWN, folder, "talk.toml", "--customers", "conversations")
    fit_json = json.loads((folder / "reports" / "talk-fit" / "fit.json").read_text())
    return scenario.workload.conversations, load_scenario(out), fit_json, folder


@pytest.mark.slow
def test_a_conversation_log_is_fitted_back_within_stated_tolerances(fitted):
    known, found, _, _ = fitted
    assert found.workload.customers_per_hour == 0  # bursts off
    got = found.workload.conversations
    assert got is not None
    # 1,239 sessions over 6 h at 200/h: the rate within 3 Poisson standard deviations of 6 h's count.
    assert abs(got.sessions_per_hour - known.sessions_per_hour) <= 3 * (known.sessions_per_hour / 6) ** 0.5
    assert got.messages.mean() == pytest.approx(known.messages.mean(), rel=0.10)
    assert got.think.mean() == pytest.approx(known.think.mean(), rel=0.10)
    assert got.impatience.mean() == pytest.approx(known.impatience.mean(), rel=0.10)
    assert got.give_up == pytest.approx(known.give_up, abs=0.05)
    assert got.max_nudges == known.max_nudges


@pytest.mark.slow
def test_the_censoring_corrections_move_the_estimates_towards_the_truth(fitted):
    """Intents as sent undercount (give-ups never send the rest); the EM's estimate is nearer the truth."""
    known, _, fit_json, _ = fitted
    c = fit_json["conversations"]
    assert c["intents_sent_mean"] < c["messages"]["mean"] <= known.messages.mean() * 1.1
    assert abs(c["messages"]["mean"] - known.messages.mean()) < abs(c["intents_sent_mean"] - known.messages.mean())


@pytest.mark.slow
def test_the_report_shows_the_conversation_parameters_and_the_written_file_names_them(fitted):
    _, _, _, folder = fitted
    report = (folder / "reports" / "talk-fit" / "report.md").read_text()
    assert "## Customers who wait for answers" in report
    for key in (
        "`give_up`",
        "`impatience`",
        "`think`",
        "`messages (mean)`",
        "sent before the previous message's reply",
    ):
        assert key in report
    text = (folder / "talk.toml").read_text()
    assert "[workload.conversations]" in text and "customers_per_hour = 0" in text


def test_a_log_without_reply_times_refuses_conversations(tmp_path, capsys):
    log = tmp_path / "m.csv"
    log.write_text("timestamp,customer\n" + "".join(f"2024-03-04T10:00:{i:02d}Z,c{i % 7}\n" for i in range(40)))
    out = tmp_path / "s.toml"
    code = main(["fit", str(log), "--out", str(out), "--customers", "conversations"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "reply times" in err[0]
    assert not out.exists()


def test_bursts_stay_the_default_without_a_conversation_section(tmp_path):
    at = 1_709_546_400 + np.cumsum(np.random.default_rng(1).exponential(9.0, 300))
    log = tmp_path / "m.csv"
    log.write_text("timestamp,customer,reply_s\n" + "".join(f"{_iso(t)},c{i % 7},2.5\n" for i, t in enumerate(at)))
    out = tmp_path / "s.toml"
    assert main(["fit", str(log), "--out", str(out)]) == 0
    scenario = load_scenario(out)
    assert scenario.workload.conversations is None and scenario.workload.customers_per_hour > 0
    assert isinstance(scenario.workload.burst_size, d.ChoiceCount)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


ODD_LOGS = {
    "one message per session": [(60 * i, f"c{i}", "answered", 3.0) for i in range(50)],
    "every message before a reply 900 days late": [
        (60 * i + k, f"c{i}", "answered", 86400.0 * 900) for i in range(30) for k in range(3)
    ],
    "busy apologies at the message's own instant": [
        (60 * i + k * 0.5, f"c{i}", "busy", 0) for i in range(30) for k in range(5)
    ],
    "300 nudges one second apart": [(k, "c", "answered", 1e6) for k in range(300)],
    "one row": [(0, "c", "", 1.0)],
}


@pytest.mark.parametrize("case", list(ODD_LOGS))
def test_odd_logs_give_a_conversation_section_inside_the_scenario_limits(tmp_path, case):
    start = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
    log = tmp_path / "m.csv"
    rows = "".join(f"{_iso(start + t)},{c},{o},{r}\n" for t, c, o, r in ODD_LOGS[case])
    log.write_text("timestamp,customer,outcome,reply_s\n" + rows)
    out = tmp_path / "s.toml"
    assert main(["fit", str(log), "--out", str(out), "--customers", "conversations"]) == 0
    got = load_scenario(out).workload.conversations
    assert got is not None and 0 <= got.give_up <= 1 and 0 <= got.resend <= 1
    assert 0 <= got.max_nudges <= MAX_RETRIES and 0 <= got.max_resends <= MAX_RETRIES


def test_max_nudges_is_the_cap_the_log_shows_not_a_percentile(tmp_path):
    """One intent in 200 nudged 3 times (the cap), 49 once: the 99th percentile wrote a cap of 3 as 1."""
    start = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
    rows = []
    for i in range(200):
        nudges = 3 if i == 0 else 1 if i < 50 else 0
        opened = start + 600 * i
        for k in range(nudges + 1):  # the intent at 0 s, its nudges 30 s apart; one answer for all at 100 s
            rows.append(f"{_iso(opened + 30 * k)},c{i},answered,{100 - 30 * k}\n")
    log = tmp_path / "m.csv"
    log.write_text("timestamp,customer,outcome,reply_s\n" + "".join(rows))
    out = tmp_path / "s.toml"
    assert main(["fit", str(log), "--out", str(out), "--customers", "conversations", "--quiet"]) == 0
    assert load_scenario(out).workload.conversations.max_nudges == 3
    assert "max_nudges = 3  # the most nudges an intent got" in out.read_text()
