"""crashkit: crash a program at every durable operation, restart it, check invariants.

This is the front door: everything a user or a plugin author needs, nothing private.
Behind it, each concept is a package, layered bottom up (each imports only those
below it; ``tests/unit/test_layers.py`` holds the rule):

* :mod:`crashkit.model`: plain data (operations, outcomes, point identity, verdicts,
  the parent-child contract);
* :mod:`crashkit.probes`: what sees a program's durable operations, inside a child;
* :mod:`crashkit.faults`: what happens at a point, both halves, one module per kind;
* :mod:`crashkit.scenario`: what a user writes (scenario, journal, invariants);
* :mod:`crashkit.child`: what runs in a child process, and nothing else;
* :mod:`crashkit.launch`: how the parent starts a child (never importing it);
* :mod:`crashkit.remotes`: fake remote services (Notion), in process or on loopback;
* :mod:`crashkit.output`: the results file and the HTML report, from plain records;
* :mod:`crashkit.options`: one options object, from the project's files and flags;
* :mod:`crashkit.engine`: explore a variant point by point, sweep many in parallel;
* :mod:`crashkit.cli` and :mod:`crashkit.pytest_plugin`: the two front ends.

The names below are imported when first asked for (PEP 562), so that a child process,
which imports ``crashkit.child`` and therefore this package, loads nothing of the
engine, the output or the front ends.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:  # for type checkers and editors; at run time see __getattr__
    from crashkit.engine import Explorer, PointResult, Sweep, VariantSummary
    from crashkit.errors import ChildError, CrashkitError, ResultsError, ScenarioError, UsageError
    from crashkit.faults import FAULTS, FaultKind
    from crashkit.launch import LAUNCHERS, Launcher
    from crashkit.model.operation import Operation
    from crashkit.model.outcome import Finding, PointId, Verdict
    from crashkit.options import Options
    from crashkit.output.results import read_results
    from crashkit.probes.python import point
    from crashkit.remotes.notion.fake import FakeNotion
    from crashkit.scenario import (
        About,
        Check,
        Command,
        CommandFailed,
        Generated,
        Invariant,
        Journal,
        Scenario,
        Uncovered,
        World,
        diff_states,
        hashes_match_files,
        journal_drained,
        load_scenarios,
        query_rows,
        remote_not_stale,
    )

#: Each public name and the module it lives in.
_EXPORTS = {
    "Explorer": "crashkit.engine",
    "PointResult": "crashkit.engine",
    "Sweep": "crashkit.engine",
    "VariantSummary": "crashkit.engine",
    "ChildError": "crashkit.errors",
    "CrashkitError": "crashkit.errors",
    "ResultsError": "crashkit.errors",
    "ScenarioError": "crashkit.errors",
    "UsageError": "crashkit.errors",
    "FAULTS": "crashkit.faults",
    "FaultKind": "crashkit.faults",
    "LAUNCHERS": "crashkit.launch",
    "Launcher": "crashkit.launch",
    "Operation": "crashkit.model.operation",
    "Finding": "crashkit.model.outcome",
    "PointId": "crashkit.model.outcome",
    "Verdict": "crashkit.model.outcome",
    "Options": "crashkit.options",
    "read_results": "crashkit.output.results",
    "point": "crashkit.probes.python",
    "FakeNotion": "crashkit.remotes.notion.fake",
    "About": "crashkit.scenario",
    "Check": "crashkit.scenario",
    "Generated": "crashkit.scenario",
    "Invariant": "crashkit.scenario",
    "Journal": "crashkit.scenario",
    "Scenario": "crashkit.scenario",
    "Command": "crashkit.scenario",
    "CommandFailed": "crashkit.scenario",
    "Uncovered": "crashkit.scenario",
    "World": "crashkit.scenario",
    "diff_states": "crashkit.scenario",
    "hashes_match_files": "crashkit.scenario",
    "journal_drained": "crashkit.scenario",
    "load_scenarios": "crashkit.scenario",
    "query_rows": "crashkit.scenario",
    "remote_not_stale": "crashkit.scenario",
}

__all__ = [
    "FAULTS",
    "LAUNCHERS",
    "About",
    "Check",
    "ChildError",
    "Command",
    "CommandFailed",
    "CrashkitError",
    "Explorer",
    "FakeNotion",
    "FaultKind",
    "Finding",
    "Generated",
    "Invariant",
    "Journal",
    "Launcher",
    "Operation",
    "Options",
    "PointId",
    "PointResult",
    "ResultsError",
    "Scenario",
    "ScenarioError",
    "Sweep",
    "Uncovered",
    "UsageError",
    "VariantSummary",
    "Verdict",
    "World",
    "diff_states",
    "hashes_match_files",
    "journal_drained",
    "load_scenarios",
    "point",
    "query_rows",
    "read_results",
    "remote_not_stale",
]


def __getattr__(name: str) -> _Any:
    """A public name, imported from its module the first time it is asked for."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'crashkit' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
