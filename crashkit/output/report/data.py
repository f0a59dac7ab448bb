"""The JSON embedded in the page, from which report.js draws the strips and the details.

A nightly report holds tens of thousands of points: each is a short cell, traces are
stored once per variant, long strings (diffs, messages) once per page, and only the
failing points carry details. The JSON is escaped so that program output inside it
cannot close its ``<script>`` element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from crashkit.output.report.records import Record
from crashkit.output.report.rows import Row
from crashkit.output.report.trend import Trend

__all__ = ["artifacts_href", "build_data", "embed_json"]

#: A strip cell's status: pass, unexpected fail, expected fail (known-buggy variant), not run.
PASS, FAIL, XFAIL, NOT_RUN = "p", "f", "x", "n"
#: Cell flags (a bit set): the operation is an uncovered mutation; newly failing; newly fixed.
UNCOVERED, NEWLY_FAILING, NEWLY_FIXED = 1, 2, 4
#: Strings at least this long are stored once in the page and referred to by number.
INTERN_MIN = 48


class Strings:
    """Long strings stored once in the page (diffs and messages repeat across points)."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str) -> str | int:
        if len(text) < INTERN_MIN:
            return text
        return self.always(text)

    def always(self, text: str) -> int:
        """The number of ``text`` in the table, however short (for strings most points share)."""
        if text not in self._index:
            self._index[text] = len(self.table)
            self.table.append(text)
        return self._index[text]


def build_data(rows: list[Row], trend: Trend) -> Record:
    """The JSON the page's script draws strips and details from."""
    page = _Page(trend)
    out = [page.row(row) for row in rows]
    return {
        "rows": out,
        "traces": page.traces,
        "details": page.details,
        "strings": page.strings.table,
    }


def embed_json(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


class _Page:
    """The data being built: traces, failing points' details and strings, each stored once."""

    def __init__(self, trend: Trend) -> None:
        self.trend = trend
        self.strings = Strings()
        self.details: list[Record] = []
        self.traces: list[list[list[Any]]] = []
        self._traces: dict[str, int] = {}  # a variant's faults share its trace

    def row(self, row: Row) -> Record:
        uncovered = {int(u.get("index", -1)) for u in row.uncovered}
        cells = [self._cell(row, point, point in uncovered) for point in row.points]
        return {"trace": self._trace(row), "cells": cells, "invariants": sorted(row.invariants)}

    def _trace(self, row: Row) -> int:
        last = max([row.n + 1 if row.points else 0, *row.points])
        ops = [_op_tuple(row.op(k)) for k in range(last + 1)]
        number = self._traces.setdefault(json.dumps(ops, default=str), len(self.traces))
        if number == len(self.traces):
            self.traces.append(ops)
        return number

    def _cell(self, row: Row, point: int, uncovered: bool) -> list[Any]:
        """``[point, nested, status, detail, flags, injection]`` for one enumerated point.

        ``detail`` indexes the details of a failing point (-1: none), ``injection`` the
        strings (-1: none). ``nested`` is None, or for a point run as nested points one
        ``[nested, status, detail, flags]`` each; the point's own ``detail`` is then its
        first failing nested point's.
        """
        records = row.records(point)
        entries = [self._entry(row, point, nested, record) for nested, record in records]
        flags = UNCOVERED if uncovered else 0
        for entry in entries:
            flags |= entry[3]
        injection = next((str(r["injection"]) for _, r in records if r.get("injection")), "")
        return [
            point,
            entries if any(nested is not None for nested, _ in records) else None,
            _status(record for _, record in records),
            next((entry[2] for entry in entries if entry[2] >= 0), -1),
            flags,
            self.strings.always(injection) if injection else -1,
        ]

    def _entry(self, row: Row, point: int, nested: int | None, record: Record) -> list[Any]:
        """``[nested, status, detail, flags]`` of one record; a failing one's details kept."""
        key = row.point_id(point, nested)
        detail = -1
        if record.get("outcome") == "fail":
            detail = len(self.details)
            self.details.append(self._detail(row, record, key in self.trend.newly_failing))
        flags = (NEWLY_FAILING if key in self.trend.newly_failing else 0) | (
            NEWLY_FIXED if key in self.trend.newly_fixed else 0
        )
        return [nested, _status([record]), detail, flags]

    def _detail(self, row: Row, result: Record, new: bool) -> Record:
        """What the page shows for one failing point."""
        strings = self.strings
        artifacts = result.get("artifacts")
        return {
            "row": row.index,
            "point": result["point"],
            "nested": result.get("nested"),
            "op": _op_tuple(result.get("op") or row.op(int(result["point"]))),
            "opDetail": (result.get("op") or {}).get("detail") or {},
            "source": strings(str(result.get("source") or "")),
            "injection": strings(str(result.get("injection") or "")),
            "findings": [self._finding(f) for f in result.get("findings", [])],
            "rounds": [self._round(r) for r in result.get("rounds", [])],
            "output": strings(str(result.get("output") or "")),
            "replay": str(result.get("replay") or ""),
            "duration": result.get("duration"),
            "artifacts": str(artifacts) if artifacts else None,
            "artifactsHref": artifacts_href(str(artifacts)) if artifacts else None,
            "recheck": _recheck_text(result.get("recheck")),
            "expected": bool(result.get("expected_findings")),
            "new": new,
        }

    def _finding(self, finding: Record) -> list[Any]:
        message, diff = str(finding.get("message", "")), str(finding.get("diff") or "")
        return [finding.get("invariant", "?"), self.strings(message), self.strings(diff)]

    def _round(self, entry: Record) -> list[Any]:
        mutations = [self.strings(str(m)) for m in entry.get("mutations", [])]
        return [
            entry.get("round"),
            entry.get("exit"),
            entry.get("operations"),
            mutations,
            bool(entry.get("changed")),
            entry.get("duration"),
        ]


def _op_tuple(op: Record) -> list[Any]:
    return [
        op.get("kind", "?"),
        op.get("target", ""),
        op.get("function", "?"),
        op.get("file", "?"),
        op.get("line", 0),
    ]


def _status(records: Iterable[Record]) -> str:
    """A point's status from its records (several for nested points): any failure fails it."""
    status = NOT_RUN
    for record in records:
        if record.get("outcome") != "fail":
            status = PASS if status == NOT_RUN else status
        elif not record.get("expected_findings"):
            return FAIL
        else:
            status = XFAIL
    return status


def artifacts_href(path: str) -> str | None:
    """A link to a point's kept world, relative to the report's folder (None: not relative).

    Each part is percent-encoded, so a name cannot turn the link into a ``javascript:`` URL.
    """
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return None
    return "/".join(quote(part, safe="") for part in parts if part not in ("", ".")) + "/"


def _recheck_text(recheck: Any) -> str | None:
    """``crashkit report --recheck``'s verdict on a kept point, in a line."""
    if not isinstance(recheck, Mapping):
        return None
    now = ", ".join(map(str, recheck.get("now") or [])) or "clean"
    text = f"now {now} ({'changed' if recheck.get('changed') else 'same as when it ran'})"
    if recheck.get("skipped"):
        text += "; not re-judged: " + ", ".join(map(str, recheck["skipped"]))
    return text
