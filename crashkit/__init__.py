"""crashkit: crash a program at every durable operation, restart it, check invariants.

The public names live here; the implementation sits in private modules.
Layering, bottom up: ``_quiet`` and ``_operation`` (plain data); ``_probe`` (in the
child: sees durable operations), ``_powerloss`` and ``_faults`` (what happens at a
point); ``_scenario``, ``_invariants`` and ``_journal`` (what a user writes);
``_child`` and ``_starter`` (processes); ``_runner`` (one scenario variant),
``_artifacts``; ``_sweep`` (many, in parallel), ``_results``, ``_report``; and on
top ``_cli`` and the pytest plugin (``plugin``, ``_pytest``). The fake Notion
remote is ``_notion_store``, ``_notion_api``, ``_notion_server``, ``_fake_notion``.
"""

from crashkit.remotes.notion.fake import FakeNotion
from crashkit.scenario.invariants import (
    Check,
    Finding,
    Invariant,
    diff_states,
    hashes_match_files,
    journal_drained,
    query_rows,
    remote_not_stale,
)
from crashkit.scenario.journal import Journal, Uncovered
from crashkit.model.operation import Operation
from crashkit.probes.python import point
from crashkit.output.results import read_results
from crashkit.engine.explorer import Explorer, PointResult
from crashkit.scenario.scenario import Scenario, World, load_scenarios
from crashkit.engine.sweep import Sweep, VariantSummary
from crashkit.errors import (
    ChildError,
    CrashkitError,
    ResultsError,
    ScenarioError,
    UsageError,
)

__all__ = [
    "Check",
    "ChildError",
    "CrashkitError",
    "Explorer",
    "FakeNotion",
    "Finding",
    "Invariant",
    "Journal",
    "Operation",
    "PointResult",
    "ResultsError",
    "Scenario",
    "ScenarioError",
    "Sweep",
    "Uncovered",
    "UsageError",
    "VariantSummary",
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
