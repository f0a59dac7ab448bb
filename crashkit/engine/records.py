"""The results lines a sweep writes about a variant, besides its points: the same lines
from ``crashkit run`` and from the pytest plugin (point lines are
:meth:`crashkit.engine.result.PointResult.to_json`)."""

from __future__ import annotations

from typing import Any

from crashkit.engine.explorer import Explorer

__all__ = ["audit_record", "error_record", "trace_record"]


def _variant(explorer: Explorer) -> dict[str, Any]:
    return {
        "scenario": explorer.scenario.name,
        "scenario_id": explorer.scenario.id,
        "variant": explorer.variant,
    }


def error_record(explorer: Explorer, error: Exception) -> dict[str, Any]:
    """The line of a variant that could not be explored (its setup or dry run is broken)."""
    return {"type": "error", **_variant(explorer), "error": str(error)}


def audit_record(explorer: Explorer) -> dict[str, Any]:
    """The line listing a variant's mutations no journal entry covered."""
    uncovered = [u.to_json() for u in explorer.prepare().uncovered]
    return {"type": "audit", **_variant(explorer), "uncovered": uncovered}


def trace_record(explorer: Explorer, fault: str) -> dict[str, Any]:
    """The line describing a variant's dry run, and the points ``fault`` offers on it."""
    golden = explorer.prepare()
    scenario = explorer.scenario
    return {
        "type": "trace",
        **_variant(explorer),
        "fault": fault,
        "points": explorer.points_for(fault),
        "expected_findings": scenario.expects_findings(explorer.variant),
        "expected_faults": sorted(scenario.catching_faults(explorer.variant)),
        "operations": [op.to_json() for op in golden.trace],
        "golden_rounds": [r.to_json() for r in golden.rounds],
        "golden_state": golden.state,
        **({"warnings": golden.warnings} if golden.warnings else {}),
        **({"program": scenario.about.to_json()} if scenario.about else {}),
    }
