"""The HTML crash-point report: one self-contained page rendered from a sweep's results.

The page is rendered by Jinja2, autoescaped, from the records of one or more
results files (:func:`merge_results`). The header, the summary, the trend, the
journal audit and the coverage are plain HTML. The strips of points and the
failing points' details are drawn by a small inline script from data embedded
as JSON (``<script type="application/json">``, with ``<``, ``>`` and ``&``
escaped so program output cannot close the element), so a nightly report
with tens of thousands of points stays small and opens fast. Nothing is
fetched: CSS and JS are inlined, fonts are the system's.

Everything a program under test printed reaches the page either through
Jinja's autoescape or through ``textContent`` in the script, never as markup.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from crashkit.output.results import read_results

__all__ = ["merge_results", "render_report", "write_report"]

Record = dict[str, Any]
#: A point across runs and shards: scenario id, variant, fault, point, nested point.
PointKey = tuple[str, str, str, int, int | None]

#: A strip cell's status: pass, unexpected fail, expected fail (known-buggy variant), not run.
PASS, FAIL, XFAIL, NOT_RUN = "p", "f", "x", "n"
#: Cell flags (a bit set): the operation is an uncovered mutation; newly failing; newly fixed.
UNCOVERED, NEWLY_FAILING, NEWLY_FIXED = 1, 2, 4

#: Longest text kept per output or message; the rest is in the results file.
TEXT_LIMIT = 64_000
#: Strings at least this long are stored once in the page and referred to by number.
INTERN_MIN = 48
#: Most entries listed in one trend list (all are still marked in the strips).
TREND_LIMIT = 200
#: Most operations and entities listed per caller in the journal audit.
AUDIT_SHOWN = 8
#: Most not-run ranges spelled out per variant in the coverage table.
RANGES_LIMIT = 24

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# -- reading and merging ------------------------------------------------------------


def merge_results(paths: Sequence[str | os.PathLike[str]]) -> list[Record]:
    """Read several results files (shards, or a run and its resumption) as one.

    Records keep their order; where the same point, trace, audit or error occurs
    more than once, the last one read wins.

    Raises:
        ResultsError: a file is missing or unreadable (see :func:`read_results`).
    """
    return latest([record for path in paths for record in read_results(path)])


def point_id(record: Record) -> PointKey:
    """What identifies a point record, its nested recovery-crash point included."""
    nested = record.get("nested")
    return (
        record["scenario_id"],
        record["variant"],
        record.get("fault") or "kill",
        int(record["point"]),
        None if nested is None else int(nested),
    )


def _identity(record: Record) -> tuple[Any, ...] | None:
    kind = record.get("type")
    if kind == "point":
        return ("point", *point_id(record))
    if kind == "trace":
        return ("trace", record["scenario_id"], record["variant"], record.get("fault") or "kill")
    if kind in ("audit", "error"):
        return (kind, record["scenario_id"], record["variant"])
    return None  # run and end records describe runs: all are kept


def latest(records: Iterable[Record]) -> list[Record]:
    """The records with duplicates dropped: for each point, trace, audit or error the last wins."""
    records = list(records)
    last = {_identity(r): i for i, r in enumerate(records)}
    return [r for i, r in enumerate(records) if (k := _identity(r)) is None or last[k] == i]


# -- cleaning program output --------------------------------------------------------


def clean_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """Program text made safe to show: control bytes visible, lone surrogates replaced, clipped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(_control_picture, text)
    text = _SURROGATE.sub("\ufffd", text)
    if len(text) > limit:
        rest = len(text) - limit
        text = f"{text[:limit]}\n… ({rest} more characters in the results file)"
    return text


def _control_picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)  # ␀ ␁ ... ␡


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# -- the model ----------------------------------------------------------------------


def _golden_op() -> Record:
    return {"index": 0, "kind": "none", "target": "no crash (golden run)", "function": "-"}


def _end_op(index: int) -> Record:
    return {"index": index, "kind": "end", "target": "after the last operation", "function": "-"}


