"""Write the fitted world as a commented scenario file (and the observations an empirical
distribution resamples, as CSV files beside it)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

import numpy as np

from sim.core import distributions as d
from sim.core.errors import ScenarioError
from sim.core.text import toml_string
from sim.fit.latency import Candidate, Fit, why_not_fitted
from sim.fit.output import EMPIRICAL_HEADER, FIT_MARK, empirical_path, move_in, staged, write_text
from sim.fit.world import FittedWorld
from sim.scenario.load import MAX_CSV_ROWS, REPORT_NAME

MAX_EMPIRICAL = 10_000  # values written for an empirical distribution: its quantiles when there are more
assert MAX_EMPIRICAL < MAX_CSV_ROWS
_EmpiricalWriter = Callable[[str, Fit], str]  # (scenario key, fit) → the CSV file's name, written beside


class Customers(StrEnum):
    """`sim fit --customers`: how the written scenario's customers behave."""

    BURSTS = "bursts"  # open loop: [workload] bursts, their gaps not waiting for replies
    CONVERSATIONS = "conversations"  # closed loop: [workload.conversations], bursts off


def scenario_name(out: Path) -> str:
    """The scenario's name (and its reports' folder): the file's stem when it is a plain name."""
    return out.stem if REPORT_NAME.fullmatch(out.stem) else "fitted"


def write_scenario(world: FittedWorld, out: Path) -> list[Path]:
    """Writes `out` and its empirical CSV files; returns every file written.

    They are written into a staging folder beside `out` under their final names and loaded there as a
    scenario first: a file `sim` cannot load is never left in place (and says so, as the bug it is).
    """
    from sim.scenario.load import load_scenario  # what sim fit writes, sim reads

    with staged(out) as folder:
        written: list[Path] = []
        text = render(world, scenario_name(out), lambda key, fit: _empirical_file(fit, folder / out.name, key, written))
        write_text(folder / out.name, text)
        try:
            load_scenario(folder / out.name)
        except ScenarioError as error:
            raise UnloadableOutput(f"sim fit wrote a scenario sim cannot load, so wrote nothing: {error}") from None
        for path in written:
            move_in(path, out.with_name(path.name))
        move_in(folder / out.name, out)
    return [out, *(out.with_name(p.name) for p in written)]


class UnloadableOutput(RuntimeError):
    """A bug in sim fit: the scenario it fitted does not load (an internal error, exit 4, not the user's input)."""


def render(world: FittedWorld, name: str, empirical: _EmpiricalWriter) -> str:
    a, b = world.arrivals, world.behaviour
    logs = world.logs
    lines = [
        f"{FIT_MARK} from {len(logs.files)} log file(s): {len(logs.messages):,} messages, "
        f"{len(logs.calls):,} service calls, {logs.bad_count:,} bad rows (listed in the fit report).",
        f"# Sessions end after {world.session_gap:g} s of silence; hours of day in {logs.zone}.",
        "# The configuration (lock, cache, workers) is not in the logs: set production's below,",
        "# then `sim validate` this file against the logs.",
        "",
        "[scenario]",
        f"name = {toml_string(name)}",
        "seed = 1",
        f'duration = "{24 if a.hourly else max(1, round(a.hours))}h"',
        "replications = 10",
        "",
        "[workload]",
        *(_rates(world) if world.conversations is None else _bursts_off()),
        f"# {b.customers:,} customers in {b.sessions:,} sessions; {_share(b.returning, b.sessions)} of sessions "
        f"start within the cache TTL ({world.cache_ttl:g} s) of the same tax id's previous message",
        *_joined(world),
        f"population = {world.population}" + ("  # every burst a new customer" if world.population == 0 else ""),
        f"# messages per burst: mean {world.burst_size.mean():.3g}"
        + (f"; {world.capped_sessions} bursts over 1000 messages counted as 1000" if world.capped_sessions else ""),
        f"burst_size = {_count(world.burst_size)}",
        f"# {_share(b.before_reply, b.before_reply + b.after_reply)} of later messages were sent before the "
        f"previous message's reply ({b.reply_unknown:,} without a logged reply)",
        *_distribution_lines("burst_gap", world.gap, empirical),
        *_conversation_lines(world, empirical),
        "",
        "[services]",
    ]
    for key, fitted in (("crm", world.crm), ("llm", world.llm)):
        if fitted is None:
            lines.append(f"# {key}: no calls logged; the default applies")
        else:
            lines += _distribution_lines(key, fitted, empirical)
    if world.redis_rtt is not None:
        lines += ["", "[redis]", f"rtt = {_seconds(max(world.redis_rtt, 1e-6))}  # the median logged Redis call"]
    lines += ["", "# [workers]", "# count = 10  # production's worker count", ""]
    return "\n".join(lines)


def _joined(world: FittedWorld) -> list[str]:
    """What the sessions' gaps say of customers who came back within the session gap."""
    g, b = world.gaps, world.behaviour
    if g.share <= 0:
        return []
    return [
        f"# {world.bursts.count - b.sessions:,.0f} of the gaps inside sessions ({g.share:.1%}) join two bursts of one "
        f"customer (fitted as a mixture): {world.bursts.count:,.0f} bursts"
    ]


