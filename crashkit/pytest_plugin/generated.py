"""The pytest side of generated scenarios: one item per (variant, fault), as a hypothesis
test is one item.

Running an item draws worlds, crashes each at its points and shrinks a finding
(:class:`crashkit.engine.generation.WorldSearch`); its failure shows the shrunk world
as data, the point, the finding with its diff, and the replay line of exactly that
world and point. The worlds come from ``--crashkit-seed`` (drawn and printed when not
given), hypothesis's own ``--hypothesis-seed`` and profile settings, and hypothesis's
example database, which holds the worlds that failed before and tries them first.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from crashkit.engine.generation import SearchOutcome, WorldSearch, searched
from crashkit.pytest_plugin.items import format_failure
from crashkit.pytest_plugin.names import SEED
from crashkit.pytest_plugin.session import crashkit_session, session_seed
from crashkit.scenario.generated import Generated
from crashkit.scenario.scenario import ScenarioRef

__all__ = ["GeneratedWorlds", "collect_generated"]

#: Longest world shown whole in a failure; a longer one is cut (the results file has it).
_SHOWN = 4000


def collect_generated(collector: pytest.Collector, name: str, generated: Generated) -> list[Any]:
    """The items of one generated scenario: one per (variant, fault), a known bug only
    under the faults meant to catch it (when it names them)."""
    session = crashkit_session(collector.config)
    if generated.source is None:
        generated.source = ScenarioRef(str(collector.path.resolve()), name)
    wanted = session.options.variants
    return [
        GeneratedWorlds.from_parent(
            collector,
            name=f"{generated.name}[{variant}-{fault}-worlds]",
            nodeid=f"{collector.nodeid}::{generated.name}[{variant}-{fault}-worlds]",
            generated=generated,
            variant=variant,
            fault=fault,
        )
        for variant in generated.variants
        if not wanted or variant in wanted
        for fault in session.faults
        if searched(generated, variant, fault, session.options.shard)
    ]


class GeneratedFailed(Exception):
    """A generated scenario's search found (and shrank) a finding."""

    def __init__(self, outcome: SearchOutcome) -> None:
        super().__init__(outcome.invariant)
        self.outcome = outcome


class GeneratedWorlds(pytest.Item):
    """Worlds drawn for one variant of a generated scenario under one fault kind."""

    def __init__(self, *, generated: Generated, variant: str, fault: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generated = generated
        self.variant = variant
        self.fault = fault
        self.outcome: SearchOutcome | None = None
        self.add_marker("crashkit")
        if generated.shape().expects_findings(variant):
            self.add_marker("known_bug")

    def runtest(self) -> None:
        session = crashkit_session(self.config)
        folder = session.work_dir / f"generated-{self.generated.name}-{self.variant}-{self.fault}"
        search = WorldSearch(
            self.generated,
            self.variant,
            self.fault,
            session.options,
            session.launcher(self.generated.shape()),
            folder,
            artifacts=session.artifacts,
        )
        self.outcome = outcome = search.run()
        if outcome.error is not None:
            raise GeneratedFailed(outcome)
        if outcome.finding is None:
            return
        if self.generated.shape().expects_findings(self.variant):
            pytest.xfail(f"known bug in variant {self.variant!r}: {outcome.invariant}")
        raise GeneratedFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, GeneratedFailed):
            return format_search(excinfo.value.outcome, self.nodeid, session_seed(self.config))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, None, f"generated worlds of {self.generated.name}[{self.variant}]"

    def crashkit_records(self) -> list[dict[str, Any]]:
        """The results lines of the search: the world run whole and the search's line."""
        if self.outcome is None:
            return []
        records = self.outcome.records()
        for record in records:
            if record["type"] == "point":
                record["nodeid"] = self.nodeid
        return records


def format_search(outcome: SearchOutcome, nodeid: str, seed: int) -> str:
    """What a failing generated item shows: how the search went, the shrunk world as data,
    then the point as a crash point item shows it (with the replay line)."""
    rerun = f"rerun:  pytest '{nodeid}' {SEED}={seed}"
    if outcome.error is not None or outcome.finding is None:
        return f"{outcome.worlds} worlds, {outcome.points} points: {outcome.error}\n\n{rerun}"
    world = json.dumps(outcome.world, indent=1, ensure_ascii=False, sort_keys=True)
    if len(world) > _SHOWN:
        world = world[:_SHOWN] + f"\n... ({len(world) - _SHOWN} more characters in the results)"
    lines = [
        f"{outcome.worlds} worlds, {outcome.points} points: {outcome.invariant} found after "
        f"{outcome.found_after} world(s); shrunk in {outcome.shrink_seconds or 0:.1f}s to "
        "the world:",
        world,
        "",
        format_failure(outcome.finding, nodeid, seed),
    ]
    return "\n".join(lines)
