"""`sim comment`: a pull request's comment body from `sim compare`'s report folders.

It re-runs nothing: it reads each folder's results.json (its `first_screen`: the headlines and
threshold checks in the words the terminal and report.md use, and `baseline_headlines` when the
run had `--baseline`) and writes one Markdown comment: a status line, then per scenario its
headline, its thresholds and a link to the run's artifact holding the full report and its
plots (a comment cannot show an artifact's images inline).

A results.json may come from a pull request, so it is read like a `--baseline` file (a regular
file, size-limited, strict JSON), its structure is checked, and every text from it is shown as
plain text: `<`, `>`, `&` escaped, no `@mention` pings, no control characters, each item cut
at `MAX_TEXT` characters. The body always fits GitHub's 65,536-character limit: when the full
detail does not fit under `MAX_CHARS`, the comment says less per scenario (first the clauses
naming what did not change and the passed checks, then everything but one status line), and
past that, the last scenarios are counted, not shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from sim.core.errors import ArgumentError, BaselineError
from sim.metrics.baseline import read_results

MARKER = "<!-- sim compare comment -->"  # the workflow finds the comment to update by it
MAX_CHARS = 65_000  # GitHub refuses a comment body over 65,536 characters
MAX_TEXT = 400  # characters of one finding, clause or check
MAX_ITEMS = 200  # findings, clauses or checks read per list: a hostile file may hold millions
MAX_FOLDERS = 10_000  # folders under one reports folder: more is refused (exit 2), never silently cut
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MARKDOWN = re.compile(r"[\\`*_\[\]~|#]")  # characters Markdown gives a meaning; escaped with a backslash


class Detail(IntEnum):
    FULL = 0  # headlines with their clauses, every check
    SHORT = 1  # findings only, failed checks and a count of the passed ones
    STATUS = 2  # one status line per scenario, and its failed checks' count


@dataclass(frozen=True, slots=True, kw_only=True)
class Words:
    """A headline as results.json says it."""

    title: str
    findings: tuple[tuple[str, str], ...]  # (verdict, text)
    rest: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    mark: str
    text: str
    passed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One scenario's results, as its comment section needs them."""

    folder: str  # the report folder's name, as the artifact holds it
    scenario: str
    variants: int
    replications: int
    passed: bool
    broken: int  # invariant violations
    regressions: tuple[str, ...]
    headlines: tuple[Words, ...]
    checks: tuple[Check, ...]
    baseline: tuple[Words, ...]
    plots: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.passed and not self.broken and not self.regressions


def sections(paths: Sequence[str]) -> list[Section]:
    """The sections of every report folder given, or found one level under a reports folder, in order.

    A folder given that holds a results.json must be `sim compare`'s; under a reports folder, a sweep's
    or a tune's (their results.json has a `kind`) is passed over.
    """
    found: list[Section] = []
    for text in paths:
        path = Path(text)
        if (path / "results.json").is_file():
            found.append(_required(load(path), path))
        elif path.is_dir():
            folders = sorted(f for f in path.iterdir() if f.is_dir() and not f.is_symlink())
            if len(folders) > MAX_FOLDERS:
                raise ArgumentError(f"sim comment: {text[:200]!r}: more than {MAX_FOLDERS:,} folders to read")
            found += [s for s in (load(f) for f in folders if (f / "results.json").is_file()) if s is not None]
        else:
            raise ArgumentError(f"sim comment: {text[:200]!r}: not a report folder or a folder of them")
    if not found:
        named = ", ".join(repr(p[:200]) for p in paths[:5])
        raise ArgumentError(f"sim comment: no report of sim compare (OUT/<name>/results.json) in {named}")
    return found


def _required(section: Section | None, path: Path) -> Section:
    if section is None:
        raise ArgumentError(
            f"sim comment: {_plain(str(path))[:200]}: the report of a sweep or a tune, not of sim compare"
        )
    return section


def load(folder: Path) -> Section | None:
    """A report folder's section (None for a sweep's or a tune's); a results.json that is not one
    `sim compare` wrote is one line, exit 2."""
    path = folder / "results.json"
    try:
        data = read_results(path)
    except BaselineError as error:
        raise ArgumentError(f"sim comment: {error}") from None
    if isinstance(data, dict) and "kind" in data:
        return None
    try:
        first = _get(data, "first_screen", dict)
        return Section(
            folder=_plain(folder.name),
            scenario=_text(_get(data, "scenario", str)),
            variants=len(_get(data, "variants", dict)),
            replications=_get(data, "replications", int),
            passed=_get(data, "passed", bool),
            broken=len(_get(data, "invariant_violations", list)),
            regressions=tuple(_text(r) for r in _items(data.get("regressions") or [], str)),
            headlines=tuple(_words(h) for h in _items(_get(first, "headlines", list), dict)),
            checks=tuple(
                Check(mark=_text(c["mark"]), text=_text(c["text"]), passed=c["passed"] is True)
                for c in _items(_get(first, "checks", list), dict)
            ),
            baseline=tuple(_words(h) for h in _items(_get(first, "baseline_headlines", list), dict)),
            plots=tuple(sorted(p.name for p in folder.glob("*.png")))[:MAX_ITEMS],
        )
    except (KeyError, TypeError, ValueError) as problem:
        why = str(problem.args[0] if problem.args else problem)[:200]
        where = repr(str(path)[:200])
        raise ArgumentError(f"sim comment: {where}: not a results.json of sim compare, format 3 ({why})") from None


