"""The headline: per compared variant, what changed against the baseline, in plain words and numbers.

Only the metrics whose verdict is better, worse or changed are named, each with the interval its
verdict was judged by, ranked by how much they matter to a customer and then to the bill (RANKS);
a difference within its minimal meaningful effect ("no meaningful difference", however
significant) is never one of them. The rest are summed up in two clauses: no meaningful
difference, then no significant difference (an interval that still allows a meaningful one).
A metric not in RANKS (a new one) still appears, after the ranked ones, under its own name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sim.metrics.baseline import BaselineDiff, Change
from sim.metrics.catalog import ALL_METRICS, Unit
from sim.metrics.comparison import (
    BETTER,
    CHANGED,
    EQUIVALENT,
    FINDINGS,
    NOT_APPLICABLE,
    SAME,
    WORSE,
    Comparison,
    Judgement,
    Verdict,
    judge_difference,
)
from sim.metrics.stats import Estimate

MINUS = "\u2212"  # a real minus sign: "−100 %" reads as a number, "-100 %" as a dash


@dataclass(frozen=True, slots=True)
class Rank:
    order: int  # lower comes first
    label: str  # the metric in plain words
    group: str  # of several significant metrics of one group, only the first is named
    alias: bool = False  # the group's first metric again in other terms (a rate of its count): never listed apart


# What matters most comes first: customers who got an apology or nothing, then how long
# answers took, then answers in the wrong order, then what the change costs (CRM, LLM, Redis).
RANKS: dict[str, Rank] = {
    # A stale answer overwrites a newer one in the conversation's history: worse than any apology.
    "stale_writes": Rank(5, "stale writes", "stale_writes"),
    "overlapping_holders": Rank(6, "overlapping lock holders", "overlapping_holders"),
    "fenced_writes": Rank(7, "fenced writes", "fenced_writes"),
    "no_reply": Rank(8, "messages left without a reply", "no_reply"),  # a team's handler (`[code]`)
    "handler_errors": Rank(9, "handler errors", "handler_errors"),
    "busy": Rank(10, "busy apologies", "apologies"),
    "busy_rate": Rank(11, "busy rate", "apologies", alias=True),
    "failed": Rank(12, "failures", "failures"),
    "answered": Rank(13, "answers", "apologies", alias=True),  # messages − apologies − failures
    "lock_lost": Rank(14, "locks lost", "lock_lost"),
    "redis_errors": Rank(15, "Redis errors", "redis_errors"),
    "customers_apologised": Rank(16, "customers apologised to", "customers_apologised"),
    # Customers who wait for answers: who left, and what was left unanswered.
    "abandon_rate": Rank(17, "conversations abandoned", "abandon"),
    "intents_answered_rate": Rank(18, "intents answered", "intents_answered"),
    "dropped_messages": Rank(19, "messages dropped (customer gone)", "dropped"),
    "latency_answered_p95_s": Rank(20, "p95 latency of answers", "latency_answered"),
    "latency_answered_p50_s": Rank(21, "median latency of answers", "latency_answered"),
    "latency_answered_p99_s": Rank(22, "p99 latency of answers", "latency_answered"),
    "first_reply_p95_s": Rank(23, "p95 time to first reply", "first_reply"),
    "first_reply_p50_s": Rank(24, "median time to first reply", "first_reply"),
    # All messages' latency mixes apologies in: named only when no answered-only percentile is.
    "latency_p95_s": Rank(25, "p95 latency", "latency_answered", alias=True),
    "latency_p50_s": Rank(26, "median latency", "latency_answered", alias=True),
    "latency_p99_s": Rank(27, "p99 latency", "latency_answered", alias=True),
    "out_of_order": Rank(30, "answers out of order", "out_of_order"),
    "nudges_per_intent": Rank(31, "nudges per intent", "nudges"),
    "resends_per_intent": Rank(32, "re-sends per intent", "resends"),
    "crm_calls": Rank(40, "CRM calls", "crm"),
    "llm_calls": Rank(41, "LLM calls", "llm"),
    "redis_commands": Rank(42, "Redis commands", "redis"),
    "lock_polls": Rank(43, "lock polls", "redis", alias=True),  # most of the Redis commands
    "cache_hit_ratio": Rank(44, "cache hit ratio", "cache"),
    "messages": Rank(50, "messages", "messages"),
    "conversations": Rank(51, "conversations", "messages"),
}
UNRANKED = 1000
NEGLIGIBLE_S = 0.05  # a latency change below it is shown in milliseconds
MAX_UNCHANGED = 6  # unchanged metrics named per clause of a headline; the rest are counted
MAX_PLACES = 6  # a microsecond: below it a difference is float noise


def rank(metric: str) -> Rank:
    return RANKS.get(metric, Rank(UNRANKED, metric, metric))


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: str  # BETTER | WORSE | CHANGED, or SEEN_ONCE's words for one run
    text: str  # "busy apologies −100 % [−100, −100] (1.0 → 0.0 per run)"


# With one replication there is no interval, so no verdict: a difference beyond the minimal meaningful
# effect is named as seen in that run, with its direction, and the headline says so.
SEEN_ONCE = {BETTER: "better, once", WORSE: "worse, once", CHANGED: "changed, once"}
ONE_RUN = "one run each: differences seen, no interval, no verdict"
WITHIN = "within the minimal meaningful effect"


@dataclass(frozen=True, slots=True)
class Headline:
    variant: str
    baseline: str
    findings: tuple[Finding, ...]
    unchanged: tuple[str, ...]  # labels of the metrics with no significant difference, ranked
    equivalent: tuple[str, ...] = ()  # labels of the metrics with no meaningful difference, ranked
    counted: bool = False  # the rest only counted, not named (against a previous run: only changes matter)
    note: str = ""  # said after the title: ONE_RUN for a single replication

    @property
    def title(self) -> str:
        return f"{self.variant} vs {self.baseline}" + (f" ({self.note})" if self.note else "")


PREVIOUS = "the previous run"  # what a headline against `--baseline` compares with


def headlines(c: Comparison) -> list[Headline]:
    """One headline per variant other than the baseline, in the comparison's order."""
    return [_headline(c, v) for v in c.estimates if v != c.baseline]


