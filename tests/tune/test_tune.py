"""`sim tune` end to end: the exact M/M/c optimum, determinism, resuming, racing and the guarantee."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.core.durations import parse_duration
from sim.metrics.tuning import TrialRecord
from sim.scenario import load_scenario
from sim.scenario.tune import parse_dimension
from sim.tune import guarantee, sensitivity
from sim.tune.search import rungs
from sim.tune.toml_block import variant_table
from tests.helpers import MAGNA, PEAK_HOUR, write_scenario
from tests.theory.test_queueing import erlang_c

MMC = Path(__file__).parent / "mmc-cost.toml"
LAM, MU, WORKER, WAIT = 0.4, 0.1, 1.0, 0.5  # as tests/tune/mmc-cost.toml states them


def mmc_cost(c: int) -> float:
    """c·cost_worker + λ·Wq·cost_wait per second (here cost_wait·λ = 0.5), exact by Erlang C."""
    offered = LAM / MU
    if c <= offered:
        return math.inf
    return c * WORKER + WAIT * erlang_c(c, offered) / (c * MU - LAM)


def test_the_mmc_cost_has_a_unique_optimum_with_clear_margins():
    costs = {c: mmc_cost(c) for c in range(3, 11)}
    best = min(costs, key=costs.get)
    assert best == 6
    assert min(cost - costs[best] for c, cost in costs.items() if c != best) > 0.45  # 7: 7.21 vs 6.71


@pytest.mark.slow  # about 35 s of simulation on two cores
def test_tune_finds_the_erlang_c_optimum_exactly(tmp_path):
    assert main(["tune", str(MMC), "--out", str(tmp_path), "--quiet", "--processes", "2"]) == 0
    result = json.loads((tmp_path / "mmc-cost-tune" / "results.json").read_text())
    chosen = next(f for f in result["finalists"] if f["name"] == result["chosen"])
    optimum = min(range(3, 11), key=mmc_cost)
    assert chosen["point"] == {"workers.count": str(optimum)}
    fresh = chosen["fresh"][0]
    assert fresh["low"] <= mmc_cost(optimum) <= fresh["high"]  # the simulated cost agrees with the closed form
    assert result["guarantee"]["within_delta"] and result["guarantee"]["seed"] != result["seed"]
    assert "[variants.tuned]\n" in result["recommendation"] and "count = 6" in result["recommendation"]
    report = (tmp_path / "mmc-cost-tune" / "report.md").read_text()
    assert report.startswith("# mmc-cost: what should we set?\n\n**Set workers.count = 6.**")
    assert "# mmc-cost: 2 variant(s) compared" in report  # the compare report follows, headline first


def magna_study(tmp_path: Path) -> Path:
    """Magna's three messages: a study of a few milliseconds per run, for what does not need load."""
    return write_scenario(
        tmp_path,
        Path(MAGNA).read_text()
        + '\n[tune]\nvariant = "after"\nspace = ["lock.timeout=5s..60s", "lock.backoff.cap=200ms..5s:log"]\n'
        'objectives = ["latency_p95_s"]\nconstraints = ["busy_rate<0.5"]\nreplications = 3\nfinalists = 2\n',
        "magna-tune.toml",
    )


def trials_of(folder: Path) -> list[dict]:
    return json.loads((folder / "results.json").read_text())["trials"]


def test_same_seed_same_trials_and_choice_on_one_or_two_processes(tmp_path):
    study = magna_study(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["tune", str(study), "--trials", "6", "--out", str(one), "--quiet", "--processes", "1"]) == 0
    assert main(["tune", str(study), "--trials", "6", "--out", str(two), "--quiet", "--processes", "2"]) == 0
    first, second = (json.loads((o / "magna-tune" / "results.json").read_text()) for o in (one, two))
    assert first["trials"] == second["trials"] and first["chosen"] == second["chosen"]
    assert first["recommendation"] == second["recommendation"]
    assert first["trials"][0]["point"] == {"lock.timeout": "60s", "lock.backoff.cap": "2s"}  # starts from `after`


def test_an_interrupted_study_resumes_exactly_where_it_stopped(tmp_path):
    study = magna_study(tmp_path)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(["tune", str(study), "--trials", "7", "--out", str(whole), "--quiet", "--processes", "1"]) == 0
    assert main(["tune", str(study), "--trials", "3", "--out", str(parts), "--quiet", "--processes", "1"]) == 0
    assert main(["tune", str(study), "--trials", "7", "--out", str(parts), "--quiet", "--processes", "1"]) == 0
    resumed = json.loads((parts / "magna-tune" / "results.json").read_text())
    assert resumed["resumed_trials"] == 3
    assert resumed["trials"] == trials_of(whole / "magna-tune")


