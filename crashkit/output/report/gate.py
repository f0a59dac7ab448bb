"""The CI gate: one verdict for a whole (merged, sharded) sweep, as an exit status and a
Markdown summary for a CI job page.

Exit status: 0 every correct variant is clean; 1 a correct variant has findings; 2 the
sweep itself went wrong (a variant could not be explored, or a shard left no results).
A known bug that is no longer caught is reported, not failed (it may have been fixed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crashkit.model.outcome import Verdict
from crashkit.output.report.header import header
from crashkit.output.report.records import Record, latest
from crashkit.output.report.rows import Row, build_rows, matrix

__all__ = ["Gate", "judge"]

#: Most failing points listed with their replay line in the summary.
LISTED = 20


@dataclass
class Gate:
    """What the gate decided, and why."""

    status: int
    reasons: list[str] = field(default_factory=list)
    markdown: str = ""


def judge(records: list[Record], shards: int | None = None) -> Gate:
    """The gate's verdict on ``records`` (every shard's, merged).

    Args:
        shards: how many shards the sweep was split into: a shard that left no run record
            in the results is an error.
    """
    current = latest(records)
    rows = build_rows(current)
    lines = matrix(rows, header(current, rows)["faults"])
    reasons = []
    broken = [line.first for line in lines if line.first.outcome is Verdict.BROKEN]
    failing = [line.first for line in lines if line.first.outcome is Verdict.FAILING]
    missing = _missing_shards(current, shards)
    if missing:
        reasons.append(f"shard(s) {', '.join(missing)} of {shards} left no results")
    reasons += [f"{row.scenario}[{row.variant}] could not be explored" for row in broken]
    reasons += [f"{row.scenario}[{row.variant}] has findings" for row in failing]
    status = 2 if missing or broken else 1 if failing else 0
    return Gate(status, reasons, _markdown(current, rows, status, reasons))


def _missing_shards(records: list[Record], shards: int | None) -> list[str]:
    if not shards:
        return []
    ran = {str(r.get("shard")) for r in records if r.get("type") == "run"}
    return [f"{i}/{shards}" for i in range(1, shards + 1) if f"{i}/{shards}" not in ran]


def _markdown(records: list[Record], rows: list[Row], status: int, reasons: list[str]) -> str:
    head = header(records, rows)
    lines = matrix(rows, head["faults"])
    title = {0: "every correct variant is clean", 1: "findings", 2: "the sweep went wrong"}
    out = [f"## crashkit: {title[status]}", ""]
    out += [f"- {reason}" for reason in reasons] + ([""] if reasons else [])
    out.append(
        f"{head['points']} points, {head['scenarios']} scenarios, {head['variants']} variants; "
        f"faults run: {', '.join(head['faults']) or 'none'}"
        + (f"; not run: {', '.join(head['faults_not_run'])}" if head["faults_not_run"] else "")
    )
    out += ["", "| scenario | variant | " + " | ".join(head["faults"]) + " | verdict |"]
    out.append("|" + " --- |" * (len(head["faults"]) + 3))
    for line in lines:
        cells = [
            "-" if row is None else f"{row.verdict[1]}{f' {row.failed}' if row.failed else ''}"
            for row in line.cells
        ]
        name = [_cell(line.first.scenario), _cell(line.first.variant)]
        out.append("| " + " | ".join([*name, *cells, _cell(line.verdict[1])]) + " |")
    replays = [
        str(r.get("replay"))
        for r in records
        if r.get("type") == "point"
        and r.get("outcome") == "fail"
        and not r.get("expected_findings")
    ]
    if replays:
        out += ["", "Failing points (replay one locally):", "", "```"]
        out += replays[:LISTED] + (
            [f"... and {len(replays) - LISTED} more"] if len(replays) > LISTED else []
        )
        out.append("```")
    return "\n".join(out) + "\n"


def _unexpected_failure(record: Record) -> bool:
    return (
        record.get("type") == "point"
        and record.get("outcome") == "fail"
        and not record.get("expected_findings")
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