@dataclass
class Row:
    """One strip: a scenario variant under one fault, with every point's result.

    A point is a first-level crash point ``k``. Under recovery-crash one point holds
    several records, one per nested point (a crash inside the first restart): the point
    ran when any of them exists and failed when any of them failed.
    """

    scenario: str
    scenario_id: str
    variant: str
    fault: str
    expected: bool = False
    operations: list[Record] | None = None  #: the trace's operations 1..N (None: no trace)
    #: The points this fault offers on the trace (None: an older file, every point 1..N+1).
    offered: list[int] | None = None
    #: Point -> nested point (None: not nested) -> its record.
    results: dict[int, dict[int | None, Record]] = field(default_factory=dict)
    #: Whether point 0, the golden run (run once per variant, under one fault), is this row's.
    golden: bool = False
    #: Whether some fault found something in this variant (see :func:`build_rows`).
    caught: bool = False
    uncovered: list[Record] = field(default_factory=list)
    error: str | None = None
    index: int = 0
    #: The enumerated points, sorted (see :meth:`settle`).
    points: list[int] = field(default_factory=list)
    failed: int = 0
    invariants: Counter[str] = field(default_factory=Counter)

    def settle(self) -> None:
        """Work out the enumerated points and the counts, once every record is in."""
        enumerated = set(self.results)
        if self.offered is not None:
            enumerated.update(self.offered)
        elif self.operations is not None or self.results:
            enumerated.update(range(1, self.n + 2))
        has_data = self.offered is not None or self.operations is not None or self.results
        if self.golden and has_data:
            enumerated.add(0)
        self.points = sorted(enumerated)
        self.failed = 0
        self.invariants = Counter()
        for records in self.results.values():
            failing = [r for r in records.values() if r.get("outcome") == "fail"]
            self.failed += bool(failing)
            self.invariants.update(
                {f.get("invariant", "?") for r in failing for f in r.get("findings") or []}
            )

    @property
    def n(self) -> int:
        """N, the number of durable operations in the dry run."""
        if self.operations is not None:
            return len(self.operations)
        records = [r for found in self.results.values() for r in found.values()]
        return max((int(r.get("points") or 0) - 1 for r in records), default=0)

    @property
    def enumerated(self) -> int:
        """How many points this fault offers on the trace (point 0 included if it is ours)."""
        return len(self.points)

    @property
    def passed(self) -> int:
        return len(self.results) - self.failed

    @property
    def not_run(self) -> list[int]:
        """Enumerated points with no result (sampled out, in another shard, interrupted)."""
        return [k for k in self.points if k not in self.results]

    @property
    def verdict(self) -> tuple[str, str]:
        """A CSS class and a word for the outcome under this fault.

        A known-buggy variant must be caught by some fault, not by each: a fault that
        found nothing in it says so neutrally, unless no fault caught the variant at all.
        """
        if self.error is not None and not self.results:
            return "bad", "error"
        if not self.results:
            return ("none", "not run") if self.points else ("none", "no points")
        if self.failed and not self.expected:
            return "bad", "failing"
        if self.failed:
            return "known", "caught (known bug)"
        if self.expected and self.caught:
            return "none", "no findings under this fault"
        if self.expected:
            return "warn", "not caught"
        return "good", "clean"

    def records(self, point: int) -> list[tuple[int | None, Record]]:
        """The records of one point: the plain one first, then the nested ones in order."""
        found = self.results.get(point) or {}
        return sorted(found.items(), key=lambda item: -1 if item[0] is None else item[0])

    def op(self, point: int) -> Record:
        """The operation before which point ``point`` crashes (0: none, N+1: the end)."""
        if point == 0:
            return _golden_op()
        if self.operations is not None and 1 <= point <= len(self.operations):
            return self.operations[point - 1]
        known = [r for r in (self.results.get(point) or {}).values() if r.get("op")]
        if known:
            return dict(known[0]["op"])
        if point == self.n + 1:
            return _end_op(point)
        return {"index": point, "kind": "?", "target": "unknown operation", "function": "?"}


def _row_order(row: Row) -> tuple[bool, str, str]:
    return (row.expected, row.variant, row.fault)


def build_rows(records: Iterable[Record]) -> list[Row]:
    """Group the records into strips, ordered by scenario (as first seen), then variant."""
    rows: dict[tuple[str, str, str], Row] = {}
    audits: dict[tuple[str, str], list[Record]] = {}
    errors: dict[tuple[str, str], Record] = {}
    first_fault: dict[tuple[str, str], str] = {}  # the fault of a variant's first trace
    for record in records:
        kind = record.get("type")
        if kind in ("trace", "point"):
            row = _add(rows, record)
            if kind == "trace":
                first_fault.setdefault((row.scenario_id, row.variant), row.fault)
        elif kind == "audit":
            audits[(record["scenario_id"], record["variant"])] = record.get("uncovered") or []
        elif kind == "error":
            errors[(record["scenario_id"], record["variant"])] = record
    _attach(rows, audits, errors)
    _share(list(rows.values()), first_fault)
    scenarios = list(dict.fromkeys(row.scenario_id for row in rows.values()))
    ordered = sorted(rows.values(), key=lambda r: (scenarios.index(r.scenario_id), *_row_order(r)))
    for index, row in enumerate(ordered):
        row.index = index
    return ordered


