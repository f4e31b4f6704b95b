"""report.html: self-contained (images inline as data URIs), opens from disk with no network."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from sim.report.document import Block, Heading, Image, Paragraph, Table

_NUMBER = re.compile(r"^[+-]?[\d,]+(\.\d+)?( s)?( \[.*\])?$")
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
td.better, td.pass { color: #11642b; } td.worse, td.BREACHED { color: #a11; font-weight: bold; }
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
    if isinstance(block, Image):
        data = base64.b64encode((folder / block.file).read_bytes()).decode("ascii")
        caption = html.escape(block.caption)
        image = f'<img src="data:image/png;base64,{data}" alt="{caption}">'
        return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"
    raise TypeError(block)


def _cell(text: str) -> str:
    css = {"better": "better", "worse": "worse", "pass": "pass", "BREACHED": "BREACHED"}.get(text, "")
    if not css and _NUMBER.match(text):
        css = "num"
    return f'<td class="{css}">{html.escape(text)}</td>' if css else f"<td>{html.escape(text)}</td>"


def _inline(text: str) -> str:
    """The one piece of Markdown the document uses in prose: **bold**."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
