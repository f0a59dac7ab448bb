"""``recovery-crash``: a kill before operation k, then the first restart is killed too, at
each of its own durable operations (a seeded sample of :data:`NESTED_BUDGET` when there
are more): nested points ``p07/r03``, each recovered and checked on its own.

The first restart runs once, recording the crash state a kill right before each of its
operations would leave (as the kill points' recording does for the workload: see
:mod:`crashkit.engine.recording`); each nested point recovers its recorded state. The
deepest nested point is still run the literal way, a restart child killed there, which
checks that a second restart does what the recording did (a program whose recovery
differs from run to run is a ``deterministic`` finding, as before). So is every nested
point whose state mentions the recording world's own path (an absolute path the program
wrote down would not mean the same in another folder), and every one when the recording
failed (it could not copy a state, or ran out of time: the first restart is then run
again without it) or the sweep asked for ``--kill-each-point``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from crashkit.faults.base import FaultKind, Nested, Recovered, Recovery, Struck
from crashkit.model.operation import Operation, end_operation
from crashkit.model.outcome import Finding
from crashkit.model.process import STATES, ChildRun, output_until, read_states_index
from crashkit.model.sampling import sample_points
from crashkit.model.worlds import mentions

__all__ = ["NESTED_BUDGET", "RecoveryCrash"]

#: How many nested points of the first restart are crashed per point (sampled beyond it).
NESTED_BUDGET = 6


class RecoveryCrash(FaultKind):
    name = "recovery-crash"
    summary = "a kill, then the first restart killed at each of its own operations"
    injection = "killed right before it, then killed again inside recovery"
    after_last = True
    boundaries_only = True

    def recover(self, recovery: Recovery, struck: Struck) -> Recovered:
        """Crash the first restart at each of its operations (a budgeted sample), recover."""
        dry = recovery.copy(struck.world, "restart-dry")
        first = recovery.restart(dry, dry.parent / "run", record=True)
        states = _States(dry, first)
        try:
            if first.exit.timed_out or states.error:  # not the program's doing: once more
                states.discard()
                dry = recovery.copy(struck.world, "restart-again")
                first = recovery.restart(dry, dry.parent / "run")
            findings: list[Finding] = []
            if recovery.round_exit(first, 1, findings) != "ok":
                return Recovered(findings, [])
            # The restart's own kill points: not inside an SQLite transaction (see
            # FaultKind.boundaries_only), and after its last operation.
            offered = [op.index for op in first.trace if not op.detail.get("inside")]
            chosen = sample_points([*offered, len(first.trace) + 1], NESTED_BUDGET, struck.point)
            # The deepest operation among them runs the literal way (see the module's doc).
            operations = [r for r in chosen if r <= len(first.trace)]
            literal = max(operations or chosen)
            nested = [
                _nested(recovery, struck, r, first.trace, None if r == literal else states)
                for r in chosen
            ]
        finally:
            states.discard()  # the states no point took
        aggregate = [
            replace(f, message=f"p{struck.point:02d}/r{n.nested:02d}: {f.message}")
            for n in nested
            for f in n.findings
        ]
        failing = next((n for n in nested if n.findings), None)
        rounds = failing.rounds if failing else nested[0].rounds if nested else []
        failed_world = f"r{failing.nested:03d}/world" if failing else "world"
        return Recovered(aggregate, rounds, None, failed_world, nested)


class _States:
    """The crash states the first restart recorded, and how much output it had written
    by each (none when it did not record: ``--kill-each-point``)."""

    def __init__(self, world: Path, run: ChildRun) -> None:
        self.run = run
        self.folder = run.output_file.parent / STATES
        #: Point -> output written by its state; why the recorder stopped, if it did.
        self.outputs, self.error = read_states_index(run.output_file.parent)
        self.needles = {os.fsencode(p) for p in (str(world), os.path.realpath(world))}

    def take(self, nested: int, into: Path) -> str | None:
        """Move the state before operation ``nested`` to ``into``; the output until then.
        None when there is none to take, or it names the recording world's path."""
        state = self.folder / f"p{nested:03d}"
        if nested not in self.outputs or not state.is_dir() or mentions(state, self.needles):
            return None
        into.parent.mkdir(parents=True, exist_ok=True)
        state.rename(into)
        return output_until(self.run, self.outputs[nested])

    def discard(self) -> None:
        """Remove every state not taken; none can be taken afterwards."""
        self.outputs = {}
        shutil.rmtree(self.folder, ignore_errors=True)


def _nested(
    recovery: Recovery,
    struck: Struck,
    nested: int,
    restart_trace: list[Operation],
    states: _States | None,
) -> Nested:
    target = struck.world.parent / f"r{nested:03d}" / "world"
    output = states.take(nested, target) if states is not None else None
    if output is None:  # the literal way: a restart child killed at the nested point
        copy = recovery.copy(struck.world, f"r{nested:03d}")
        crashed = recovery.restart(copy, copy.parent / "crash", crash_at=nested)
        expected = (
            restart_trace[nested - 1] if nested <= len(restart_trace) else end_operation(nested)
        )
        findings = recovery.confirm(crashed, nested, expected, crashes=True)
        if findings:
            return Nested(nested, findings, [], crashed.output)
        output = crashed.output
    findings, rounds = recovery.recover(target)
    return Nested(nested, findings, rounds, output)
