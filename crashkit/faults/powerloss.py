"""``powerloss``: the process is killed before operation k, and the disk then loses what
the power-loss model (:mod:`crashkit.faults.disk`) says was not durable.

The child follows every file operation before k in the model; at k it saves the
harshest state and a bounded, seeded sample of in-between ones; the parent recovers
each of them, and a finding names the state it came from.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

from crashkit.errors import ChildError
from crashkit.faults.base import ChildFault, FaultKind, Recovered, Recovery, Struck
from crashkit.faults.disk import PowerCut
from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding, Round
from crashkit.model.process import POWER_CUTS
from crashkit.probes import python as _probe

__all__ = ["POWER_CUT_STATES", "PowerLoss", "read_power_cuts"]

#: How many power-cut states are tried per point (the harshest first).
POWER_CUT_STATES = 4


class PowerLoss(FaultKind):
    name = "powerloss"
    summary = "a power cut before each operation: unsynced data and folder entries lost"
    injection = "power cut right before it: unsynced data and folder entries lost"
    after_last = True
    wants_data = True

    def models_disk(self) -> bool:
        return True

    def strike(self, op: Operation, payload: _probe.Payload | None, child: ChildFault) -> None:
        self.strike_at_end(child)

    def strike_at_end(self, child: ChildFault) -> None:
        assert child.model is not None
        states = child.model.states(limit=POWER_CUT_STATES, seed=child.crash_at or 0)
        with _probe._Real.open(child.run_dir / POWER_CUTS, "wb") as out:
            pickle.dump(states, out)
        _probe.kill_self()

    def recover(self, recovery: Recovery, struck: Struck) -> Recovered:
        """Recover from each power-cut state the model allows; findings name their state."""
        states = read_power_cuts(struck.run_dir)
        if not states:
            raise ChildError(
                f"the child crashed at point {struck.point} without saving its power-cut "
                f"states ({POWER_CUTS}); nothing was checked"
            )
        findings: list[Finding] = []
        rounds: list[Round] = []
        failed_world = "world"
        for number, state in enumerate(states, 1):
            copy = recovery.copy(struck.world, f"state{number}")
            state.apply(copy)
            found, state_rounds = recovery.recover(copy)
            label = f"power cut state {number}/{len(states)} ({state.description})"
            if number == 1 or (found and not findings):
                rounds = state_rounds  # the first failing state's, else the harshest's
            if found and not findings:
                failed_world = f"state{number}/world"
            findings += [replace(f, message=f"{label}: {f.message}") for f in found]
        injection = f"{self.describe(struck.op)}; {len(states)} state(s) tried"
        return Recovered(findings, rounds, injection, failed_world)


def read_power_cuts(run_dir: Path) -> list[PowerCut]:
    """The power-cut states a child computed at its crash point."""
    path = run_dir / POWER_CUTS
    if not path.exists():
        return []
    with path.open("rb") as file:
        states: list[PowerCut] = pickle.load(file)
    return states