def _rates(world: FittedWorld) -> list[str]:
    a = world.arrivals
    if not a.hourly:
        return [
            f"# bursts per hour; the log covers {a.hours:g} h, not every hour of the day",
            f"customers_per_hour = {_number(a.rate)}",
        ]
    kind = (
        "weekdays"
        if a.weekend
        else f"weekends: no weekday had traffic; {min(a.exposure):g} or more days"
        if a.days == "weekends"
        else f"{min(a.exposure):g} or more days"
    )
    lines = [f"# bursts per hour by hour of day ({kind}; mean {a.rate:.4g}/h)"]
    if a.weekend:
        lines.append(f"# weekends (a scenario has one daily curve): [{', '.join(_number(r) for r in a.weekend)}]")
    return [*lines, f"customers_per_hour = [{', '.join(_number(r) for r in a.hourly)}]"]


def _bursts_off() -> list[str]:
    return [
        "# customers wait for answers (sim fit --customers conversations): no open-loop bursts; the burst keys",
        "# below only describe the log. Conversations open at [workload.conversations]sessions_per_hour.",
        "customers_per_hour = 0",
    ]


def _session_rate_lines(hourly: Sequence[float], mean: float) -> list[str]:
    """Conversations open along the log's daily curve when it has one, else at its mean rate."""
    if not hourly:
        return [f"sessions_per_hour = {_number(mean)}"]
    return [
        f"# sessions per hour by hour of day (mean {mean:.4g}/h)",
        f"sessions_per_hour = [{', '.join(_number(r) for r in hourly)}]",
    ]


def _conversation_lines(world: FittedWorld, empirical: _EmpiricalWriter) -> list[str]:
    c = world.conversations
    if c is None:
        return []
    shares = f"{c.intents_sent:,} intents sent in {c.sessions:,} sessions (mean {c.sent_mean:.3g})"
    return [
        "",
        "[workload.conversations]",
        *_session_rate_lines(world.arrivals.hourly, c.sessions_per_hour),
        f"# {shares}; give-ups' sessions counted as censored (EM, Kaplan-Meier): mean {c.messages.mean():.3g}",
        f"messages = {_count(c.messages)}",
        *_distribution_lines("think", c.think, empirical),
        "# impatience: fitted with the waits a reply ended as right-censored, jointly with give_up (EM)",
        *_distribution_lines("impatience", c.impatience, empirical),
        f"# {c.nudges:,} nudges and ~{c.give_ups:.0f} give-ups estimated (maximum likelihood, EM)",
        f"give_up = {_number(c.give_up)}",
        f"max_nudges = {c.max_nudges}  # the most nudges an intent got: the cap's estimate",
        f"# {c.resent:,} of {c.busy:,} busy apologies followed by another message before the answer",
        f"resend = {_number(c.resend)}",
        *_distribution_lines("resend_delay", c.resend_delay, empirical),
        f"max_resends = {c.max_resends}  # the most re-sends an intent got: the cap's estimate",
    ]


def _distribution_lines(key: str, fitted: Fit, empirical: _EmpiricalWriter) -> list[str]:
    if len(fitted.samples) == 0:
        return [f"# {key}: nothing observed; the default applies"]
    if fitted.chosen is None:
        why = why_not_fitted(fitted)
        return [
            f"# {key}: {why}: the observations resampled",
            f"{key} = {_table(d.Empirical((), empirical(key, fitted)))}",
        ]
    chosen = fitted.chosen
    return [
        f"# {key}: {chosen.family} chosen by AIC among {len(fitted.candidates)} ({_check(chosen)}, "
        f"{len(fitted.samples):,} observations)",
        f"{key} = {_table(chosen.distribution)}",
    ]


def _check(c: Candidate) -> str:
    if math.isnan(c.ks_p):
        return "no KS test for censored data"
    return f"KS p = {c.ks_p:.3g}"


def _table(dist: d.Distribution) -> str:
    match dist:
        case d.Empirical(source=file):
            return f'{{ dist = "empirical", file = {toml_string(file)} }}'
        case d.Mixture(weights=weights, components=parts):
            inner = ", ".join(
                f"{{ weight = {_number(w)}, {_table(p)[2:-2]} }}" for w, p in zip(weights, parts, strict=True)
            )
            return f'{{ dist = "mixture", components = [{inner}] }}'
        case _:
            table = dist.to_table()
            items = [f'dist = "{table.pop("dist")}"']
            items += [f"{k} = {_number(v) if k == 'shape' else _seconds(v)}" for k, v in table.items()]
            return "{ " + ", ".join(items) + " }"


def _count(count: d.ChoiceCount) -> str:
    values = ", ".join(str(v) for v in count.values)
    weights = ", ".join(_number(w) for w in count.weights)
    return f'{{ dist = "choice", values = [{values}], weights = [{weights}] }}'


def _number(value: float) -> str:
    text = f"{value:.6g}"
    return text if any(c in text for c in ".en") else text + ".0"


def _seconds(value: float) -> str:
    return _number(float(value))


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _empirical_file(fitted: Fit, out: Path, key: str, written: list[Path]) -> str:
    """Writes the observations (at most MAX_EMPIRICAL quantiles) beside `out`; returns the file's name."""
    values = fitted.samples
    if len(values) > MAX_EMPIRICAL:
        values = np.quantile(values, (np.arange(MAX_EMPIRICAL) + 0.5) / MAX_EMPIRICAL)
    path = empirical_path(out, key)
    write_text(path, EMPIRICAL_HEADER + "\n" + "".join(f"{v:.6g}\n" for v in values))
    written.append(path)
    return path.name
