"""report.md: readable in a terminal and as a CI job summary."""

from __future__ import annotations

from sim.report.document import Block, Heading, Image, Paragraph, Table


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
    if isinstance(block, Image):
        return f"![{block.caption}]({block.file})\n"
    raise TypeError(block)


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
