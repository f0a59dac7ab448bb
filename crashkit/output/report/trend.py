"""The trend: which points fail now that passed in the previous run, and which were fixed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from crashkit.model.outcome import PointId
from crashkit.output.report.records import Record

__all__ = ["Trend", "compare"]


@dataclass
class Trend:
    """What changed against the previous run: newly failing and newly fixed points."""

    newly_failing: set[PointId] = field(default_factory=set)
    newly_fixed: set[PointId] = field(default_factory=set)
    #: Whether a previous run was given at all.
    compared: bool = False


def compare(current: Iterable[Record], previous: Iterable[Record] | None) -> Trend:
    """Points failing now that passed (or did not exist) before, and points fixed since."""
    if previous is None:
        return Trend()
    before = {PointId.of(r): r.get("outcome") for r in previous if r.get("type") == "point"}
    trend = Trend(compared=True)
    for record in current:
        if record.get("type") != "point":
            continue
        point, outcome = PointId.of(record), record.get("outcome")
        if outcome == "fail" and before.get(point) != "fail":
            trend.newly_failing.add(point)
        elif outcome == "pass" and before.get(point) == "fail":
            trend.newly_fixed.add(point)
    return trend