def test_a_candidate_that_clearly_breaches_a_constraint_is_dropped_early(tmp_path):
    study = write_scenario(
        tmp_path,
        Path(MAGNA).read_text()
        + '\n[tune]\nvariant = "after"\nspace = ["lock.timeout=1s..3s"]\nobjectives = ["latency_p95_s"]\n'
        'constraints = ["busy_rate<0.1"]\nreplications = 6\ntrials = 3\nfinalists = 2\n',
        "magna-short.toml",
    )
    assert main(["tune", str(study), "--out", str(tmp_path), "--quiet", "--processes", "1"]) == 1  # none meets it
    trials = trials_of(tmp_path / "magna-tune")
    assert all(t["replications"] == 3 and "busy_rate<0.1 clearly breached" in t["dropped"] for t in trials)


def test_rungs_grow_to_the_replications():
    assert rungs(2) == [2]
    assert rungs(4) == [3, 4]
    assert rungs(20) == [3, 6, 12, 20]


def test_the_confirmation_size_follows_the_noisiest_pair_and_delta():
    rng = np.random.default_rng(1)
    common = rng.normal(10, 3, 10)  # common random numbers: a shared part cancels in differences
    stage = {"a": common + rng.normal(0, 0.1, 10), "b": common + 1 + rng.normal(0, 0.1, 10)}
    assert guarantee.needed_replications(stage, delta=1.0) == 10  # the difference barely varies
    noisy = {"a": stage["a"], "b": common + rng.normal(0, 2, 10)}
    spread = np.std(noisy["a"] - noisy["b"], ddof=1)
    t = guarantee.one_sided_t(0.95, 9)
    assert guarantee.needed_replications(noisy, delta=0.5) == math.ceil((t * spread / 0.5) ** 2)
    # uncapped: the caller runs at most its cap, and says the cap bound when this is above it
    assert guarantee.needed_replications(noisy, delta=0.01) == math.ceil((t * spread / 0.01) ** 2) > 1000
    # δ² underflowed to 0 (ZeroDivisionError, exit 4) and (t·S/δ)² overflowed: far past any cap
    assert guarantee.needed_replications(noisy, delta=1e-200) == guarantee.MAX_NEEDED
    assert guarantee.needed_replications(noisy, delta=5e-324) == guarantee.MAX_NEEDED


def test_the_mcb_bound_is_zero_for_a_clear_winner_and_positive_for_a_tie():
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, 20)
    runners, bound = guarantee.comparisons_with_the_best({"x": base, "y": base + 5}, "x")
    assert bound == 0.0 and runners[0].upper < 0
    _, tie = guarantee.comparisons_with_the_best({"x": base, "y": base + rng.normal(0, 1, 20)}, "x")
    assert tie > 0


def test_sensitivity_finds_the_setting_that_moves_the_objective():
    space = [parse_dimension("lock.timeout=10s..60s"), parse_dimension("lock.fair=true,false")]
    trials = [
        TrialRecord(
            number=i,
            point={"lock.timeout": f"{10 + 5 * i}s", "lock.fair": "true" if i % 2 else "false"},
            values=(float(i),),
            replications=3,
            feasible=True,
        )
        for i in range(10)
    ]
    shares = sensitivity.shares(space, trials)
    assert shares["lock.timeout"] > 0.8 > 0.1 > shares["lock.fair"]  # 10 trials: the timeout in 3 bins of a line


def test_the_recommended_table_pasted_into_the_file_gives_the_same_variant(tmp_path):
    scenario = load_scenario(MAGNA)
    after = scenario.variant("after")
    block = variant_table(after, "tuned", "after")
    pasted = write_scenario(tmp_path, Path(MAGNA).read_text() + "\n" + block, "pasted.toml")
    tuned = load_scenario(pasted).variant("tuned")
    assert (tuned.lock, tuned.cache, tuned.workers, tuned.redis_rtt, tuned.handler) == (
        after.lock, after.cache, after.workers, after.redis_rtt, after.handler,
    )  # fmt: skip


