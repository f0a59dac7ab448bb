"""Judging children: did a crashed child die where the dry run says, and how did a
restart round end. Plain functions of a finished :class:`~crashkit.model.process.ChildRun`,
shared by the explorer and the recorded kill points."""

from __future__ import annotations

from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding, Round
from crashkit.model.process import EXIT_RAISED, ChildRun

__all__ = ["confirm", "ended_before", "endless", "nondeterministic", "round_exit"]


def confirm(
    run: ChildRun, point: int, expected: Operation, crashes: bool, timeout: float
) -> list[Finding]:
    """The child reached the point doing what the dry run did, and ended as the fault says:
    killed there (``crashes``), or still running afterwards (error, lost response)."""
    if run.exit.timed_out:
        return [
            Finding(
                "no-hang",
                f"the workload did not finish within {timeout}s after point {point}; its "
                "process group was killed",
            )
        ]
    reached = next((op for op in run.trace if op.index == point), None)
    last = run.trace[-1] if run.trace else None
    if crashes:
        ok = last is not None and last.index == point and died_at_its_point(run)
        seen = last
    else:
        ok = reached is not None and run.exit.status in (0, EXIT_RAISED)
        seen = reached or last
    if ok and seen is not None and seen.signature == expected.signature:
        return []
    there = seen is not None and seen.index == point and (ok or died_at_its_point(run))
    ending = "did it there" if there else ended_before(run)
    return [nondeterministic(point, expected, seen, ending)]


def ended_before(run: ChildRun) -> str:
    """How a child that never reached its point ended, for a nondeterminism finding."""
    if run.exit.status == EXIT_RAISED:
        return "raised before reaching it:\n" + run.error
    return f"ended with status {run.exit.status}\n{run.error or run.output}"


def nondeterministic(
    point: int, expected: Operation, seen: Operation | None, ending: str
) -> Finding:
    actual = seen.describe() if seen is not None else "no operation at all"
    return Finding(
        "deterministic",
        f"the program is nondeterministic: the dry run's operation {point} was\n"
        f"  {expected.describe()}\nbut this run's operation there was\n  {actual}\n"
        f"and the program {ending}",
    )


def died_at_its_point(run: ChildRun) -> bool:
    """Whether a child told to crash died by its own SIGKILL (it writes the operation's
    record, then kills itself at once)."""
    return run.exit.killed


def round_exit(run: ChildRun, number: int, findings: list[Finding], timeout: float) -> str:
    """How restart round ``number`` ended: ``ok``, or ``hang``, ``raised`` or ``died`` with
    the finding that says so added to ``findings``."""
    if run.exited_early:
        findings.append(
            Finding(
                "recovery-dies",
                f"restart round {number} ended the process (exit status 0) before its "
                "phase returned, as os._exit() does",
            )
        )
        return "died"
    if run.exit.status == 0:
        return "ok"
    if run.exit.timed_out:
        findings.append(
            Finding(
                "no-hang",
                f"restart round {number} did not finish within {timeout}s; its process "
                "group was killed",
            )
        )
        return "hang"
    if run.exit.status == EXIT_RAISED:
        findings.append(Finding("recovery-raises", f"restart round {number} raised:\n" + run.error))
        return "raised"
    findings.append(
        Finding(
            "recovery-dies",
            f"restart round {number} ended with exit "
            f"status {run.exit.status}\n{run.error or run.output}",
        )
    )
    return "died"


def endless(last: Round, limit: int) -> Finding:
    """The finding of a recovery that never reached a fixpoint within ``limit`` rounds."""
    did = []
    if last.changed:
        did.append("changed the world state")
    if last.mutations:
        did.append("performed " + "; ".join(last.mutations[:5]))
    return Finding(
        "converges",
        f"no fixpoint after {limit} restart rounds (bound: max_rounds={limit - 1} plus one "
        f"confirming restart): the last round still {' and '.join(did)}. This is an endless "
        "re-merge.",
    )
