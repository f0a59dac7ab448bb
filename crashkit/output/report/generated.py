"""The report's section on generated scenarios: per variant and fault, how many worlds
were drawn and crashed, and for a finding the shrunk world, its point and its replay
line, linked to the strip of that world's points."""

from __future__ import annotations

import json
from typing import Any

from crashkit.output.report.records import Record
from crashkit.output.report.rows import Row
from crashkit.output.report.text import describe

__all__ = ["generated_entries"]


def generated_entries(records: list[Record], rows: list[Row]) -> list[Record]:
    """One entry per generated search in ``records``, in the order they ran."""
    by_key = {row.key: row for row in rows}
    return [_entry(r, by_key) for r in records if r.get("type") == "generated"]


def _entry(record: Record, rows: dict[tuple[str, str, str], Row]) -> Record:
    row = rows.get((record["scenario_id"], record["variant"], record["fault"]))
    finding = record.get("finding") or {}
    op: Any = record.get("op") or {}
    point = record.get("point")
    return {
        "scenario": record.get("scenario", "?"),
        "variant": record["variant"],
        "fault": record["fault"],
        "worlds": record["worlds"],
        "points": record.get("points", 0),
        "duration": record.get("duration"),
        "found_after": record.get("found_after"),
        "shrink_seconds": record.get("shrink_seconds"),
        "invariant": record.get("invariant"),
        "message": finding.get("message", ""),
        "point": describe(op, point) if point is not None else "",
        "world": json.dumps(record.get("world"), indent=1, ensure_ascii=False, sort_keys=True),
        "replay": record.get("replay") or "",
        "expected": bool(record.get("expected_findings")),
        "error": record.get("error"),
        "row": row.index if row is not None else None,
    }