@pytest.mark.slow  # a local Dask cluster takes seconds to start
def test_a_study_on_a_dask_cluster_matches_one_process(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    study = magna_study(tmp_path)
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert main(["tune", str(study), "--trials", "4", "--out", str(local), "--quiet", "--processes", "1"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        args = ["--executor", "dask", "--scheduler", cluster.scheduler_address]
        assert main(["tune", str(study), "--trials", "4", "--out", str(remote), "--quiet", *args]) == 0
    first, second = (json.loads((o / "magna-tune" / "results.json").read_text()) for o in (local, remote))
    assert first["trials"] == second["trials"] and first["recommendation"] == second["recommendation"]


@pytest.mark.slow  # about a minute of simulation on two cores
def test_the_peak_hour_recommendation_agrees_with_the_sweep(tmp_path):
    """The sweep's heatmaps: the lock timeout decides the busy rate (after's 60 s gives ~4 %), the
    backoff cap the Redis load (a longer cap, fewer polls). So under busy_rate<1 %, minimising Redis
    commands must lengthen both — here on a 20-minute peak and a small budget."""
    text = Path(PEAK_HOUR).read_text().replace('duration = "1h"', 'duration = "20m"')
    text = text.replace("trials = 20\nreplications = 4", "trials = 8\nreplications = 3")
    study = write_scenario(tmp_path, text, "peak.toml")
    assert main(["tune", str(study), "--out", str(tmp_path), "--quiet", "--processes", "2"]) == 0
    result = json.loads((tmp_path / "peak-hour-tune" / "results.json").read_text())
    chosen = next(f for f in result["finalists"] if f["name"] == result["chosen"])
    timeout, cap = (parse_duration(chosen["point"][k]) for k in ("lock.timeout", "lock.backoff.cap"))
    assert timeout > 60 and cap > 2, chosen["point"]
    first = result["trials"][0]
    assert first["point"] == {"lock.timeout": "60s", "lock.backoff.cap": "2s"} and not first["feasible"]  # `after`
    summary = result["comparison"]["variants"]
    assert summary["tuned"]["summary"]["redis_commands"]["mean"] < summary["after"]["summary"]["redis_commands"]["mean"]


def test_a_study_interrupted_mid_trial_resumes_with_the_same_result(tmp_path, monkeypatch):
    from sim.tune import evaluate

    study = magna_study(tmp_path)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["tune", str(study), "--trials", "6", "--out", str(whole), "--quiet", "--processes", "1"]) == 0
    real, calls = evaluate.Runner.run, []

    def interrupted(self, scenario, replications):
        calls.append(1)
        if len(calls) == 6:  # inside a later trial, between two of its rungs or before its first
            raise KeyboardInterrupt
        return real(self, scenario, replications)

    monkeypatch.setattr(evaluate.Runner, "run", interrupted)
    assert main(["tune", str(study), "--trials", "6", "--out", str(cut), "--quiet", "--processes", "1"]) == 130
    monkeypatch.setattr(evaluate.Runner, "run", real)
    assert not (cut / "magna-tune").exists()
    assert main(["tune", str(study), "--trials", "6", "--out", str(cut), "--quiet", "--processes", "1"]) == 0
    assert trials_of(cut / "magna-tune") == trials_of(whole / "magna-tune")


def test_two_objectives_give_a_pareto_front_plot_and_a_report_folder_sim_may_replace(tmp_path):
    study = magna_study(tmp_path)
    flags = ["--objective", "latency_p95_s", "--objective", "redis_commands", "--trials", "5"]
    for _ in range(2):  # the second run replaces the first run's folder: it holds only what sim writes
        assert main(["tune", str(study), *flags, "--out", str(tmp_path), "--quiet", "--processes", "1"]) == 0
    folder = tmp_path / "magna-tune"
    names = {p.name for p in folder.iterdir()}
    assert {"report.md", "report.html", "results.json", "records.csv", ".sim-report"} <= names
    assert {"tune_path.png", "tune_pareto.png", "latency_cdf.png"} <= names
    rows = (folder / "records.csv").read_text().splitlines()
    assert {r.split(",")[0] for r in rows[1:]} == {"after", "tuned"}  # the confirmation's runs: base and chosen
    result = json.loads((folder / "results.json").read_text())
    assert result["objectives"] == ["latency_p95_s", "redis_commands"]
    assert all(len(t["values"]) == 2 for t in result["trials"])


def test_a_journal_cut_short_is_refused_before_anything_is_appended(tmp_path):
    """A kill or a full disk mid-write leaves a partial last line; optuna skipped it, appended after it, and the
    next read crashed (exit 4) on the line the two made together."""
    from sim.core.errors import EnvironmentProblem
    from sim.tune import journal

    file = tmp_path / ".magna-tune.journal"
    file.write_bytes(b'{"op_code": 0, "worker_id": "w", "study_name": "s", "directio')
    with pytest.raises(EnvironmentProblem, match="not a journal sim tune can read .line 1 is cut short"):
        journal.open_study(file, "s", 1)
    assert file.read_bytes().endswith(b'"directio')  # nothing appended
