"""What a user writes: a scenario (its world, phases and variants), its journal for the
audit, and the invariants a recovered world must hold.

Layer: scenarios are loaded in the parent and again in every child (a child runs
their phases), so this package imports only :mod:`crashkit.model`,
:mod:`crashkit.faults` (to check the fault names a scenario gives),
:mod:`crashkit.probes` (the journal's queries stay invisible to the probe) and
:mod:`crashkit.errors`.
"""

from crashkit.scenario.command import Command, CommandFailed
from crashkit.scenario.generated import Generated
from crashkit.scenario.invariants import (
    Check,
    Invariant,
    diff_states,
    hashes_match_files,
    journal_drained,
    query_rows,
    remote_not_stale,
    run_invariants,
)
from crashkit.scenario.journal import Journal, Uncovered
from crashkit.scenario.scenario import (
    About,
    Scenario,
    ScenarioRef,
    World,
    load_scenarios,
    resolve,
    scenarios_in,
)

__all__ = [
    "About",
    "Check",
    "Command",
    "CommandFailed",
    "Generated",
    "Invariant",
    "Journal",
    "Scenario",
    "ScenarioRef",
    "Uncovered",
    "World",
    "diff_states",
    "hashes_match_files",
    "journal_drained",
    "load_scenarios",
    "query_rows",
    "remote_not_stale",
    "resolve",
    "run_invariants",
    "scenarios_in",
]
