"""The page itself: Jinja renders the model into one self-contained HTML file.

Autoescape is on and undefined names are errors; the only markup not escaped is the
inlined CSS and JS (package files) and the embedded JSON (escaped by
:func:`~crashkit.output.report.data.embed_json`). Nothing is fetched: CSS and JS are
inlined, fonts are the system's.
"""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from crashkit.output.report.data import build_data, embed_json
from crashkit.output.report.generated import generated_entries
from crashkit.output.report.header import banner, header
from crashkit.output.report.programs import program_pages
from crashkit.output.report.records import Record, latest
from crashkit.output.report.records import merge_results as merge_results
from crashkit.output.report.rows import build_rows, by_scenario, matrix
from crashkit.output.report.sections import audit_groups, trend_entries
from crashkit.output.report.text import clean, describe, error_summary, point_ranges, where
from crashkit.output.report.trend import compare

# merge_results and point_ranges stay importable from here for callers not yet importing
# them from crashkit.output.report.
__all__ = ["merge_results", "point_ranges", "render_report", "write_report"]

#: Most entries listed in one trend list (all are still marked in the strips).
TREND_LIMIT = 200
#: Most operations and entities listed per caller in the journal audit.
AUDIT_SHOWN = 8


def render_report(
    records: list[Record],
    *,
    previous: list[Record] | None = None,
    title: str = "crashkit report",
) -> str:
    """One self-contained HTML document showing what a sweep found.

    Args:
        records: the results records (see :func:`merge_results`); duplicates: the last wins.
        previous: the previous run's records, for the trend section (newly failing, fixed).
        title: the page's title.
    """
    current = clean(latest(records))
    rows = build_rows(current)
    trend = compare(current, latest(previous) if previous is not None else None)
    head = header(current, rows)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            head=head,
            banner=banner(rows),
            rows=rows,
            matrix=matrix(rows, head["faults"]),
            scenarios=by_scenario(rows),
            programs=program_pages(current, rows),
            trend=trend,
            newly_failing=trend_entries(rows, trend.newly_failing),
            newly_fixed=trend_entries(rows, trend.newly_fixed),
            trend_limit=TREND_LIMIT,
            audit_shown=AUDIT_SHOWN,
            audit=audit_groups(rows),
            audited=any(r.get("type") == "audit" for r in current),
            generated=generated_entries(current, rows),
            invariants=sorted({name for row in rows for name in row.invariants}),
            data=embed_json(build_data(rows, trend)),
            css=Markup(_asset("report.css")),
            script=Markup(_asset("report.js")),
        )
    )


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crashkit.output.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ranges"] = point_ranges
    env.filters["error_summary"] = error_summary
    env.globals["describe"] = describe
    env.globals["where"] = where
    return env


def _asset(name: str) -> str:
    """A template folder file inlined into the page (the page fetches nothing)."""
    folder = resources.files("crashkit.output.report").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


def write_report(
    records: list[Record],
    path: str | os.PathLike[str],
    *,
    previous: list[Record] | None = None,
) -> Path:
    """Render the report and write it atomically: a temporary file beside it, fsync, rename.

    A reader never sees a half-written report, and a crash leaves the old one intact.
    Returns the path written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, render_report(records, previous=previous).encode("utf-8"))
    return target


def _write_atomically(target: Path, data: bytes) -> None:
    """Temp file in the same folder (a rename never crosses file systems), fsync, rename,
    fsync the folder (so the rename itself survives a power cut)."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