def _add(rows: dict[tuple[str, str, str], Row], record: Record) -> Row:
    fault = record.get("fault") or "kill"
    key = (record["scenario_id"], record["variant"], fault)
    row = rows.get(key)
    if row is None:
        row = rows[key] = Row(record["scenario"], record["scenario_id"], record["variant"], fault)
    row.expected = bool(record.get("expected_findings", row.expected))
    if record["type"] == "trace":
        row.operations = list(record.get("operations") or [])
        offered = record.get("points")
        row.offered = None if offered is None else [int(k) for k in offered]
    else:
        _, _, _, point, nested = point_id(record)
        row.results.setdefault(point, {})[nested] = record
    return row


def _share(rows: list[Row], first_fault: dict[tuple[str, str], str]) -> None:
    """What a variant's rows share: whose point 0 is, and whether any fault caught it.

    Point 0 is the row's that holds a record of it; with none, the first fault traced.
    """
    variants: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        variants[(row.scenario_id, row.variant)].append(row)
    for pair, members in variants.items():
        holders = {row.fault for row in members if 0 in row.results}
        if not holders:
            holders = {first_fault.get(pair, members[0].fault)}
        for row in members:
            row.golden = row.fault in holders
            row.settle()
        caught = any(row.failed for row in members)
        for row in members:
            row.caught = caught


def _attach(
    rows: dict[tuple[str, str, str], Row],
    audits: dict[tuple[str, str], list[Record]],
    errors: dict[tuple[str, str], Record],
) -> None:
    for (scenario_id, variant), error in errors.items():
        matching = [
            r for r in rows.values() if r.scenario_id == scenario_id and r.variant == variant
        ]
        if not matching:
            key = (scenario_id, variant, error.get("fault") or "kill")
            matching = [rows.setdefault(key, Row(error["scenario"], scenario_id, variant, key[2]))]
        for row in matching:
            row.error = str(error.get("error", ""))
    for row in rows.values():
        row.uncovered = audits.get((row.scenario_id, row.variant), [])


# -- trend --------------------------------------------------------------------------


@dataclass
class Trend:
    """What changed against the previous run: newly failing and newly fixed points."""

    newly_failing: set[PointKey] = field(default_factory=set)
    newly_fixed: set[PointKey] = field(default_factory=set)
    #: Whether a previous run was given at all.
    compared: bool = False


def compare(current: Iterable[Record], previous: Iterable[Record] | None) -> Trend:
    """Points failing now that passed (or did not exist) before, and points fixed since."""
    if previous is None:
        return Trend()
    before = {point_id(r): r.get("outcome") for r in previous if r.get("type") == "point"}
    trend = Trend(compared=True)
    for record in current:
        if record.get("type") != "point":
            continue
        key, outcome = point_id(record), record.get("outcome")
        if outcome == "fail" and before.get(key) != "fail":
            trend.newly_failing.add(key)
        elif outcome == "pass" and before.get(key) == "fail":
            trend.newly_fixed.add(key)
    return trend


# -- the embedded data --------------------------------------------------------------


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


def _flags(key: PointKey, trend: Trend) -> int:
    flags = 0
    if key in trend.newly_failing:
        flags |= NEWLY_FAILING
    if key in trend.newly_fixed:
        flags |= NEWLY_FIXED
    return flags