def baseline_headlines(diff: BaselineDiff) -> list[Headline]:
    """Per variant compared with `--baseline`, what changed since the previous run, as a headline says it."""
    variants = dict.fromkeys(ch.variant for ch in diff.changes)
    return [_baseline_headline([ch for ch in diff.changes if ch.variant == v], v) for v in variants]


def _baseline_headline(changed: Sequence[Change], variant: str) -> Headline:
    ranked = sorted(changed, key=lambda ch: (rank(ch.metric).order, ch.metric))
    named, groups = _named(
        (ch.metric, ch.verdict, functools.partial(describe, ch.metric, ch.difference, ch.old, ch.new)) for ch in ranked
    )
    return Headline(
        variant=variant,
        baseline=PREVIOUS,
        findings=named,
        unchanged=_rest(ranked, SAME, groups),
        equivalent=_rest(ranked, EQUIVALENT, groups),
        counted=True,
    )


def _headline(c: Comparison, variant: str) -> Headline:
    verdicts = sorted((v for v in c.verdicts if v.variant == variant), key=lambda v: (rank(v.metric).order, v.metric))
    if all(v.difference.n < 2 for v in verdicts):
        return _one_run(c, variant, verdicts)
    old, new = c.estimates[c.baseline], c.estimates[variant]
    named, groups = _named((v.metric, v.verdict, functools.partial(finding_text, v, old, new)) for v in verdicts)
    return Headline(
        variant=variant,
        baseline=c.baseline,
        findings=named,
        unchanged=_rest(verdicts, SAME, groups),
        equivalent=_rest(verdicts, EQUIVALENT, groups),
    )


def _one_run(c: Comparison, variant: str, verdicts: Sequence[Verdict]) -> Headline:
    """A single replication's headline: the differences beyond the margin as seen, the rest within it."""
    old, new = c.estimates[c.baseline], c.estimates[variant]
    seen = [
        (v, judge_difference(v.metric, v.difference, significant=abs(v.difference.mean) > v.margin))
        for v in verdicts
        if v.verdict != NOT_APPLICABLE
    ]
    named, groups = _named(
        (v.metric, SEEN_ONCE.get(j, j), functools.partial(finding_text, v, old, new)) for v, j in seen
    )
    within = tuple(
        rank(v.metric).label
        for v, j in seen
        if j not in FINDINGS and not (rank(v.metric).alias and rank(v.metric).group in groups)
    )
    return Headline(variant=variant, baseline=c.baseline, findings=named, unchanged=(), equivalent=within, note=ONE_RUN)


def _named(items: Iterable[tuple[str, str, Callable[[], str]]]) -> tuple[tuple[Finding, ...], set[str]]:
    """The findings among ranked (metric, verdict, its words) items: of one group only its first is named.
    The words are made only for a finding (a metric that does not apply has no number to put in words)."""
    named: list[Finding] = []
    groups: set[str] = set()
    for metric, verdict, words in items:
        if verdict in (*FINDINGS, *SEEN_ONCE.values()) and rank(metric).group not in groups:
            groups.add(rank(metric).group)
            named.append(Finding(verdict, words()))
    return tuple(named), groups


