"""The fit report: per fitted quantity the candidates' AIC and KS p-values, the choice and its
plots; the arrivals, sessions and bad rows. Markdown for people, fit.json for programs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.fit import plots
from sim.fit.latency import AIC_EVEN, ALPHA, Fit, why_not_fitted
from sim.fit.world import FittedWorld
from sim.report.folder import write_atomically

FIT_JSON = "fit.json"


def fits_of(world: FittedWorld) -> dict[str, Fit]:
    """The fitted distributions by the scenario key they set."""
    found = {"burst_gap": world.gap}
    if world.crm is not None:
        found["crm"] = world.crm
    if world.llm is not None:
        found["llm"] = world.llm
    if world.conversations is not None:
        found["think"] = world.conversations.think
        found["resend_delay"] = world.conversations.resend_delay
    return found


def write(world: FittedWorld, out: Path, name: str, scenario: str) -> Path:
    """OUT/<name>/: report.md, fit.json and the plots, written atomically like every report folder."""

    def fill(folder: Path) -> None:
        images = plots.write_all(world, fits_of(world), folder)
        (folder / "report.md").write_text(markdown(world, scenario, images), encoding="utf-8")
        (folder / FIT_JSON).write_text(json.dumps(as_json(world), indent=2) + "\n", encoding="utf-8")

    return write_atomically(out, name, fill)


def markdown(world: FittedWorld, scenario: str, images: list[str]) -> str:
    lines = [f"# Fit of {len(world.logs.files)} log file(s) → `{scenario}`", ""]
    lines += _input(world) + _arrivals(world, images) + _sessions(world, images) + _conversations(world)
    for key, fitted in fits_of(world).items():
        lines += _fit_section(key, fitted, images)
    return "\n".join(lines) + "\n"


def _input(world: FittedWorld) -> list[str]:
    logs = world.logs
    lines = [
        "## Input",
        f"- files: {', '.join(f'`{f}`' for f in logs.files)}",
        f"- rows: {logs.rows:,}: {len(logs.messages):,} messages, {len(logs.calls):,} service calls, "
        f"**{logs.bad_count:,} bad rows**"
        + (f" ({logs.duplicates:,} of them messages repeated in every field)" if logs.duplicates else "")
        + (f"; {logs.repeated_calls:,} call rows equal to an earlier one, kept" if logs.repeated_calls else ""),
    ]
    if logs.bad:
        lines += ["", "| where | why |", "|---|---|", *(f"| {b.file}:{b.line} | {b.reason} |" for b in logs.bad)]
        if logs.bad_count > len(logs.bad):
            lines.append(f"\n… and {logs.bad_count - len(logs.bad):,} more bad rows.")
    return [*lines, ""]


def _arrivals(world: FittedWorld, images: list[str]) -> list[str]:
    a = world.arrivals
    lines = ["## Arrivals (sessions per hour)", f"Mean {a.rate:.4g} sessions/h over {a.hours:g} h (hours of day in "
             f"{world.logs.zone}); a session starts a burst in the scenario.", ""]  # fmt: skip
    if a.hourly:
        head = "| hour | rate/h" + (" (weekdays) | weekends" if a.weekend else "") + " | hours observed |"
        lines += [head, "|---|---|" + ("---|" if a.weekend else "") + "---|"]
        for h in range(24):
            weekend = f" {a.weekend[h]:.4g} |" if a.weekend else ""
            lines.append(f"| {h:02d} | {a.hourly[h]:.4g} |{weekend} {a.exposure[h]:g} |")
    else:
        lines.append("The log does not cover every hour of the day: one rate for the whole run.")
    return [*lines, "", *_image("hourly_rates.png", images)]


def _sessions(world: FittedWorld, images: list[str]) -> list[str]:
    b = world.behaviour
    told = b.before_reply + b.after_reply
    return [
        "## Sessions",
        f"A session is a customer's messages with no silence over {world.session_gap:g} s between two of them.",
        "",
        f"- {b.sessions:,} sessions, {b.messages:,} messages, {b.customers:,} distinct customers",
        f"- gaps that join two bursts of one customer (a mixture with the gaps within bursts, fitted by EM): "
        f"{world.gaps.share:.2%} of the gaps, about {world.bursts.count - b.sessions:,.1f}; so "
        f"{world.bursts.count:,.1f} bursts, messages per burst: mean {world.burst_size.mean():.4g}",
        f"- population (customers that make this many repeats most likely with uniform draws): **{world.population:,}**"
        + (" (0: every burst a new customer)" if world.population == 0 else ""),
        f"- returning within the cache TTL ({world.cache_ttl:g} s): {_share(b.returning, b.sessions)} of sessions; "
        f"{_share(b.reused, b.messages)} of messages follow one of the same tax id by less than the TTL "
        "(this decides the cache hit ratio)",
        f"- later messages sent **before** the previous message's reply: {_share(b.before_reply, told)} "
        f"({b.before_reply:,}); after it: {_share(b.after_reply, told)} ({b.after_reply:,}); no reply logged: "
        f"{b.reply_unknown:,}. The scenario's gaps do not wait for replies: the messages sent before one are the ones "
        "that meet a held lock (this decides the busy rate).",
        "",
        *_image("burst_sizes.png", images),
    ]


def _conversations(world: FittedWorld) -> list[str]:
    c = world.conversations
    if c is None:
        return []
    b = world.behaviour
    told = b.before_reply + b.after_reply
    rows = [
        ("sessions_per_hour", f"{c.sessions_per_hour:.4g}", "sessions started per hour over the log"),
        ("messages (mean)", f"{c.messages.mean():.4g}", f"intents per session; {c.sent_mean:.4g} as sent, "
         "give-ups' sessions right-censored (EM, discrete Kaplan-Meier)"),
        ("think", _described(c.think), "reply to the next intent (AIC among candidates, KS test)"),
        ("impatience", _described(c.impatience), f"{c.nudges:,} nudge gaps, the waits a reply ended right-censored "
         "(scipy.stats.CensoredData, AIC), refitted with give_up by EM"),
        ("give_up", f"{c.give_up:.3f}", f"~{c.give_ups:.0f} give-ups / (their sum + nudges + silent expiries): EM"),
        ("max_nudges", str(c.max_nudges), "the most nudges an intent got (the cap's maximum-likelihood estimate)"),
        ("resend", f"{c.resend:.3f}", f"{c.resent:,} of {c.busy:,} busy apologies followed by a message before "
         "the answer (an answer that comes first hides a re-send: biased low)"),
        ("resend_delay", _described(c.resend_delay), "busy apology to the re-send"),
        ("max_resends", str(c.max_resends), "the most re-sends an intent got (the cap's estimate)"),
    ]  # fmt: skip
    return [
        "## Customers who wait for answers (`[workload.conversations]`)",
        f"Later messages sent before the previous message's reply: {_share(b.before_reply, told)}; after it: "
        f"{_share(b.after_reply, told)}. Each session replayed as the simulator's customer lives it: a message "
        "with nothing outstanding is an intent, one after a busy apology a re-send, any other a nudge.",
        "",
        "| parameter | fitted | from |",
        "|---|---|---|",
        *(f"| `{k}` | {v} | {why} |" for k, v, why in rows),
        "",
    ]


def _described(fitted: Fit) -> str:
    if fitted.chosen is None:
        return f"empirical, mean {fitted.distribution.mean():.4g} s" if len(fitted.samples) else "none observed"
    parameters = ", ".join(f"{k} {v:.4g}" for k, v in fitted.chosen.parameters)
    return f"{fitted.chosen.family} ({parameters}), mean {fitted.chosen.distribution.mean():.4g} s"


def _fit_section(key: str, fitted: Fit, images: list[str]) -> list[str]:
    lines = [f"## {fitted.quantity} (`{key}`)", f"{len(fitted.samples):,} observations"]
    if fitted.raised:
        floor = fitted.samples[0]
        lines[-1] += f"; {fitted.raised:,} below {floor:.3g} s (the log's resolution) counted as {floor:.3g} s"
    lines.append("")
    if not fitted.candidates:
        return [*lines, f"Not fitted ({why_not_fitted(fitted)}): the scenario resamples the observations.", ""]
    best = fitted.candidates[0].aic
    lines += ["| candidate | parameters | AIC | ΔAIC | KS D | KS p | passes |", "|---|---|---|---|---|---|---|"]
    for c in fitted.candidates:
        parameters = ", ".join(f"{k} {v:.4g}" for k, v in c.parameters)
        lines.append(
            f"| {c.family} | {parameters} | {c.aic:.1f} | {c.aic - best:.1f} | {c.ks_statistic:.4f} | "
            f"{c.ks_p:.3g} | {'yes' if c.passes else 'no'} |"
        )
    lines.append("")
    if fitted.chosen is None:
        lines.append(
            f"**No candidate fits**: the KS test rejects every one (p < {ALPHA}). The scenario resamples the "
            "observations (empirical)."
        )
    else:
        lines.append(
            f"**Chosen: {fitted.chosen.family}** — the lowest AIC among the candidates the KS test accepts "
            f"(p ≥ {ALPHA}; within {AIC_EVEN:g} AIC of it, the one with fewest parameters)."
        )
    lines.append("KS p-values use parameters fitted from the same data, so they are conservative: a rejection is sure.")
    return [*lines, "", *_image(f"{key}_qq.png", images), *_image(f"{key}_ecdf.png", images)]


def _image(name: str, images: list[str]) -> list[str]:
    return [f"![{name[:-4]}]({name})", ""] if name in images else []


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def as_json(world: FittedWorld) -> dict[str, Any]:
    a, b = world.arrivals, world.behaviour
    return {
        "kind": "fit",
        "rows": world.logs.rows,
        "messages": len(world.logs.messages),
        "calls": len(world.logs.calls),
        "bad_rows": world.logs.bad_count,
        "repeated_messages": world.logs.duplicates,
        "repeated_calls": world.logs.repeated_calls,
        "bad": [str(r) for r in world.logs.bad],
        "arrivals": {"rate_per_hour": a.rate, "hours": a.hours, "hourly": list(a.hourly), "weekend": list(a.weekend)},
        "sessions": {
            "gap_s": world.session_gap,
            "sessions": b.sessions,
            "customers": b.customers,
            "bursts": world.bursts.count,
            "joining_gaps_share": world.gaps.share,
            "joining_rate_per_s": world.gaps.rate,
            "population": world.population,
            "returning_within_ttl": b.returning,
            "messages_within_ttl": b.reused,
            "sent_before_reply": b.before_reply,
            "sent_after_reply": b.after_reply,
            "reply_unknown": b.reply_unknown,
            "burst_size": {"values": list(world.burst_size.values), "counts": list(world.burst_size.weights)},
        },
        "fits": {key: _fit_json(f) for key, f in fits_of(world).items()},
        "redis_rtt_s": world.redis_rtt,
        "conversations": None if world.conversations is None else _conversations_json(world),
    }


def _conversations_json(world: FittedWorld) -> dict[str, Any]:
    c = world.conversations
    assert c is not None
    return {
        "sessions_per_hour": c.sessions_per_hour,
        "messages": {"values": list(c.messages.values), "weights": list(c.messages.weights), "mean": c.messages.mean()},
        "intents_sent_mean": c.sent_mean,
        "think_mean_s": c.think.distribution.mean() if len(c.think.samples) else None,
        "impatience": _fit_json(c.impatience),
        "impatience_mean_s": c.impatience.distribution.mean() if c.impatience.chosen else None,
        "give_up": c.give_up,
        "give_ups_expected": c.give_ups,
        "nudges": c.nudges,
        "max_nudges": c.max_nudges,
        "resend": c.resend,
        "busy": c.busy,
        "max_resends": c.max_resends,
    }


def _fit_json(fitted: Fit) -> dict[str, Any]:
    return {
        "observations": len(fitted.samples),
        "chosen": str(fitted.family),
        "candidates": [
            {
                "family": str(c.family),
                "parameters": dict(c.parameters),
                "aic": c.aic,
                "ks_p": None if math.isnan(c.ks_p) else c.ks_p,  # None: censored data, no test
                "passes": None if math.isnan(c.ks_p) else c.passes,
            }
            for c in fitted.candidates
        ],
    }
