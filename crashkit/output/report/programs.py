"""The results page of each real program a sweep crashed (scenarios carrying an ``about``).

Per program: its version as installed, what was swept (variants, faults, points run), and
what was found, grouped by variant, fault and invariant, each group with the replay
lines of its first points and whether the program's own documentation names it as a
limit (the scenario's ``documented`` patterns, recorded with its trace lines) or not.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from typing import Any

from crashkit.output.report.records import Record
from crashkit.output.report.rows import Row
from crashkit.output.report.sections import anchor
from crashkit.output.report.text import describe

__all__ = ["program_pages"]

#: Points listed per group of findings (the rest are in the strips).
SHOWN = 4


def program_pages(records: list[Record], rows: list[Row]) -> list[Record]:
    """One page per program, in the order their scenarios first appear."""
    pages: dict[str, Record] = {}
    owner: dict[str, Record] = {}
    for record in records:
        about = record.get("program") if record.get("type") == "trace" else None
        if isinstance(about, dict):
            page = pages.setdefault(str(about.get("program")), _page(about))
            page["scenarios"].setdefault(record["scenario_id"], record["scenario"])
            owner[record["scenario_id"]] = page
    row_index = {(r.scenario_id, r.variant, r.fault): r.index for r in rows}
    for record in records:
        if record.get("type") == "point" and record["scenario_id"] in owner:
            _add_point(owner[record["scenario_id"]], record, row_index)
    return [_settle(page) for page in pages.values()]


def _page(about: dict[str, Any]) -> Record:
    return {
        "name": str(about.get("program")),
        "version": str(about.get("version", "unknown")),
        "summary": str(about.get("summary", "")),
        "documented": dict(about.get("documented") or {}),
        "scenarios": {},
        "swept": defaultdict(set),  # (variant, fault) -> points run
        "failed": defaultdict(set),  # (variant, fault) -> points failing
        "groups": {},  # (variant, fault, invariant) -> a group of findings
    }


def _add_point(page: Record, record: Record, row_index: dict[tuple[str, str, str], int]) -> None:
    variant, fault, point = record["variant"], record["fault"], record["point"]
    page["swept"][(variant, fault)].add(point)
    if not record["findings"]:
        return
    page["failed"][(variant, fault)].add(point)
    nested = record.get("nested")
    row = row_index.get((record["scenario_id"], variant, fault), 0)
    for invariant in dict.fromkeys(f["invariant"] for f in record["findings"]):
        key = (variant, fault, invariant)
        group = page["groups"].setdefault(key, _group(page["documented"], *key))
        group["points"].append(
            {
                "point": (point, nested or 0),
                "what": describe(record["op"], point, nested),
                "replay": record.get("replay", ""),
                "anchor": anchor(row, point, nested),
                "first_line": _first_line(record["findings"], invariant),
            }
        )


def _group(documented: dict[str, str], variant: str, fault: str, invariant: str) -> Record:
    key = f"{variant}/{fault}/{invariant}"
    limit = next((t for g, t in documented.items() if fnmatch.fnmatchcase(key, g)), None)
    return {
        "variant": variant,
        "fault": fault,
        "invariant": invariant,
        "documented": limit,
        "points": [],
    }


def _first_line(findings: list[Record], invariant: str) -> str:
    """The finding in one line: its first, or its last when the first only announces
    what follows (``restart round 1 raised:`` and a traceback)."""
    message = next(str(f.get("message", "")) for f in findings if f["invariant"] == invariant)
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].strip() if lines[0].endswith(":") else lines[0]


def _settle(page: Record) -> Record:
    """Plain lists for the template: what was swept and the groups, sorted."""
    swept = [
        {
            "variant": variant,
            "fault": fault,
            "points": len(points),
            "failed": len(page["failed"].get((variant, fault), ())),
        }
        for (variant, fault), points in sorted(page["swept"].items())
    ]
    groups = sorted(
        page["groups"].values(), key=lambda g: (g["documented"] is not None, g["variant"])
    )
    for group in groups:
        group["points"].sort(key=lambda p: p["point"])
        group["count"] = len(group["points"])
    return {
        **page,
        "swept": swept,
        "points": sum(s["points"] for s in swept),
        "faults": sorted({s["fault"] for s in swept}),
        "groups": groups,
        "undocumented": len(
            {
                (g["variant"], g["fault"], p["point"])
                for g in groups
                if g["documented"] is None
                for p in g["points"]
            }
        ),
        "shown": SHOWN,
    }
