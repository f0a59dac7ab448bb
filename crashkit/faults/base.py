"""What a fault kind is: both its halves, behind one small base class.

The child's half acts in the program's process, right before operation k (or after
the last one): it kills, raises, tears a write, or saves what a power cut may keep.
The parent's half recovers the world the strike left and checks it, through the
engine's :class:`Recovery` (restart rounds, crash equivalence, invariants): most
kinds just recover once; power loss recovers each state the disk model allows, and
recovery-crash crashes the first restart too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from crashkit.faults.disk import PowerLossModel, default_ignore
from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding, Round
from crashkit.model.process import ChildRun
from crashkit.probes import python as _probe

__all__ = ["ChildFault", "FaultKind", "Nested", "Recovered", "Recovery", "Struck"]


@dataclass(frozen=True)
class Struck:
    """The workload struck at a point: the world it left, and how its child ended."""

    world: Path
    point: int
    op: Operation
    run: ChildRun

    @property
    def run_dir(self) -> Path:
        return self.run.output_file.parent


@dataclass
class Nested:
    """One nested point of a recovery crash: the first restart crashed at ``nested``."""

    nested: int
    findings: list[Finding]
    rounds: list[Round]
    output: str


@dataclass
class Recovered:
    """What the parent's half found after recovering from a strike."""

    findings: list[Finding]
    rounds: list[Round]
    #: What the fault did, when it says more than :meth:`FaultKind.describe`.
    injection: str | None = None
    #: The world that failed, relative to the point's run folder (kept as an artifact).
    failed_world: str = "world"
    #: The nested points (recovery-crash), each recovered on its own.
    nested: list[Nested] = field(default_factory=list)


class Recovery(Protocol):
    """What the engine offers a fault's parent half (:class:`crashkit.engine.Explorer`)."""

    def recover(self, world: Path) -> tuple[list[Finding], list[Round]]:
        """Restart rounds to a fixpoint in ``world``, crash equivalence, invariants."""
        ...

    def copy(self, world: Path, name: str) -> Path:
        """A copy of ``world`` in a sibling run folder called ``name``."""
        ...

    def restart(
        self, world: Path, run_dir: Path, crash_at: int | None = None, record: bool = False
    ) -> ChildRun:
        """One restart child in ``world`` (killed before operation ``crash_at``; with
        ``record``, recording the crash state before each operation into ``run_dir``)."""
        ...

    def round_exit(self, run: ChildRun, number: int, findings: list[Finding]) -> str:
        """How restart round ``number`` ended (``ok``...), adding its findings."""
        ...

    def confirm(
        self, run: ChildRun, point: int, expected: Operation, crashes: bool
    ) -> list[Finding]:
        """Findings if the child did not reach ``point`` doing what the dry run did."""
        ...


class FaultKind:
    """A fault kind. Subclasses set the class attributes and override what differs."""

    #: The name it is chosen by (``--fault NAME``), in results and point IDs.
    name: ClassVar[str]
    #: One line for help texts and the report.
    summary: ClassVar[str]
    #: What it did at a point, in a line (see :meth:`describe`).
    injection: ClassVar[str] = ""
    #: Whether the child dies at the point, or keeps running after the failure.
    crashes: ClassVar[bool] = True
    #: Whether point N+1 (after the last operation) exists for this kind.
    after_last: ClassVar[bool] = False
    #: The operation kinds it applies to (None: see :meth:`applies`).
    kinds: ClassVar[frozenset[str] | None] = None
    #: Whether its crash states can be recorded in one run of the workload (a kill's).
    recordable: ClassVar[bool] = False
    #: Whether the probe must capture written bytes for it.
    wants_data: ClassVar[bool] = False
    #: Whether it strikes only at SQLite transaction boundaries, not inside a transaction
    #: (the syscall probe marks the operations inside one: a kill there leaves what a kill
    #: at the transaction's start leaves).
    boundaries_only: ClassVar[bool] = False

    def points(self, trace: Sequence[Operation]) -> list[int]:
        """The crash points this kind offers on ``trace`` (1-based operation indices)."""
        chosen = [op.index for op in trace if self.applies(op)]
        return [*chosen, len(trace) + 1] if self.after_last else chosen

    def applies(self, op: Operation) -> bool:
        if self.boundaries_only and op.detail.get("inside"):
            return False
        if self.kinds is not None:
            return op.kind in self.kinds
        return self.crashes or op.kind != "mark"

    def describe(self, op: Operation) -> str:
        """One line saying what the fault did at ``op``."""
        return self.injection

    # -- the child's half -------------------------------------------------------------

    def strike(self, op: Operation, payload: _probe.Payload | None, child: ChildFault) -> None:
        """Right before operation ``op``, in the program's process."""
        _probe.kill_self()

    def strike_at_end(self, child: ChildFault) -> None:
        """After the last operation (point N+1, for kinds with :attr:`after_last`)."""
        _probe.kill_self()

    def models_disk(self) -> bool:
        """Whether the child must follow every file operation in the power-loss model."""
        return False

    # -- the parent's half ------------------------------------------------------------

    def recover(self, recovery: Recovery, struck: Struck) -> Recovered:
        """Recover the world the strike left and check it."""
        findings, rounds = recovery.recover(struck.world)
        return Recovered(findings, rounds)