def _cells(row: Row, trend: Trend, details: list[Record], strings: Strings) -> list[list[Any]]:
    """One ``[point, nested, status, detail, flags, injection]`` per enumerated point.

    ``detail`` indexes the details of a failing point (-1: none), ``injection`` the
    strings (-1: none). ``nested`` is None, or for a point run as nested points one
    ``[nested, status, detail, flags]`` each; the point's own ``detail`` is then its
    first failing nested point's.
    """
    uncovered = {int(u.get("index", -1)) for u in row.uncovered}
    cells: list[list[Any]] = []
    for point in row.points:
        records = row.records(point)
        entries: list[list[Any]] = []
        flags = UNCOVERED if point in uncovered else 0
        for nested, record in records:
            key = (row.scenario_id, row.variant, row.fault, point, nested)
            detail = -1
            if record.get("outcome") == "fail":
                detail = len(details)
                details.append(_detail(row, record, key in trend.newly_failing, strings))
            entry_flags = _flags(key, trend)
            flags |= entry_flags
            entries.append([nested, _status([record]), detail, entry_flags])
        injection = next((str(r["injection"]) for _, r in records if r.get("injection")), "")
        cells.append(
            [
                point,
                entries if any(n is not None for n, _ in records) else None,
                _status(record for _, record in records),
                next((e[2] for e in entries if e[2] >= 0), -1),
                flags,
                strings.always(injection) if injection else -1,
            ]
        )
    return cells


def artifacts_href(path: str) -> str | None:
    """A link to a point's kept world, relative to the report's folder (None: not relative).

    Each part is percent-encoded, so a name cannot turn the link into a ``javascript:`` URL.
    """
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return None
    return "/".join(quote(part, safe="") for part in parts if part not in ("", ".")) + "/"


def _detail(row: Row, result: Record, new: bool, strings: Strings) -> Record:
    """What the page shows for one failing point."""
    artifacts = result.get("artifacts")
    return {
        "row": row.index,
        "point": result["point"],
        "nested": result.get("nested"),
        "op": _op_tuple(result.get("op") or row.op(int(result["point"]))),
        "opDetail": (result.get("op") or {}).get("detail") or {},
        "source": strings(str(result.get("source") or "")),
        "injection": strings(str(result.get("injection") or "")),
        "findings": [
            [
                f.get("invariant", "?"),
                strings(str(f.get("message", ""))),
                strings(str(f.get("diff") or "")),
            ]
            for f in result.get("findings", [])
        ],
        "rounds": [_round(r, strings) for r in result.get("rounds", [])],
        "output": strings(str(result.get("output") or "")),
        "replay": str(result.get("replay") or ""),
        "duration": result.get("duration"),
        "artifacts": str(artifacts) if artifacts else None,
        "artifactsHref": artifacts_href(str(artifacts)) if artifacts else None,
        "recheck": _recheck_text(result.get("recheck")),
        "expected": bool(result.get("expected_findings")),
        "new": new,
    }


def _recheck_text(recheck: Any) -> str | None:
    """``crashkit report --recheck``'s verdict on a kept point, in a line."""
    if not isinstance(recheck, Mapping):
        return None
    now = ", ".join(map(str, recheck.get("now") or [])) or "clean"
    text = f"now {now} ({'changed' if recheck.get('changed') else 'same as when it ran'})"
    if recheck.get("skipped"):
        text += "; not re-judged: " + ", ".join(map(str, recheck["skipped"]))
    return text


def _round(entry: Record, strings: Strings) -> list[Any]:
    mutations = [strings(str(m)) for m in entry.get("mutations", [])]
    return [
        entry.get("round"),
        entry.get("exit"),
        entry.get("operations"),
        mutations,
        bool(entry.get("changed")),
        entry.get("duration"),
    ]


def build_data(rows: list[Row], trend: Trend) -> Record:
    """The JSON the page's script draws strips and details from."""
    strings, details = Strings(), list[Record]()
    traces: list[list[list[Any]]] = []
    seen: dict[str, int] = {}  # a variant's faults share its trace: stored once
    out = []
    for row in rows:
        last = max([row.n + 1 if row.points else 0, *row.points])
        ops = [_op_tuple(row.op(k)) for k in range(last + 1)]
        trace = seen.setdefault(json.dumps(ops, default=str), len(traces))
        if trace == len(traces):
            traces.append(ops)
        cells = _cells(row, trend, details, strings)
        out.append({"trace": trace, "cells": cells, "invariants": sorted(row.invariants)})
    return {"rows": out, "traces": traces, "details": details, "strings": strings.table}


