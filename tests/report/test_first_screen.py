"""The report's first screen — headline and threshold checks — word for word, for a small hand-built comparison."""

from sim.metrics.catalog import METRICS
from sim.metrics.comparison import Comparison, verdict
from sim.metrics.stats import mean_ci
from sim.metrics.thresholds import judge, parse_threshold
from sim.report import document, markdown, terminal
from sim.report.headline import RANKS, UNRANKED, Rank, finding_text, headlines, rank


def rep(**values: float) -> dict[str, float]:
    """One replication's metrics: zero unless given."""
    return {m: values.get(m, 0) for m in METRICS}


def comparison(thresholds=("after.busy_rate<0.01", "latency_p95_s<40")) -> Comparison:
    per_rep = {
        "before": [
            rep(messages=10, answered=8, busy=2, busy_rate=0.2, latency_p95_s=30.0 + i, crm_calls=8)
            | {"redis_commands": 400 + 10 * i}
            for i in range(3)
        ],
        "after": [
            rep(messages=10, answered=10, latency_p95_s=40.0 + 1.5 * i, crm_calls=4, out_of_order=1)
            | {"redis_commands": 40 + i}
            for i in range(3)
        ],
    }  # fmt: skip
    estimates = {v: {m: mean_ci([r[m] for r in reps]) for m in METRICS} for v, reps in per_rep.items()}
    judged = [o for t in thresholds for o in judge(parse_threshold(t, ["before", "after"]), per_rep, "before")]
    return Comparison(
        scenario="small",
        seed=1,
        replications=3,
        baseline="before",
        descriptions={"before": "old", "after": "new"},
        per_replication=per_rep,
        estimates=estimates,
        verdicts=[verdict("after", "before", m, per_rep["after"], per_rep["before"]) for m in METRICS],
        thresholds=judged,
        runs={},
    )


def test_markdown_first_screen_names_the_significant_changes_ranked_then_the_thresholds():
    text = markdown.render(document.first_screen(comparison()))
    assert text == (
        "# small: 2 variant(s) compared\n\n"
        "Seed 1, 3 replication(s) with common random numbers, 95 % CIs. Invariants held in all 6 runs.\n\n"
        "**after vs before:** busy apologies −100 % [−100, −100] (2.0 → 0.0 per run) better; "
        "p95 latency +10.5 s [+9.3, +11.7] (31.0 → 41.5 s) worse; "
        "answers out of order +1.0 per run [+1.0, +1.0] (0.0 → 1.0) worse; "
        "CRM calls −50 % [−50, −50] (8.0 → 4.0 per run) better; "
        "Redis commands −90 % [−95, −85] (410.0 → 41.0 per run) better; "
        "no meaningful difference in failures, locks lost, Redis errors, customers apologised to, "
        "p95 latency of answers, median latency of answers and 6 more.\n\n"
        "**Thresholds:**\n\n"
        "- ✓ after.busy_rate<0.01 for after: busy_rate ≤ 0 % (upper 95 % bound)\n"
        "- ✓ latency_p95_s<40 for before: latency_p95_s ≤ 33.48 s (upper 95 % bound)\n"
        "- ✗ latency_p95_s<40 for after: latency_p95_s ≤ 45.23 s (upper 95 % bound) BREACHED\n"
    )


def test_terminal_prints_a_finding_a_line_after_its_verdict_then_the_checks():
    assert terminal.first_screen(document.first_screen(comparison())) == (
        "after vs before:\n"
        "  better   busy apologies −100 % [−100, −100] (2.0 → 0.0 per run)\n"
        "  worse    p95 latency +10.5 s [+9.3, +11.7] (31.0 → 41.5 s)\n"
        "  worse    answers out of order +1.0 per run [+1.0, +1.0] (0.0 → 1.0)\n"
        "  better   CRM calls −50 % [−50, −50] (8.0 → 4.0 per run)\n"
        "  better   Redis commands −90 % [−95, −85] (410.0 → 41.0 per run)\n"
        "  no meaningful difference in failures, locks lost, Redis errors, customers apologised to, "
        "p95 latency of answers, median latency of answers and 6 more\n"
        "thresholds:\n"
        "  ✓ after.busy_rate<0.01 for after: busy_rate ≤ 0 % (upper 95 % bound)\n"
        "  ✓ latency_p95_s<40 for before: latency_p95_s ≤ 33.48 s (upper 95 % bound)\n"
        "  ✗ latency_p95_s<40 for after: latency_p95_s ≤ 45.23 s (upper 95 % bound) BREACHED"
    )


def test_of_one_group_only_the_highest_ranked_significant_metric_is_named():
    # busy, busy_rate and answered all improved: one finding, the busy apologies; answered is not repeated.
    (headline,) = headlines(comparison())
    labels = ["busy apologies", "p95 latency", "answers out of order", "CRM calls", "Redis commands"]
    assert len(headline.findings) == len(labels)
    assert all(f.text.startswith(f"{label} ") for f, label in zip(headline.findings, labels, strict=True))


def test_an_alias_of_a_named_metric_is_not_listed_as_unchanged_but_another_percentile_is():
    (headline,) = headlines(comparison())  # Redis commands named; lock polls (zero everywhere) are its alias
    rest = headline.unchanged + headline.equivalent  # zero in both: no meaningful difference
    assert "lock polls" not in rest and "Redis commands" not in rest
    assert "median latency of answers" in headline.equivalent  # p95 latency named; answers alone are another quantity
    assert "median latency" not in rest  # all messages' median is an alias of a named latency


def test_a_significant_difference_below_a_tenth_keeps_two_significant_digits():
    c = comparison()
    for i, r in enumerate(c.per_replication["after"]):
        r["latency_p99_s"] = 0.004 + 0.0001 * i  # 4 ms slower than the baseline's zero
    v = verdict("after", "before", "latency_p99_s", c.per_replication["after"], c.per_replication["before"])
    text = finding_text(v, c.estimates["before"], {"latency_p99_s": mean_ci([0.004, 0.0041, 0.0042])})
    assert text == "p99 latency +4.1 ms [+3.9, +4.3] (0.000 → 0.004 s)"


def test_a_metric_without_a_rank_is_named_by_its_key_after_the_ranked_ones():
    assert rank("new_metric") == Rank(UNRANKED, "new_metric", "new_metric")
    assert all(r.order < UNRANKED for r in RANKS.values())
    # Lock safety leads when a scenario measures it (a stale answer is worse than an apology); then apologies.
    assert min(RANKS.values(), key=lambda r: r.order).label == "stale writes"
    assert min((r for r in RANKS.values() if r.order >= 10), key=lambda r: r.order).label == "busy apologies"


def test_rows_identical_in_every_run_collapse_into_one_line_under_the_tables():
    text = markdown.render(document.build(comparison(), plots=False))
    line = "Identical in every run of every variant: messages 10, failed 0, latency_p50_s 0.00 s,"
    assert line in text
    assert "| failed |" not in text and "| lock_lost |" not in text and "| busy |" in text
    assert "| latency_p95_s (all messages, apologies included) |" in text


def test_without_thresholds_the_first_screen_says_so():
    text = markdown.render(document.first_screen(comparison(thresholds=())))
    assert text.endswith("median latency of answers and 6 more.\n\nNo thresholds set.\n")