class ChildFault:
    """The child's driver of a fault: strikes at the crash point, and before it feeds the
    power-loss model every file operation (for kinds that model the disk)."""

    def __init__(
        self,
        kind: FaultKind,
        crash_at: int | None,
        run_dir: Path,
        world: Path,
        *,
        black_box: bool = False,
    ) -> None:
        self.kind = kind
        self.crash_at = crash_at
        self.run_dir = run_dir
        # The Python probe sees SQLite's statements, not its files: the model takes its
        # databases as durable at commit. The syscall probe sees every page write and
        # fsync SQLite makes, so the model follows those (and so the program's settings).
        ignore = _nothing if black_box else default_ignore
        model = crash_at and kind.models_disk()
        self.model = PowerLossModel(world, ignore=ignore) if model else None
        #: Whether the probe must capture written bytes.
        self.want_data = crash_at is not None and kind.wants_data

    def before(self, op: Operation, payload: _probe.Payload | None) -> None:
        """Called before every operation."""
        if op.index == self.crash_at:
            self.kind.strike(op, payload, self)
        elif self.model is not None:
            _feed(self.model, op, payload)

    def at_end(self, count: int) -> None:
        """The workload finished: strike now if the point is the one after the last operation."""
        if self.crash_at == count + 1:
            self.kind.strike_at_end(self)


def _feed(model: PowerLossModel, op: Operation, payload: _probe.Payload | None) -> None:
    """Tell the model what a file operation is about to do (others do not concern it)."""
    # A path outside the world (a rename across its edge) raises ValueError: not modelled.
    with contextlib.suppress(ValueError):
        _FEEDERS.get(op.kind, _ignore)(model, op, payload)


def _ignore(model: PowerLossModel, op: Operation, payload: Any) -> None:
    """Operations the model does not need (SQLite statements, HTTP, markers)."""


def _nothing(path: str) -> bool:
    return False


def _write(model: PowerLossModel, op: Operation, payload: _probe.Payload | None) -> None:
    if payload is not None and payload.data is not None:
        model.write(op.target, payload.offset, payload.data)
        if op.detail.get("synced"):
            model.fsync(op.target)  # on an O_SYNC descriptor (or RWF_SYNC): durable at return


def _rename(model: PowerLossModel, op: Operation, payload: Any) -> None:
    source, _, dest = op.target.partition(" -> ")
    model.rename(source, dest)


_FEEDERS: dict[str, Any] = {
    "fs.create": lambda m, op, p: m.create(op.target),
    "fs.trunc": lambda m, op, p: m.truncate(op.target, 0),
    "fs.write": _write,
    "fs.truncate": lambda m, op, p: m.truncate(op.target, int(op.detail.get("size") or 0)),
    "fs.rename": _rename,
    "fs.unlink": lambda m, op, p: m.unlink(op.target),
    "fs.mkdir": lambda m, op, p: m.mkdir(op.target),
    "fs.rmdir": lambda m, op, p: m.rmdir(op.target),
    "fs.fsync": lambda m, op, p: m.fsync(op.target),
    "fs.fdatasync": lambda m, op, p: m.fsync(op.target),
    "fs.syncfs": lambda m, op, p: m.sync_all(),
}
