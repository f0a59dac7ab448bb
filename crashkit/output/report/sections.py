"""The page's lists drawn from the rows: the trend lists and the journal audit."""

from __future__ import annotations

from collections import defaultdict

from crashkit.model.outcome import PointId
from crashkit.output.report.records import Record
from crashkit.output.report.rows import Row, by_variant, row_key
from crashkit.output.report.text import describe, entity_text, where

__all__ = ["anchor", "audit_groups", "trend_entries"]


def anchor(row: int, point: int, nested: int | None) -> str:
    """The id of a point's place in the page, which links jump to (report.js opens it)."""
    return f"r{row}-p{point}" + (f"-n{nested}" if nested is not None else "")


def trend_entries(rows: list[Row], points: set[PointId]) -> list[Record]:
    """The points in ``points``, in report order (unexpected failures first), for the trend."""
    by_key = {row.key: row for row in rows}

    def order(point: PointId) -> tuple[bool, int, int, int]:
        row = by_key[row_key(point)]
        return (row.expected, row.index, point.point, point.nested or 0)

    return [_trend_entry(by_key[row_key(p)], p) for p in sorted(points, key=order)]


def _trend_entry(row: Row, point: PointId) -> Record:
    record = (row.results.get(point.point) or {}).get(point.nested) or {}
    op = record.get("op") or row.op(point.point)
    return {
        "row": row,
        "point": point.point,
        "nested": point.nested,
        "what": describe(op, point.point, point.nested),
        "where": where(op),
        "anchor": anchor(row.index, point.point, point.nested),
    }


def audit_groups(rows: list[Row]) -> list[Record]:
    """The journal audit per scenario variant: uncovered mutations by caller and location."""
    groups = []
    for members in by_variant(rows):
        first = members[0]
        if first.uncovered:
            groups.append(
                {
                    "row": first,
                    "callers": _by_caller(first.uncovered),
                    "count": len(first.uncovered),
                    "anchors": _audit_anchors(first.uncovered, members),
                }
            )
    return groups


def _audit_anchors(uncovered: list[Record], members: list[Row]) -> dict[int, str]:
    """Where each uncovered operation's point is: the first of the variant's strips offering it."""
    anchors = {}
    offering = [(row, set(row.points)) for row in members]
    for entry in uncovered:
        index = int(entry.get("index") or 0)
        row = next((r for r, points in offering if index in points), members[0])
        anchors[index] = anchor(row.index, index, None)
    return anchors


def _via(entry: Record) -> list[str]:
    """The program frames above the operation's caller: who really asked for it."""
    stack = (entry.get("detail") or {}).get("stack") or []
    return [str(frame) for frame in stack[1:4]]


def _by_caller(uncovered: list[Record]) -> list[Record]:
    """Uncovered mutations grouped by caller and call path (its lines listed), in source order."""
    callers: dict[tuple[str, str, tuple[str, ...]], list[Record]] = defaultdict(list)
    for entry in uncovered:
        function, file = str(entry.get("function", "?")), str(entry.get("file", "?"))
        callers[(function, file, tuple(_via(entry)))].append(entry)
    groups = [_caller(*key, entries) for key, entries in callers.items()]
    return sorted(groups, key=lambda g: (g["file"], g["line"], g["via"]))


def _caller(function: str, file: str, via: tuple[str, ...], entries: list[Record]) -> Record:
    lines = sorted({int(e.get("line") or 0) for e in entries})
    return {
        "function": function,
        "file": file,
        "line": lines[0],
        "where": f"{file}:" + ", ".join(str(line) for line in lines),
        "via": list(via),
        "entries": sorted(entries, key=lambda e: int(e.get("index") or 0)),
        "entities": list(dict.fromkeys(entity_text(e.get("entity")) for e in entries)),
        "reasons": list(dict.fromkeys(str(e.get("reason", "")) for e in entries)),
    }