def _words(h: dict[str, Any]) -> Words:
    return Words(
        title=_text(_get(h, "title", str)),
        findings=tuple((_text(f["verdict"]), _text(f["text"])) for f in _items(_get(h, "findings", list), dict)),
        rest=tuple(_text(r) for r in _items(_get(h, "rest", list), str)),
    )


def _get(data: Any, key: str, kind: type) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise KeyError(f"{key} is missing")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{key} is not {kind.__name__}")
    return value


def _items(values: list[Any], kind: type) -> list[Any]:
    if not all(isinstance(v, kind) for v in values[:MAX_ITEMS]):
        raise TypeError(f"a list holds something other than {kind.__name__}")
    return values[:MAX_ITEMS]


def _text(value: Any) -> str:
    """Text from a results.json as a comment may show it: plain, escaped, one line, cut short."""
    if not isinstance(value, str):
        raise TypeError("a text is not a string")
    return _plain(value)[:MAX_TEXT]


def _plain(text: str) -> str:
    """Shown as written: no HTML, no Markdown emphasis, link or code, no @mention (a name must not ping anyone)."""
    text = _CONTROL.sub(" ", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\g<0>", text)
    return text.replace("@", "@\u200b")


# ---------------------------------------------------------------- Markdown


def render(found: Sequence[Section], artifact_url: str | None = None) -> str:
    """The comment: the most detail that fits in MAX_CHARS, the same for every scenario."""
    for detail in Detail:
        body = _body(found, detail, artifact_url)
        if len(body) <= MAX_CHARS:
            return body
    return _cut(found, artifact_url)


def _body(found: Sequence[Section], detail: Detail, url: str | None, shown: int | None = None) -> str:
    parts = [_header(found), *(_section(s, detail, url) for s in found[:shown])]
    if shown is not None and shown < len(found):
        parts.append(f"… and {len(found) - shown} more scenario(s): their reports are in the artifact.\n")
    return "\n".join(parts) + _footer(url)


def _cut(found: Sequence[Section], url: str | None) -> str:
    """So many scenarios that even their status lines are too long: as many as fit, the rest counted."""
    shown = len(found)
    while shown > 0 and len(_body(found, Detail.STATUS, url, shown)) > MAX_CHARS:
        shown = max(0, shown - max(1, shown // 10))
    return _body(found, Detail.STATUS, url, shown)


def _header(found: Sequence[Section]) -> str:
    failed = [s for s in found if not s.ok]
    status = (
        f"✗ {len(failed)} of {len(found)} scenario(s) failed (a threshold not met, a regression or a broken invariant)"
        if failed
        else f"✓ all {len(found)} scenario(s) passed"
    )
    return f"{MARKER}\n## sim compare: {status}\n"


def _section(s: Section, detail: Detail, url: str | None) -> str:
    lines = [f"### {'✓' if s.ok else '✗'} {s.scenario}: {_summary(s)}", ""]
    if detail is not Detail.STATUS:
        lines += [_headline(h, detail) for h in (*s.headlines, *s.baseline)]
        lines += _checks(s, detail)
        lines.append(_link(s, url))
    elif not s.ok:
        lines.append(f"{sum(not c.passed for c in s.checks)} check(s) not met; see the report ({_link(s, url)}).")
    return "\n".join(line for line in lines) + "\n"


def _summary(s: Section) -> str:
    failed = sum(not c.passed for c in s.checks)
    checks = f"{failed} of {len(s.checks)} threshold checks not met" if failed else f"{len(s.checks)} checks passed"
    extra = [f"{s.broken} INVARIANT(S) BROKEN"] if s.broken else []
    extra += [f"regressed: {', '.join(s.regressions)}"] if s.regressions else []
    return f"{s.variants} variant(s) × {s.replications} replication(s), {checks}" + "".join(f"; {e}" for e in extra)


def _headline(h: Words, detail: Detail) -> str:
    parts = [f"{text} {verdict}" for verdict, text in h.findings]
    if detail is Detail.FULL:
        parts += list(h.rest)
    return f"**{h.title}:** {'; '.join(parts) or 'nothing changed beyond the minimal meaningful effects'}.\n"


def _checks(s: Section, detail: Detail) -> list[str]:
    if not s.checks:
        return ["No thresholds set.", ""]
    shown = s.checks if detail is Detail.FULL else [c for c in s.checks if not c.passed]
    lines = [f"- {c.mark} {c.text}" for c in shown]
    hidden = len(s.checks) - len(shown)
    if hidden:
        lines.append(f"- … and {hidden} passed check(s)")
    return ["**Thresholds:**", "", *lines, ""]


def _link(s: Section, url: str | None) -> str:
    what = f"{s.folder}/report.html" + (f" and {len(s.plots)} plot(s)" if s.plots else "")
    return f"Report: [{what}]({url})" if url else f"Report: {what} in this run's artifact"


def _footer(url: str | None) -> str:
    where = f"[the run's artifact]({url})" if url else "the run's artifact"
    return f"\n---\nFull reports, plots and results.json: {where}. Made by `sim comment`.\n"
