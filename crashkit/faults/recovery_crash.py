"""``recovery-crash``: a kill before operation k, then the first restart is killed too, at
each of its own durable operations (a seeded sample of :data:`NESTED_BUDGET` when there
are more): nested points ``p07/r03``, each recovered and checked on its own."""

from __future__ import annotations

from dataclasses import replace

from crashkit.faults.base import FaultKind, Nested, Recovered, Recovery, Struck
from crashkit.model.operation import Operation, end_operation
from crashkit.model.outcome import Finding, Round
from crashkit.model.sampling import sample_points

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
        first = recovery.restart(dry, dry.parent / "run")
        findings: list[Finding] = []
        if recovery.round_exit(first, 1, findings) != "ok":
            return Recovered(findings, [])
        # The restart's own kill points: not inside an SQLite transaction (see
        # FaultKind.boundaries_only), and after its last operation.
        offered = [op.index for op in first.trace if not op.detail.get("inside")]
        chosen = sample_points([*offered, len(first.trace) + 1], NESTED_BUDGET, struck.point)
        nested = [_nested(recovery, struck, r, first.trace) for r in chosen]
        aggregate = [
            replace(f, message=f"p{struck.point:02d}/r{n.nested:02d}: {f.message}")
            for n in nested
            for f in n.findings
        ]
        failing = next((n for n in nested if n.findings), None)
        rounds = failing.rounds if failing else nested[0].rounds if nested else []
        failed_world = f"r{failing.nested:03d}/world" if failing else "world"
        return Recovered(aggregate, rounds, None, failed_world, nested)


def _nested(
    recovery: Recovery, struck: Struck, nested: int, restart_trace: list[Operation]
) -> Nested:
    copy = recovery.copy(struck.world, f"r{nested:03d}")
    crashed = recovery.restart(copy, copy.parent / "crash", crash_at=nested)
    expected = restart_trace[nested - 1] if nested <= len(restart_trace) else end_operation(nested)
    findings = recovery.confirm(crashed, nested, expected, crashes=True)
    rounds: list[Round] = []
    if not findings:
        findings, rounds = recovery.recover(copy)
    return Nested(nested, findings, rounds, crashed.output)
