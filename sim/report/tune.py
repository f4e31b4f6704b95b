"""The tuning report: the recommendation and its guarantee first, then the search, then
`sim compare`'s full report of the recommendation against the base variant.

Reads only the results model (`sim.metrics.tuning.TuneResult`); the compare part is
built by the compare report's own public functions, so it reads the same as `sim compare`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sim.metrics.baseline import FORMAT_VERSION  # noqa: E402
from sim.metrics.stats import Estimate  # noqa: E402
from sim.metrics.tuning import Finalist, TuneResult  # noqa: E402
from sim.report import document, html, json_report, markdown, plots, records_csv, terminal  # noqa: E402
from sim.report.document import Block, Heading, Image, Paragraph, Table  # noqa: E402
from sim.report.headline import MINUS, headlines  # noqa: E402
from sim.report.numbers import rounded, rounded_estimate  # noqa: E402

PATH_PLOT, PARETO_PLOT, SENSITIVITY_PLOT = "tune_path.png", "tune_pareto.png", "tune_sensitivity.png"


def write(result: TuneResult, folder: Path) -> None:
    images = _plots(result, folder)
    compared: list[Block] = []
    if result.comparison is not None:
        plots.write_all(result.comparison, folder)
        compared = document.build(result.comparison)
        if any(run.records is not None for runs in result.comparison.runs.values() for run in runs):
            records_csv.write(result.comparison, folder / "records.csv")  # a large confirmation keeps none
    head = _head(result)
    search = _search(result, images)
    toml = result.toml.rstrip("\n")
    md = [*head, Paragraph(f"```toml\n{toml}\n```"), *search, *compared]
    page = [*head, *(Paragraph(line) for line in toml.splitlines()), *search, *compared]
    (folder / "report.md").write_text(markdown.render(md), encoding="utf-8")
    (folder / "report.html").write_text(html.render(page, folder), encoding="utf-8")
    (folder / "results.json").write_text(render_json(result), encoding="utf-8")


def headline(result: TuneResult) -> str:
    """What to set, what it gains with its interval, and how sure the choice is: plain text, no Markdown."""
    return " ".join(_headline_sentences(result))


def _headline_sentences(result: TuneResult) -> list[str]:
    g = result.guarantee
    if result.chosen is None:
        return [
            f"No finalist met every constraint ({', '.join(result.constraints)}) on its 95 % CI bound over "
            f"{g.replications} fresh replications: nothing is recommended; the closest one is shown below."
        ]
    chosen = _finalist(result, result.chosen)
    settings = ", ".join(f"{k} = {v}" for k, v in chosen.point.items())
    sure = (
        f"within δ = {_number(g.delta)} of the best of the {len(result.finalists)} finalists"
        if g.within_delta
        else f"at most {_number(g.bound)} above the best of the {len(result.finalists)} finalists "
        f"(δ = {_number(g.delta)} was not reached: the {g.needed} replications it needed are above the cap of "
        f"{g.replications})"
    )
    return [
        f"Set {settings}.",
        *(_gain(result, i) for i in range(len(result.objectives))),
        f"With probability ≥ {g.confidence * 100:.0f} % it is {sure}"
        + (f", and it meets {_constraints_text(chosen)}." if chosen.constraints else "."),
    ]


def _gain(result: TuneResult, i: int) -> str:
    """An objective against the base variant: chosen − base, paired over the fresh replications, with its interval."""
    objective, g = result.objectives[i], result.guarantee
    chosen = _finalist(result, result.chosen) if result.chosen else None
    if chosen is None or i >= len(result.gains):
        return ""
    gain, base = result.gains[i], result.base_fresh[i]
    share = f", {gain.mean / abs(base.mean) * 100:+.1f} %" if base.mean and math.isfinite(base.mean) else ""
    verdict = "" if gain.excludes_zero() else " (no significant change)"
    change = f"{_estimate(gain, signed=True)}{share}".replace("-", MINUS)  # numbers only: a name may hold a "-"
    return (
        f"{objective} {_estimate(chosen.fresh[i])} against {_estimate(base)} for {result.base!r}: "
        f"{change}{verdict}, paired on {g.replications} fresh replications (seed {g.seed})."
    )


def terminal_headline(result: TuneResult) -> str:
    """The headline for a terminal: its sentences a line each, then what else the recommendation changes
    against the base variant (`sim compare`'s headline of the confirmation's comparison)."""
    lines = [f"  {sentence}" for sentence in _headline_sentences(result) if sentence]
    if result.comparison is not None and result.chosen is not None:
        lines.append(f"  Against {result.base!r}, on every reported metric:")
        lines += [f"  {line}" for line in terminal.first_screen(list(headlines(result.comparison))).splitlines()[1:]]
    return "\n".join(lines)


def _head(result: TuneResult) -> list[Block]:
    g = result.guarantee
    sentences = [text for text in _headline_sentences(result) if text]
    compared = list(headlines(result.comparison)) if result.comparison is not None and result.chosen else []
    return [
        Heading(f"{result.scenario}: what should we set?", 1),
        Paragraph(f"**{sentences[0]}** {' '.join(sentences[1:])}".rstrip()),
        *compared,
        Paragraph(
            f"Searched {_settings(result)} from variant {result.base!r}, minimising "
            f"{' and '.join(result.objectives)}"
            + (f" subject to {', '.join(result.constraints)}" if result.constraints else "")
            + f": {len(result.trials)} trials ({_stop(result)}), seed {result.seed}."
        ),
        Heading("The guarantee"),
        Paragraph(
            f"Procedure: {g.procedure}. The {len(result.finalists)} finalists and {result.base!r} ran "
            f"{g.first_stage} fresh replications of seed {g.seed} (never the search's seed {result.seed}: its "
            f"estimates are optimistic), then {g.replications} in all, "
            + (
                f"the cap ([tune]confirmation): the bound at δ = {_number(g.delta)} needed {g.needed}"
                if g.capped
                else f"the number that aims the bound at δ = {_number(g.delta)}"
            )
            + f". With probability ≥ {g.confidence * 100:.0f} %, the chosen configuration's expected "
            f"{result.objectives[0]} is at most {_number(g.bound)} above the best finalist's"
            + (" — within δ." if g.within_delta else " — not within δ: more replications (`[tune]confirmation`).")
            + " Constraints are judged like thresholds, on the 95 % CI bound worst for them."
        ),
        _finalists_table(result),
        *_runners_up(result),
        Heading("Recommended configuration"),
        Paragraph(f"Paste into the scenario file (the settings not searched are as in variant {result.base!r}):"),
    ]


def _finalists_table(result: TuneResult) -> Table:
    rows = tuple(
        (
            f.name + (" (chosen)" if f.name == result.chosen else ""),
            str(f.trial),
            ", ".join(f"{k}={v}" for k, v in f.point.items()),
            _number(f.search[0]),
            _estimate(f.fresh[0]),
            "met" if f.feasible else "NOT MET: " + ", ".join(t.expression for t in f.constraints if not t.passed),
        )
        for f in result.finalists
    )
    header = ("finalist", "trial", "settings", "search estimate", "fresh [95 % CI]", "constraints")
    return Table(header, rows)


def _runners_up(result: TuneResult) -> list[Block]:
    g = result.guarantee
    if not g.runners_up:
        return []
    rows = tuple((r.name, _estimate(r.difference, signed=True), _number(r.upper)) for r in g.runners_up)
    return [Table(("chosen − runner-up", "paired difference [95 % CI]", "Bonferroni upper bound"), rows)]


def _search(result: TuneResult, images: list[Image]) -> list[Block]:
    rows = tuple(
        (
            str(t.number),
            ", ".join(f"{k}={v}" for k, v in t.point.items()),
            " / ".join(_number(v) for v in t.values),
            str(t.replications),
            "yes" if t.feasible else "—" if t.dropped and "breached" not in t.dropped else "no",
            f"same point as trial {t.repeat_of}" if t.repeat_of is not None else (t.dropped or "—"),
        )
        for t in result.trials
    )
    sensitivity = tuple((k, f"{v:.0%}") for k, v in sorted(result.sensitivity.items(), key=lambda kv: -kv[1]))
    if sensitivity and result.unexplained is not None:
        sensitivity += (("interactions and noise (unexplained)", f"{result.unexplained:.0%}"),)
    return [
        Heading("Which settings matter"),
        Paragraph(
            f"The variance of {result.objectives[0]} over the trials, split among the settings: an additive model "
            "of the settings (each one's values in up to four groups) explains a share R² of it, and each setting "
            "gets its fair part of that R² (Shapley values: its gain averaged over every order of adding the "
            "settings), so settings the search moved together share what they explain jointly. The rows add up "
            "to 100 %; what the additive model misses (settings acting only together, noise) is the last row."
        )
        if sensitivity
        else Paragraph("Too few distinct trials to say which settings matter."),
        *([Table(("setting", "share of the variance"), sensitivity)] if sensitivity else []),
        Heading("The search"),
        Paragraph(
            "Racing: every candidate ran on the same replications (common random numbers) in rungs of 3, 6, 12, … "
            "replications and was dropped once it clearly breached a constraint or was clearly worse than the "
            "best complete candidate (paired 95 % CI)."
        ),
        *images,
        Table(("trial", "settings", " / ".join(result.objectives), "replications", "constraints met", "note"), rows),
    ]


def _plots(result: TuneResult, folder: Path) -> list[Image]:
    images = [_path_plot(result, folder)]
    if len(result.objectives) == 2:
        images.append(_pareto_plot(result, folder))
    if result.sensitivity:
        images.append(_sensitivity_plot(result, folder))
    return images


def _path_plot(result: TuneResult, folder: Path) -> Image:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    full = [t for t in result.trials if not t.dropped]
    dropped = [t for t in result.trials if t.dropped]
    ax.scatter([t.number for t in full], [t.values[0] for t in full], label="all replications", zorder=3)
    ax.scatter([t.number for t in dropped], [t.values[0] for t in dropped], marker="x", label="dropped by racing")
    best, line = float("inf"), []
    for t in result.trials:
        if t.feasible and not t.dropped:
            best = min(best, t.values[0])
        line.append(best)
    ax.step(range(len(line)), line, where="post", color="black", label="best meeting the constraints")
    ax.set(xlabel="trial", ylabel=_label(result.objectives[0]), title="The search: objective by trial")
    ax.grid(alpha=0.3)
    ax.legend()
    return _saved(fig, folder, PATH_PLOT, "Objective by trial (mean of the replications each got)")


def _pareto_plot(result: TuneResult, folder: Path) -> Image:
    fig, ax = plt.subplots(figsize=(7, 5))
    trials = [t for t in result.trials if not t.dropped and t.repeat_of is None]
    feasible = [t for t in trials if t.feasible]
    front = [t for t in feasible if not any(_dominates(o.values, t.values) for o in feasible)]
    ax.scatter([t.values[0] for t in trials], [t.values[1] for t in trials], alpha=0.4, label="candidates")
    front.sort(key=lambda t: t.values)
    ax.plot([t.values[0] for t in front], [t.values[1] for t in front], "o-", color="C3", label="Pareto front")
    ax.set(xlabel=_label(result.objectives[0]), ylabel=_label(result.objectives[1]), title="Pareto front")
    ax.grid(alpha=0.3)
    ax.legend()
    return _saved(fig, folder, PARETO_PLOT, "Pareto front of the two objectives (candidates meeting the constraints)")


def _sensitivity_plot(result: TuneResult, folder: Path) -> Image:
    items = sorted(result.sensitivity.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * len(items)))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(xlabel="share of the objective's variance (Shapley share of R²)", xlim=(0, 1), title="Which settings matter")
    caption = (
        "Sensitivity: each setting's share of the objective's variance (the shares and the unexplained rest add to 1)"
    )
    return _saved(fig, folder, SENSITIVITY_PLOT, caption)


def _saved(fig: Figure, folder: Path, name: str, caption: str) -> Image:
    fig.savefig(folder / name, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return Image(name, caption)


def render_json(result: TuneResult) -> str:
    g = result.guarantee
    data = {
        "format_version": FORMAT_VERSION,
        "kind": "tune",
        "scenario": result.scenario,
        "seed": result.seed,
        "base": result.base,
        "space": list(result.space),
        "objectives": list(result.objectives),
        "constraints": list(result.constraints),
        "stopped_by": result.stopped_by,
        "resumed_trials": result.resumed,
        "chosen": result.chosen,
        "recommendation": result.toml,
        "guarantee": {
            "procedure": g.procedure,
            "confidence": g.confidence,
            "delta": rounded(g.delta),
            "bound": rounded(g.bound),
            "within_delta": g.within_delta,
            "seed": g.seed,
            "first_stage": g.first_stage,
            "replications": g.replications,
            "capped": g.capped,
            "needed": g.needed,
        },
        "base_fresh": [rounded_estimate(e) for e in result.base_fresh],
        "gains": [rounded_estimate(e) for e in result.gains],
        "finalists": [_finalist_json(f) for f in result.finalists],
        "sensitivity": {k: rounded(v) for k, v in result.sensitivity.items()},
        "sensitivity_unexplained": None if result.unexplained is None else rounded(result.unexplained),
        "trials": [
            {
                "number": t.number,
                "point": t.point,
                "values": [rounded(v) for v in t.values],
                "replications": t.replications,
                "feasible": t.feasible,
                "dropped": t.dropped,
                "repeat_of": t.repeat_of,
            }
            for t in result.trials
        ],  # fmt: skip
        "comparison": json.loads(json_report.render(result.comparison)) if result.comparison else None,
    }
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def _finalist_json(f: Finalist) -> dict[str, object]:
    return {
        "name": f.name,
        "trial": f.trial,
        "point": f.point,
        "search": [rounded(v) for v in f.search],
        "fresh": [rounded_estimate(e) for e in f.fresh],
        "constraints_met": f.feasible,
    }


def _finalist(result: TuneResult, name: str) -> Finalist:
    return next(f for f in result.finalists if f.name == name)


def _constraints_text(f: Finalist) -> str:
    if not f.constraints:
        return "no constraints (none were set)"
    return (
        "every constraint on its 95 % CI bound ("
        + ", ".join(
            f"{t.expression}: {t.bound} bound {t.value:.4g}" if t.applicable else f"{t.expression}: {t.judged}"
            for t in f.constraints
        )
        + ")"
    )


def _estimate(e: Estimate, signed: bool = False) -> str:
    if not e.applies:
        return "n/a"
    mean = _number(e.mean, signed)
    return f"{mean} [{_number(e.low)}, {_number(e.high)}]" if e.n > 1 else mean


def _number(value: float, signed: bool = False) -> str:
    """A value to four significant digits, whole with thousands separators from 1,000 ("19,567", not
    "1.957e+04"); "n/a" where it is not a number (an objective that did not apply)."""
    if not math.isfinite(value):
        return "n/a"
    sign = "+" if signed else ""
    return f"{value:{sign},.0f}" if abs(value) >= 1000 else f"{value:{sign}.4g}"


def _settings(result: TuneResult) -> str:
    return ", ".join(result.space)


def _stop(result: TuneResult) -> str:
    resumed = f", {result.resumed} of them from an interrupted run's journal" if result.resumed else ""
    return ("stopped by the time budget" if result.stopped_by == "budget" else "the trial count") + resumed


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def _label(text: str) -> str:
    return text.replace("$", r"\$")