def _rest(verdicts: Sequence[Verdict | Change], judgement: Judgement, named: set[str]) -> tuple[str, ...]:
    """The labels of the verdicts that say `judgement`, ranked. An alias of a named metric is left out:
    "busy apologies better" beside "no significant difference in busy rate" would read as a contradiction."""
    return tuple(
        rank(v.metric).label
        for v in verdicts
        if v.verdict == judgement and not (rank(v.metric).alias and rank(v.metric).group in named)
    )


def finding_text(v: Verdict, old: Mapping[str, Estimate], new: Mapping[str, Estimate]) -> str:
    """The difference in the unit a reader thinks in: % for counts, seconds, percentage points for ratios."""
    return describe(v.metric, v.difference, old[v.metric].mean, new[v.metric].mean)


def describe(name: str, d: Estimate, before: float, after: float) -> str:
    """A difference `d` of metric `name`, with its interval and before → after (`finding_text`)."""
    label = rank(name).label
    metric = ALL_METRICS[name]
    # A count per run, or per something else (a count per intent: its own decimals, no "per run").
    decimals, per = (1, " per run") if metric.decimals is None else (metric.decimals, "")
    match metric.unit:
        case Unit.COUNT:
            if before == 0:
                places = _places(d.mean)
                return (
                    f"{label} {_signed(d.mean, places)}{per}{_ci(d, places)}"
                    f" ({_count(before, decimals)} → {_count(after, decimals)})"
                )
            scale = 100 / abs(before)
            share = _percent(d.mean * scale)
            # A count cannot fall below zero, so neither can its change below −100 %: the interval is cut there.
            ci = _ci(Estimate(d.mean * scale, max(d.low * scale, -100.0), d.high * scale, d.n), None)
            return f"{label} {share} %{ci} ({_count(before, decimals)} → {_count(after, decimals)}{per})"
        case Unit.SECONDS if abs(d.mean) < NEGLIGIBLE_S:
            ms = Estimate(1000 * d.mean, 1000 * d.low, 1000 * d.high, d.n)
            places = _places(ms.mean)
            return f"{label} {_signed(ms.mean, places)} ms{_ci(ms, places)} ({before:,.3f} → {after:,.3f} s)"
        case Unit.SECONDS:
            places = _places(d.mean)
            return f"{label} {_signed(d.mean, places)} s{_ci(d, places)} ({before:,.{places}f} → {after:,.{places}f} s)"
        case Unit.RATIO:
            points = Estimate(100 * d.mean, 100 * d.low, 100 * d.high, d.n)
            return (
                f"{label} {_signed(points.mean, 1)} points{_ci(points, 1)} ({100 * before:.1f} % → {100 * after:.1f} %)"
            )
    return label  # pragma: no cover - every unit is matched above


def unchanged_clause(labels: Sequence[str], words: str = SAME) -> str:
    """The most important unchanged metrics by name, the rest counted: the headline stays one screen."""
    if not labels:
        return ""
    named, rest = labels[:MAX_UNCHANGED], len(labels) - MAX_UNCHANGED
    return f"{words} in {', '.join(named)}" + (f" and {rest} more" if rest > 0 else "")


def rest_clauses(h: Headline) -> list[str]:
    """What the headline does not name: no meaningful difference, then no significant difference."""
    if h.counted:
        counts = ((len(h.equivalent), EQUIVALENT), (len(h.unchanged), SAME))
        return [f"{words} in {n} metric{'s' if n > 1 else ''}" for n, words in counts if n]
    said = WITHIN if h.note == ONE_RUN else EQUIVALENT
    clauses = [unchanged_clause(h.equivalent, said), unchanged_clause(h.unchanged, SAME)]
    return [clause for clause in clauses if clause]


def _ci(e: Estimate, decimals: int | None) -> str:
    if e.n < 2:
        return ""
    if decimals is None:
        return f" [{_percent(e.low)}, {_percent(e.high)}]"
    return f" [{_signed(e.low, decimals)}, {_signed(e.high, decimals)}]"


def _percent(value: float) -> str:
    """A relative change: whole percents from ±10 %, a tenth below, small ones to two significant digits."""
    return _signed(value, 0 if abs(value) >= 9.95 else _places(value))


def _places(value: float) -> int:
    """Decimals to show: one, or as many as two significant digits of a smaller value need (at most six).

    A significant difference of 4 ms must not read "+0.0 s worse".
    """
    if value == 0 or abs(value) >= 0.095:
        return 1
    return min(MAX_PLACES, 1 - math.floor(math.log10(abs(value))))


def _signed(value: float, decimals: int) -> str:
    text = f"{round(value, decimals) + 0.0:+,.{decimals}f}"  # + 0.0: no "-0.0"
    return text.replace("-", MINUS)


def _count(value: float, decimals: int = 1) -> str:
    return f"{value:,.{decimals}f}"
