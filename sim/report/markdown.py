"""report.md: readable in a terminal and as a CI job summary."""

from __future__ import annotations

from sim.report.document import Block, Bullets, Checks, Heading, Image, Paragraph, Table
from sim.report.headline import Headline, rest_clauses


def render(blocks: list[Block]) -> str:
    return "\n".join(_block(b) for b in blocks).rstrip() + "\n"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}\n"
    if isinstance(block, Paragraph):
        return f"{block.text}\n"
    if isinstance(block, Table):
        lines = [_row(block.header), _row(tuple("---" for _ in block.header))]
        lines += [_row(row) for row in block.rows]
        return "\n".join(lines) + "\n"
    if isinstance(block, Headline):
        return f"**{block.title}:** {headline_text(block)}\n"
    if isinstance(block, Checks):
        return "**Thresholds:**\n\n" + "".join(f"- {c.mark} {c.text}\n" for c in block.items)
    if isinstance(block, Bullets):
        return "".join(f"- {item}\n" for item in block.items)
    if isinstance(block, Image):
        return f"![{block.caption}]({block.file})\n"
    raise TypeError(block)


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def headline_text(h: Headline) -> str:
    """The findings, each followed by its verdict in words, then the unchanged ones in one clause."""
    parts = [f"{f.text} {f.verdict}" for f in h.findings]
    parts += rest_clauses(h)
    return "; ".join(parts or ["nothing measured"]) + "."
