"""report.html: self-contained (images inline as data URIs), opens from disk with no network."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from sim.metrics.comparison import BETTER, WORSE
from sim.report.document import Block, Bullets, Checks, Heading, Image, Paragraph, Table
from sim.report.headline import SEEN_ONCE, Headline, rest_clauses

_NUMBER = re.compile(r"^[+-]?[\d,]+(\.\d+)?( s)?( \[.*\])?$")
# Compact, so that the headline and the thresholds fit on a 1400×900 screen; the long tables follow.
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; max-width: 1250px; margin: 0.8em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.45em; margin: 0.2em 0; } h2 { font-size: 1.2em; margin: 1.2em 0 0.3em; }
p { margin: 0.3em 0; } ul { margin: 0.3em 0; padding-left: 1.4em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.15em 0.5em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
td.better, td.pass { color: #11642b; } td.worse, td.BREACHED { color: #a11; font-weight: bold; }
.headline { font-size: 1.1em; margin: 0.35em 0; padding: 0.4em 0.6em; border-left: 4px solid #557;
  background: #f6f6fa; }
.headline .better { color: #11642b; } .headline .worse { color: #a11; font-weight: bold; }
.headline .changed { color: #6a4a00; } .headline .same { color: #555; }
ul.checks { list-style: none; padding-left: 0.2em; } .checks .pass { color: #11642b; }
.checks .breached { color: #a11; font-weight: bold; }
figure { margin: 1em 0 2em; } img { max-width: 100%; border: 1px solid #eee; }
"""


def render(blocks: list[Block], folder: Path) -> str:
    title = next((b.text for b in blocks if isinstance(b, Heading)), "sim report")
    body = "\n".join(_block(b, folder) for b in blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _block(block: Block, folder: Path) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
        rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Headline):
        return _headline(block)
    if isinstance(block, Checks):
        items = "".join(
            f'<li class="{"pass" if c.passed else "breached"}">{c.mark} {html.escape(c.text)}</li>' for c in block.items
        )
        return f'<div id="thresholds"><strong>Thresholds:</strong><ul class="checks">{items}</ul></div>'
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Image):
        data = base64.b64encode((folder / block.file).read_bytes()).decode("ascii")
        caption = html.escape(block.caption)
        image = f'<img src="data:image/png;base64,{data}" alt="{caption}">'
        return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"
    raise TypeError(block)


def _headline(h: Headline) -> str:
    """Each finding coloured by its verdict, which it also says in words (read without colour too)."""
    parts = [
        f'<span class="{_VERDICT_CLASS.get(f.verdict, "changed")}">{html.escape(f.text)} <b>{f.verdict}</b></span>'
        for f in h.findings
    ]
    parts += [f'<span class="same">{html.escape(clause)}</span>' for clause in rest_clauses(h)]
    title = html.escape(f"{h.title}:")
    return f'<p class="headline"><strong>{title}</strong> {"; ".join(parts) or "nothing measured"}.</p>'


_VERDICT_CLASS: dict[str, str] = {
    BETTER: "better", WORSE: "worse", SEEN_ONCE[BETTER]: "better", SEEN_ONCE[WORSE]: "worse"
}  # fmt: skip


def _cell(text: str) -> str:
    css = {"better": "better", "worse": "worse", "pass": "pass", "BREACHED": "BREACHED"}.get(text, "")
    if not css and _NUMBER.match(text):
        css = "num"
    return f'<td class="{css}">{html.escape(text)}</td>' if css else f"<td>{html.escape(text)}</td>"


def _inline(text: str) -> str:
    """The one piece of Markdown the document uses in prose: **bold**."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