def embed_json(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


# -- the header ---------------------------------------------------------------------


def _runs(records: list[Record]) -> list[tuple[Record, list[Record], Record | None]]:
    """Each run record with the point records that follow it and the end record closing it."""
    runs: list[tuple[Record, list[Record], Record | None]] = []
    for record in records:
        kind = record.get("type")
        if kind == "run":
            runs.append((record, [], None))
        elif runs and kind == "point":
            runs[-1][1].append(record)
        elif runs and kind == "end":
            runs[-1] = (runs[-1][0], runs[-1][1], record)
    return runs


def sweep_duration(records: list[Record]) -> tuple[float, bool]:
    """Seconds the sweeps took, and whether that is an estimate (a run without an end record).

    Shards are added up: the figure is the work done, and points per second its rate.
    """
    total, estimated = 0.0, False
    for run, points, end in _runs(records):
        if end is not None and end.get("duration") is not None:
            total += float(end["duration"])
        else:
            cpus = max(int(run.get("cpus") or 1), 1)
            total += sum(float(p.get("duration") or 0) for p in points) / cpus
            estimated = True
    return total, estimated


def _date(runs: list[Record]) -> str:
    started = sorted(str(r["started"]) for r in runs if r.get("started"))
    if not started:
        return "unknown"
    try:
        when = datetime.fromisoformat(started[0])
    except ValueError:
        return started[0]
    zone = when.tzname() or ""
    return f"{when:%Y-%m-%d %H:%M} {'UTC' if zone in ('UTC', 'UTC+00:00') else zone}".strip()


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def header(records: list[Record], rows: list[Row]) -> Record:
    """The facts at the top: when, which commit, how much ran, how fast."""
    runs = [r for r in records if r.get("type") == "run"]
    points = sum(len(row.results) for row in rows)
    duration, estimated = sweep_duration(records)
    return {
        "date": _date(runs),
        "commits": list(dict.fromkeys(str(r["commit"]) for r in runs if r.get("commit"))),
        "runs": len(runs),
        "scenarios": len({row.scenario_id for row in rows}),
        "variants": len({(row.scenario_id, row.variant) for row in rows}),
        "faults": sorted({row.fault for row in rows}),
        "points": points,
        "enumerated": sum(row.enumerated for row in rows),
        "duration": ("≈ " if estimated else "") + _seconds(duration),
        "rate": f"{points / duration:.1f}" if duration > 0 else "-",
    }


def verdict(rows: list[Row]) -> Record:
    """The one-line answer: is anything broken that is not known to be broken?

    Counted by scenario variant: a correct variant is broken when it fails under any
    fault; a known-buggy one is caught when some fault found something in it.
    """
    variants: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        variants[(row.scenario_id, row.variant)].append(row)
    failing = [row for row in rows if row.verdict[1] in ("failing", "error")]
    missed = _first_with(variants.values(), "not caught")
    caught = _first_with(variants.values(), "caught (known bug)")
    broken = {(row.scenario_id, row.variant) for row in failing}
    return {
        "level": "bad" if failing else "warn" if missed else "good",
        "failing": failing,
        "broken": len(broken),
        "missed": missed,
        "caught": caught,
        "first": failing[0].index if failing else None,
    }


def _first_with(variants: Iterable[list[Row]], word: str) -> list[Row]:
    """For each variant with a row whose verdict is ``word``, the first such row."""
    found = (next((row for row in rows if row.verdict[1] == word), None) for rows in variants)
    return [row for row in found if row is not None]


# -- the sections -------------------------------------------------------------------


def describe(op: Record | list[Any], point: int, nested: int | None = None) -> str:
    """``p07 fs.write notes.md`` (``p07/r03`` for a crash during recovery)."""
    kind, target = (op[0], op[1]) if isinstance(op, list) else (op.get("kind"), op.get("target"))
    label = f"p{point:02d}" + (f"/r{nested:02d}" if nested is not None else "")
    return f"{label} {kind} {target}"


def _where(op: Record) -> str:
    function, file, line = op.get("function", "?"), op.get("file", "?"), op.get("line", 0)
    return f"{function}, {file}:{line}" if file not in (None, "?") else str(function)


def trend_entries(rows: list[Row], keys: set[PointKey]) -> list[Record]:
    """The points in ``keys``, in report order, ready for the trend lists."""
    by_key = {(r.scenario_id, r.variant, r.fault): r for r in rows}
    entries = []

    def order(key: PointKey) -> tuple[bool, int, int, int]:  # unexpected failures first
        row = by_key[key[:3]]
        return (row.expected, row.index, key[3], key[4] or 0)

    for key in sorted(keys, key=order):
        row = by_key[key[:3]]
        op = ((row.results.get(key[3]) or {}).get(key[4]) or {}).get("op") or row.op(key[3])
        entries.append(
            {
                "row": row,
                "point": key[3],
                "nested": key[4],
                "what": describe(op, key[3], key[4]),
                "where": _where(op),
                "anchor": _anchor(row.index, key[3], key[4]),
            }
        )
    return entries


def _anchor(row: int, point: int, nested: int | None) -> str:
    return f"r{row}-p{point}" + (f"-n{nested}" if nested is not None else "")


def audit_groups(rows: list[Row]) -> list[Record]:
    """The journal audit per scenario variant: uncovered mutations by caller and location."""
    seen: set[tuple[str, str]] = set()
    groups = []
    for row in rows:
        pair = (row.scenario_id, row.variant)
        if pair in seen or not row.uncovered:
            continue
        seen.add(pair)
        members = [r for r in rows if (r.scenario_id, r.variant) == pair]
        groups.append(
            {
                "row": row,
                "callers": _by_caller(row.uncovered),
                "count": len(row.uncovered),
                "anchors": _audit_anchors(row.uncovered, members),
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
        anchors[index] = _anchor(row.index, index, None)
    return anchors


def entity_text(entity: Any) -> str:
    """An audited entity for people: ``path=notes.md page=1a2b`` (empty parts left out)."""
    if isinstance(entity, dict):
        parts = [f"{k}={v}" for k, v in entity.items() if v not in (None, "")]
        return " ".join(parts) or "(none)"
    return str(entity) if entity not in (None, "") else "(none)"


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
    groups = []
    for (function, file, via), entries in callers.items():
        lines = sorted({int(e.get("line") or 0) for e in entries})
        groups.append(
            {
                "function": function,
                "file": file,
                "line": lines[0],
                "where": f"{file}:" + ", ".join(str(line) for line in lines),
                "via": list(via),
                "entries": sorted(entries, key=lambda e: int(e.get("index") or 0)),
                "entities": list(dict.fromkeys(entity_text(e.get("entity")) for e in entries)),
                "reasons": list(dict.fromkeys(str(e.get("reason", "")) for e in entries)),
            }
        )
    return sorted(groups, key=lambda g: (g["file"], g["line"], g["via"]))


def error_summary(text: str) -> str:
    """The first line of an error and, for a traceback, its last line (the exception)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "error"
    first = lines[0].removesuffix("Traceback (most recent call last):").strip()
    return first if len(lines) == 1 else f"{first} \u2026 {lines[-1].strip()}"


def point_ranges(points: list[int], limit: int = RANGES_LIMIT) -> str:
    """``p04-p09, p12`` (en dashes) for sorted points, at most ``limit`` ranges spelled out."""
    spans: list[list[int]] = []
    for k in points:
        if spans and k == spans[-1][1] + 1:
            spans[-1][1] = k
        else:
            spans.append([k, k])
    words = [f"p{a:02d}" if a == b else f"p{a:02d}\u2013p{b:02d}" for a, b in spans[:limit]]
    if len(spans) > limit:
        words.append(f"and {len(spans) - limit} more ranges")
    return ", ".join(words)


def by_scenario(rows: list[Row]) -> list[tuple[Row, list[Row]]]:
    """Rows grouped by scenario: (the first row, standing for the scenario; all its rows)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.scenario_id].append(row)
    return [(members[0], members) for members in groups.values()]


# -- rendering ----------------------------------------------------------------------


def _asset(name: str) -> str:
    return (
        resources.files("crashkit.output.report")
        .joinpath("templates", name)
        .read_text(encoding="utf-8")
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
    env.globals["where"] = _where
    return env


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
    current = _clean(latest(records))
    rows = build_rows(current)
    trend = compare(current, latest(previous) if previous is not None else None)
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title,
        head=header(current, rows),
        verdict=verdict(rows),
        rows=rows,
        scenarios=by_scenario(rows),
        trend=trend,
        newly_failing=trend_entries(rows, trend.newly_failing),
        newly_fixed=trend_entries(rows, trend.newly_fixed),
        trend_limit=TREND_LIMIT,
        audit_shown=AUDIT_SHOWN,
        audit=audit_groups(rows),
        audited=any(r.get("type") == "audit" for r in current),
        invariants=sorted({name for row in rows for name in row.invariants}),
        data=embed_json(build_data(rows, trend)),
        css=Markup(_asset("report.css")),
        script=Markup(_asset("report.js")),
    )


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
    data = render_report(records, previous=previous).encode("utf-8")
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
    return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
