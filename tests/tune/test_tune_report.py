"""What `sim tune` says (issue 23 item 5): plain terminal text, the gain with its interval and what it costs
on every other metric, one replication count throughout, `capped` exactly when the cap bound, and shares
of the variance that add up to what they explain."""

import dataclasses
import json
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.metrics.tuning import TrialRecord
from sim.scenario.tune import parse_dimension
from sim.tune import sensitivity
from tests.helpers import MAGNA, write_scenario

STUDY = (
    '\n[tune]\nvariant = "after"\nspace = ["lock.timeout=5s..60s", "lock.backoff.cap=200ms..5s:log"]\n'
    'objectives = ["latency_p95_s"]\nconstraints = ["busy_rate<0.5"]\nreplications = 3\nfinalists = 2\n'
)


def study(tmp_path: Path, extra: str = "") -> Path:
    return write_scenario(tmp_path, Path(MAGNA).read_text() + STUDY + extra, "magna-tune.toml")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Magna's study over 8 trials, its confirmation capped at the default 40 replications."""
    folder = tmp_path_factory.mktemp("tune")
    with pytest.MonkeyPatch.context() as patch:
        stdout = folder / "stdout.txt"
        with stdout.open("w") as out:
            patch.setattr("sys.stdout", out)
            code = main(["tune", str(study(folder)), "--trials", "8", "--out", str(folder), "--quiet"])
    assert code == 0
    report = folder / "magna-tune"
    return stdout.read_text(), (report / "report.md").read_text(), json.loads((report / "results.json").read_text())


def test_the_terminal_says_what_to_set_and_what_it_gains_and_costs_without_markdown(tuned):
    out, _, data = tuned
    assert "**" not in out and "`" not in out
    lines = out.splitlines()
    assert lines[1] == "  Set lock.timeout = 21.9s, lock.backoff.cap = 3.97s."
    gain = data["gains"][0]
    assert gain["high"] < 0  # the recommendation's p95 is lower than after's, paired on the fresh replications
    assert re.fullmatch(
        r"  latency_p95_s 31\.\d+ \[.*\] against 49\.\d+ \[.*\] for 'after': −17\.\d+ \[−1\d\.\d+, −1\d\.\d+\], "
        r"−36\.\d %, paired on 40 fresh replications \(seed 4315218323\)\.",
        lines[2],
    ), lines[2]
    costs = lines[lines.index("  Against 'after', on every reported metric:") + 1 :]
    assert "    worse    busy apologies +1.0 per run [+1.0, +1.0] (0.0 → 1.0)" in costs  # the price is named
    assert costs[-1].startswith("    no meaningful difference in ")


def test_the_report_headline_carries_the_gain_and_the_comparison_headline(tuned):
    _, report, _ = tuned
    head = report.split("## The guarantee")[0]
    assert head.startswith("# magna: what should we set?\n\n**Set lock.timeout = 21.9s, lock.backoff.cap = 3.97s.** ")
    assert "for 'after': −17." in head and "**tuned vs after:** busy apologies +1.0 per run" in head


def test_one_replication_count_throughout_and_capped_exactly_when_the_cap_bound(tuned):
    _, report, data = tuned
    g = data["guarantee"]
    assert (g["replications"], g["capped"]) == (40, True) and g["needed"] > 40  # the bound at δ wanted more
    assert "then 40 in all, the cap ([tune]confirmation): the bound at δ" in report
    compared = report.split("# magna: 2 variant(s) compared")[1]
    assert set(re.findall(r"(\d+) replication\(s\)", compared)) == {"40"}
    assert data["comparison"]["replications"] == data["comparison"]["setup"]["replications"] == 40


def test_a_cap_that_does_not_bind_is_not_capped(tmp_path, capsys):
    """The same study with room for every replication the bound asks for: it runs exactly those."""
    path = study(tmp_path, "confirmation = 1000\n")
    assert main(["tune", str(path), "--trials", "8", "--out", str(tmp_path), "--quiet"]) == 0
    g = json.loads((tmp_path / "magna-tune" / "results.json").read_text())["guarantee"]
    assert not g["capped"] and g["replications"] == g["needed"] < 1000


def test_the_variance_shares_and_the_unexplained_rest_add_up_to_one(tuned):
    _, report, data = tuned
    shares = data["sensitivity"]
    assert all(v >= 0 for v in shares.values())
    assert sum(shares.values()) + data["sensitivity_unexplained"] == pytest.approx(1, abs=1e-5)
    assert "| interactions and noise (unexplained) |" in report


def trials(points, values):
    return [
        TrialRecord(number=i, point=p, values=(v,), replications=3, feasible=True)
        for i, (p, v) in enumerate(zip(points, values, strict=True))
    ]


def test_two_settings_the_search_moved_together_share_what_they_explain_instead_of_both_claiming_it():
    """The old first-order shares gave each of two settings that always moved together ~100 % (sum 200 %)."""
    space = [parse_dimension("lock.timeout=10s..60s"), parse_dimension("workers.count=1..50:int")]
    points = [{"lock.timeout": f"{10 + 5 * i}s", "workers.count": str(1 + 5 * i)} for i in range(10)]
    found = sensitivity.importance(space, trials(points, [float(i) for i in range(10)]))
    assert found is not None
    assert found.shares["lock.timeout"] == pytest.approx(found.shares["workers.count"])
    assert sum(found.shares.values()) + found.unexplained == pytest.approx(1)
    assert sum(found.shares.values()) > 0.8  # 3 bins of a straight line explain most of it


def test_many_settings_are_split_by_sampled_orders_from_a_fixed_seed():
    keys = [f"s{k}" for k in range(sensitivity.EXACT_SETTINGS + 2)]  # too many for every subset
    space = [dataclasses.replace(parse_dimension("lock.timeout=10s..60s"), key=k) for k in keys]
    points = [{k: f"{10 + ((i * (j + 3)) % 11) * 5}s" for j, k in enumerate(keys)} for i in range(40)]
    values = [float(i % 7) + 0.1 * i for i in range(40)]
    first, again = (sensitivity.importance(space, trials(points, values)) for _ in range(2))
    assert first is not None and first == again  # the same orders every time
    assert sum(first.shares.values()) + first.unexplained == pytest.approx(1)
    assert all(v >= -1e-12 for v in first.shares.values())
