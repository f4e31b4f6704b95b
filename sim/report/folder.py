"""Write a whole report folder atomically: build it aside, then swap it in.

An interrupted or failed run leaves no half-written report: the previous
folder stays until the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sim.metrics.baseline import BaselineDiff
from sim.metrics.comparison import Comparison
from sim.report import document, html, json_report, markdown, plots, records_csv


def write_report(c: Comparison, out: Path, changes: BaselineDiff | None = None) -> Path:
    """Writes report.md, report.html, results.json, records.csv and the plots into `out`."""
    return write_atomically(out, lambda folder: _write_files(c, folder, changes))


def write_atomically(out: Path, fill: Callable[[Path], None]) -> Path:
    """`fill` writes into a staging folder; only a complete folder replaces `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        fill(staging)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _write_files(c: Comparison, folder: Path, changes: BaselineDiff | None) -> None:
    plots.write_all(c, folder)
    blocks = document.build(c, changes)
    (folder / "report.md").write_text(markdown.render(blocks), encoding="utf-8")
    (folder / "report.html").write_text(html.render(blocks, folder), encoding="utf-8")
    (folder / "results.json").write_text(json_report.render(c, changes), encoding="utf-8")
    records_csv.write(c, folder / "records.csv")


def _swap_in(staging: Path, out: Path) -> None:
    os.chmod(staging, 0o755)
    if not out.exists():
        staging.rename(out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".old-{out.name}-", dir=out.parent))
    retired.rmdir()
    out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)
