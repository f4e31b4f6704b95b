"""Parameter recovery where real logs are messy: customers come back (a customer's next burst often
starts within the session gap of its last message), a tenth of the CRM calls fail, and the logs
carry their timestamps in several time zones (UTC, UTC−3, naive local time). Fitted back, the
day's bursts, their sizes and gaps, the population and the CRM latency are found within 2 % of
what the simulation drew."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sim.cli import main
from sim.core import distributions as d
from sim.experiment import run_once
from sim.fit.export import ORIGIN, as_logs
from sim.scenario import load_scenario

KNOWN = Path(__file__).with_name("known-returning.toml")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # UTC−3 all year since 2019
MINUS_3 = timezone(timedelta(hours=-3))


def _stamp(t: float, row: int) -> str:
    """Row by row in UTC ('Z'), at UTC−3 ('-03:00') or naive São Paulo time: one instant, three spellings."""
    moment = datetime.fromtimestamp(t, UTC)
    match row % 3:
        case 0:
            return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        case 1:
            return moment.astimezone(MINUS_3).isoformat(timespec="microseconds")
        case _:
            return moment.astimezone(SAO_PAULO).replace(tzinfo=None).isoformat(timespec="microseconds")


def _write(folder: Path, records) -> list[str]:
    messages, calls = as_logs(records, ORIGIN)
    half = len(messages) // 2
    first, second = folder / "messages-a.csv", folder / "messages-b.jsonl"
    with first.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "customer", "tax_id", "outcome", "reply_s"])
        for i, m in enumerate(messages[:half]):
            writer.writerow([_stamp(m.at, i), m.customer, m.tax_id, m.outcome or "", m.reply_s])
    with second.open("w") as out:
        for i, m in enumerate(messages[half:]):
            out.write(json.dumps({"timestamp": _stamp(m.at, i), "customer": m.customer, "outcome": m.outcome}) + "\n")
    with (folder / "calls.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["service", "start", "duration_s", "error"])
        for i, c in enumerate(calls):
            writer.writerow([c.service, _stamp(c.start, i), f"{c.duration_s:.6f}", "timeout" if c.error else ""])
    return [str(first), str(second), str(folder / "calls.csv")]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("returning")
    scenario = load_scenario(KNOWN)
    (result,) = run_once(scenario).values()
    logs = _write(folder, result.run.records)
    out = folder / "back.toml"
    assert main(["fit", *logs, "--out", str(out), "--timezone", "America/Sao_Paulo"]) == 0
    drawn = defaultdict(list)
    for r in result.run.records:
        drawn[r.burst].append(r.arrival)
    return scenario, load_scenario(out), drawn, result.run.records


@pytest.mark.slow
def test_bursts_their_sizes_and_gaps_are_found_within_2_percent_though_customers_come_back(fitted):
    """Two bursts of one customer merged into one session: the gaps' mean grew, the exponential was
    rejected and the gaps resampled, the bursts were fewer and larger."""
    known, found, drawn, _ = fitted
    sizes = np.array([len(times) for times in drawn.values()])
    gaps = np.concatenate([np.diff(sorted(times)) for times in drawn.values()])
    got = found.workload
    assert isinstance(got.burst_gap, d.Exponential)
    assert got.burst_gap.mean() == pytest.approx(gaps.mean(), rel=0.02)
    assert got.burst_size.mean() == pytest.approx(sizes.mean(), rel=0.02)
    assert got.customers_per_hour * 24 == pytest.approx(len(sizes), rel=0.02)  # bursts in the day
    assert got.population == pytest.approx(known.workload.population, rel=0.02)


@pytest.mark.slow
def test_failed_crm_calls_are_left_out_of_the_crm_latency(fitted):
    _, found, _, records = fitted
    assert sum(r.outcome == "failed" for r in records) > 100  # a tenth of the CRM calls failed
    crm = found.variants[0].services.crm
    assert isinstance(crm, d.Gamma) and crm.mean() == pytest.approx(9.0, rel=0.02)


@pytest.mark.slow
def test_hours_are_counted_in_the_timezone_given_whatever_offsets_the_rows_carry(fitted):
    known, found, drawn, _ = fitted
    starts = np.array([min(times) for times in drawn.values()])
    by_utc_hour = np.bincount((starts // 3600).astype(int), minlength=24)[:24]
    local = np.roll(by_utc_hour, -3)  # UTC hour h is 21:00 + h in São Paulo: local hour (h − 3) mod 24
    got = np.array(found.workload.hourly_rates)
    assert np.all(np.abs(got - local) <= 0.02 * local + 1), got - local
