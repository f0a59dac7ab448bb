"""The explorer: one scenario variant, set up once, dry-run, then crashed at any point.

1. setup runs once in a child without the probe; its world is the snapshot;
2. the golden run: the workload in a child with the probe recording gives the trace
   of N durable operations; restart rounds to a fixpoint give the golden state;
3. each point k = 1..N+1 (N+1: after the last operation): a fresh copy of the
   snapshot, the fault struck right before operation k (its child half), a check that
   the child got there doing what the dry run did, then the fault's parent half:
   restart rounds to a fixpoint and the invariants, once or per crash state.

Point 0 is the golden run itself, checked with the same invariants. The explorer
offers the fault kinds their :class:`~crashkit.faults.Recovery`, and the recorded
kill points (:mod:`crashkit.engine.recording`) the same public methods.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from crashkit.engine import recovery
from crashkit.engine.artifacts import ArtifactStore
from crashkit.engine.recording import Recordings
from crashkit.engine.result import Golden, PointResult
from crashkit.errors import ScenarioError, UsageError
from crashkit.faults import FAULTS, KILL, FaultKind, Recovered, Struck, fault_kind
from crashkit.launch import Launcher
from crashkit.model import observation
from crashkit.model.operation import Operation, end_operation
from crashkit.model.outcome import Finding, Round
from crashkit.model.process import (
    AUDIT,
    EXIT_BROKEN,
    EXIT_RAISED,
    OUTSIDE,
    WARNING_PREFIX,
    ChildJob,
    ChildRun,
    read_lines,
    read_run,
)
from crashkit.model.worlds import copy_world
from crashkit.output.report import point_ranges
from crashkit.scenario.invariants import Check, crash_equivalence, run_invariants
from crashkit.scenario.journal import Uncovered
from crashkit.scenario.scenario import Scenario, World

__all__ = ["Explorer"]


@dataclass
class Explorer:
    """Explores one scenario variant: setup, golden run, then any crash point on demand.

    Args:
        work_dir: a private folder for the snapshot and per-point worlds (removed by
            :meth:`close`).
        keep_worlds: keep each point's world after it ran (for inspection).
        timeout: seconds a child may run (None: the scenario's).
        max_rounds: restart rounds allowed to reach a fixpoint (None: the scenario's).
    """

    scenario: Scenario
    variant: str
    launcher: Launcher
    work_dir: Path
    project_root: str = "."
    keep_worlds: bool = False
    #: Where the worlds of failing points are kept (None: nowhere).
    artifacts: ArtifactStore | None = None
    #: Kill points get their crash states from one recording run (see
    #: :mod:`crashkit.engine.recording`); False: a workload child killed at each point.
    record_kills: bool = True
    timeout: float | None = None
    max_rounds: int | None = None
    golden: Golden | None = field(default=None, init=False)
    _broken: ScenarioError | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.variant not in self.scenario.variants:
            raise ScenarioError(
                self.scenario.name,
                f"has no variant {self.variant!r}",
                f"choose among {sorted(self.scenario.variants)}",
            )
        self.env = dict(self.scenario.variants[self.variant])
        self.snapshot = self.work_dir / "snapshot" / "world"
        #: Where every command phase of this variant sees its world (a mount point).
        self.stable_world = self.work_dir / "stable"
        self.recordings = Recordings(self)

    @property
    def child_timeout(self) -> float:
        """Seconds any one child may run (the scenario's, unless the sweep says)."""
        return self.timeout or self.scenario.timeout

    def close(self) -> None:
        """Remove the work folder (the snapshot and any kept worlds)."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- children ----------------------------------------------------------------

    def run_child(
        self, world: Path, run_dir: Path, phase: str, timeout: float | None = None, **job: Any
    ) -> ChildRun:
        """Run ``phase`` in a child in ``world``; what it left in ``run_dir``."""
        run_dir.mkdir(parents=True, exist_ok=True)
        reference = self.scenario.source or self.scenario
        child = ChildJob(
            reference,
            phase,
            str(world),
            str(run_dir),
            self.variant,
            self.env,
            project_root=self.project_root,
            stable_world=str(self.stable_world) if self.scenario.commands else None,
            **job,
        )
        return read_run(run_dir, self.launcher.run(child, timeout or self.child_timeout))

    def fresh_world(self, name: str) -> Path:
        """A fresh copy of the snapshot under ``work_dir/name/world``."""
        world = self.work_dir / name / "world"
        if world.parent.exists():
            shutil.rmtree(world.parent)
        world.parent.mkdir(parents=True)
        copy_world(self.snapshot, world)
        return world

    # -- setup and golden run -----------------------------------------------------

    def prepare(self) -> Golden:
        """Run setup and the golden run (once); raise ScenarioError if either is broken
        (again on every later call: a broken variant stays broken)."""
        if self.golden is not None:
            return self.golden
        if self._broken is not None:
            raise self._broken
        try:
            return self._prepare()
        except ScenarioError as error:
            self._broken = error
            raise

    def _prepare(self) -> Golden:
        started = time.monotonic()
        self.snapshot.mkdir(parents=True)
        self.stable_world.mkdir()
        setup_dir = self.work_dir / "snapshot" / "run"
        setup = self.run_child(self.snapshot, setup_dir, "setup", probe=None)
        self._require_ok(setup, "setup")
        world = self.fresh_world("golden")
        audit = self.scenario.journal is not None
        run = self.run_child(world, world.parent / "run", "workload", audit=audit)
        self._require_ok(run, "workload (without any crash)")
        uncovered = [Uncovered.from_json(r) for r in read_lines(world.parent / "run" / AUDIT)]
        strayed = self._second_dry_run(run)
        rounds, findings, state = self.restart_rounds(world)
        findings = strayed + _escaped(world.parent) + findings
        if not findings:
            # Invariants asking for pytest fixtures run when point 0 does, with their values.
            plain, _ = self.scenario.split_invariants()
            findings = run_invariants(plain, self._check(world, state, rounds))
        duration = time.monotonic() - started
        warnings = probe_warnings(run.output)
        self.golden = Golden(
            run.trace, state, rounds, findings, duration, run.output, uncovered, warnings
        )
        if not self.keep_worlds and not self.scenario.fixture_names():
            shutil.rmtree(world.parent)
        return self.golden

    def _second_dry_run(self, first: ChildRun) -> list[Finding]:
        """A second uncrashed run of the workload must do what the first did: a program
        that shuffles its operations is caught here, not only when a point happens to
        meet the shuffle."""
        world = self.fresh_world("golden-again")
        again = self.run_child(world, world.parent / "run", "workload")
        if not self.keep_worlds:
            shutil.rmtree(world.parent, ignore_errors=True)
        mine, theirs = first.trace, again.trace
        for index, op in enumerate(mine, 1):
            other = theirs[index - 1] if index <= len(theirs) else None
            if other is None or other.signature != op.signature:
                how = (
                    "did it there"
                    if other
                    else f"raised there:\n{again.error}"
                    if again.exit.status == EXIT_RAISED
                    else f"ended after {len(theirs)} operations"
                )
                return [recovery.nondeterministic(index, op, other, f"{how} (a second dry run)")]
        if len(theirs) > len(mine):
            extra = theirs[len(mine)]
            return [
                recovery.nondeterministic(
                    extra.index,
                    end_operation(extra.index),
                    extra,
                    "did more than the first dry run",
                )
            ]
        return []

    def _require_ok(self, run: ChildRun, what: str) -> None:
        if run.exited_early:
            raise ScenarioError(
                f"{self.scenario.name}[{self.variant}]",
                f"{what} ended the process (exit status 0) before returning, as os._exit() "
                "does: crashkit cannot see the operations it would have done after that",
                "let the phase return; run a program that exits by itself as a subprocess",
            )
        if run.exit.status == 0:
            return
        if run.exit.timed_out:
            problem = f"{what} did not finish within {self.child_timeout}s"
            fix = "make it finish, or raise the scenario's timeout"
        elif run.exit.status in (EXIT_RAISED, EXIT_BROKEN):
            problem = f"{what} raised:\n{run.error}"
            fix = "the scenario must run cleanly without crashes before it can be crashed"
        else:
            problem = f"{what} ended with exit status {run.exit.status}\n{run.output}"
            fix = "check the program's output above"
        raise ScenarioError(f"{self.scenario.name}[{self.variant}]", problem, fix)

    @property
    def points(self) -> int:
        """How many kill points there are: N operations plus the one after the last."""
        return len(self.prepare().trace) + 1

    def points_for(self, fault: str) -> list[int]:
        """The crash points ``fault`` offers on this variant's trace."""
        return fault_kind(fault).points(self.prepare().trace)

    def operation(self, point: int) -> Operation:
        trace = self.prepare().trace
        if not 0 <= point <= len(trace) + 1:
            raise ScenarioError(
                self.scenario.name,
                f"has no point {point}",
                f"points run from 0 (no crash) to {len(trace) + 1} (after the last operation)",
            )
        if point == 0:
            return Operation(0, "none", "no crash (golden run)", "-")
        return trace[point - 1] if point <= len(trace) else end_operation(point)

    # -- observing, restarting, checking ------------------------------------------

    def observe(self, world: Path) -> observation.Observation:
        """The world's observed state, here in the parent, or why it cannot be had."""
        return observation.observe(self.scenario.observe, self._world_view(world))

    def _world_view(self, world: Path) -> World:
        return World(world, self.variant, self.env)

    def restart_rounds(self, world: Path) -> tuple[list[Round], list[Finding], Mapping[str, Any]]:
        """Fresh restarts until one is quiet; findings if that never happens. Returns the
        rounds, the findings and the state the world settled in.

        A round is quiet when it changed nothing: no file mutation or mutating request
        (SQLite commits show in the observed state instead) and the same observed state
        after it as before. The world is observed once before recovery and once after
        each round that ended normally; the last of these is the settled state."""
        findings: list[Finding] = []
        rounds: list[Round] = []
        # A crashed world may be unreadable until recovery repairs it: not a finding yet.
        before = self.observe(world)
        limit = (self.max_rounds or self.scenario.max_rounds) + 1
        for number in range(1, limit + 1):
            run = self.restart(world, world.parent / f"round{number}")
            exit = self.round_exit(run, number, findings)
            after = self.observe(world) if exit == "ok" else before
            if exit == "ok" and after.problem is not None:
                findings.append(Finding("observe", after.problem))
                exit = "unobservable"  # recovery left a state that cannot be read
            mutations = tuple(
                op.describe()
                for op in run.trace
                if op.mutates_world and not self.scenario.is_bookkeeping(op.target)
            )
            changed = after.state != before.state
            rounds.append(
                Round(number, exit, len(run.trace), mutations, changed, run.exit.duration)
            )
            if exit != "ok" or rounds[-1].quiet:
                return rounds, findings, after.state or {}
            before = after
        findings.append(recovery.endless(rounds[-1], limit))
        return rounds, findings, before.state or {}

    def _check(
        self,
        world: Path,
        state: Mapping[str, Any],
        rounds: list[Round],
        golden: Mapping[str, Any] | None = None,
    ) -> Check:
        rounds_seen = [r.to_json() for r in rounds]
        return Check(self._world_view(world), state, golden, rounds_seen, _FIXTURES.get())

    # -- what the fault kinds are offered (crashkit.faults.Recovery) ---------------

    def recover(self, world: Path) -> tuple[list[Finding], list[Round]]:
        """Restart rounds to a fixpoint, then crash equivalence and the invariants."""
        golden = self.prepare()
        rounds, findings, state = self.restart_rounds(world)
        if findings:
            return findings, rounds
        equivalence = crash_equivalence(self.scenario.crash_equivalence, golden.state, state)
        findings += [equivalence] if equivalence is not None else []
        ctx = self._check(world, state, rounds, golden.state)
        findings.extend(run_invariants(self.scenario.invariants, ctx))
        return findings, rounds

    def copy(self, world: Path, name: str) -> Path:
        target = world.parent / name / "world"
        copy_world(world, target)
        return target

    def restart(
        self, world: Path, run_dir: Path, crash_at: int | None = None, record: bool = False
    ) -> ChildRun:
        record = record and self.record_kills  # --kill-each-point: every point literally
        # Recording copies the world before each operation: time the restart alone has not
        # (one that runs out of it is run again without recording: see recovery_crash).
        timeout = 2 * self.child_timeout + 5 if record else None
        return self.run_child(
            world, run_dir, "restart", timeout, crash_at=crash_at, record_every=record
        )

    def round_exit(self, run: ChildRun, number: int, findings: list[Finding]) -> str:
        return recovery.round_exit(run, number, findings, self.child_timeout)

    def confirm(
        self, run: ChildRun, point: int, expected: Operation, crashes: bool
    ) -> list[Finding]:
        return recovery.confirm(run, point, expected, crashes, self.child_timeout)

    # -- one point -----------------------------------------------------------------

    def run_point(
        self, point: int, fault: str = KILL, fixtures: Mapping[str, Any] | None = None
    ) -> PointResult:
        """Crash at ``point`` (0: no crash) with ``fault``, recover, check the invariants.

        Args:
            fixtures: values of the pytest fixtures the scenario's invariants ask for.
        """
        why = self.scenario.needs_pytest()
        if why is not None and not set(self.scenario.fixture_names()) <= set(fixtures or {}):
            problem, fix = why
            raise UsageError(f"scenario {self.scenario.name!r}: {problem}; {fix}")
        token = _FIXTURES.set(dict(fixtures or {}))
        try:
            return self._run_point(point, fault_kind(fault))
        finally:
            _FIXTURES.reset(token)

    def _run_point(self, point: int, kind: FaultKind) -> PointResult:
        golden = self.prepare()
        op = self.operation(point)
        offered = kind.points(golden.trace)
        if point and point not in offered:
            raise ScenarioError(
                self.scenario.name,
                f"point {point} ({op.kind} {op.target}) is not a point of the {kind.name} fault",
                f"{kind.name} offers {point_ranges(offered) or 'no point on this trace'}",
            )
        if point == 0:
            return self._golden_point(kind, golden)
        if kind.recordable and self.record_kills:
            return self.recordings.run_point(point, op)
        started = time.monotonic()
        world = self.fresh_world(f"{kind.name}-p{point:03d}")
        try:
            result = self.struck(world, point, op, kind)
            result.duration = time.monotonic() - started
        finally:
            if not self.keep_worlds:
                shutil.rmtree(world.parent, ignore_errors=True)
        return result

    def _golden_point(self, kind: FaultKind, golden: Golden) -> PointResult:
        findings = list(golden.findings)
        _, asking = self.scenario.split_invariants()
        if asking and not findings:
            world = self.work_dir / "golden" / "world"
            findings = run_invariants(asking, self._check(world, golden.state, golden.rounds))
        result = self.result(kind, 0, self.operation(0), findings, golden.rounds, golden.output)
        result.injection = ""
        result.duration = golden.duration
        return result

    def plan_kills(self, points: Iterable[int]) -> None:
        """Record only the crash states of these kill points (default: every point)."""
        self.recordings.plan(set(points))

    def kill_literally(self, world: Path, point: int, op: Operation) -> PointResult:
        """Point ``point`` the literal way: ``world`` becomes a fresh copy of the snapshot,
        and a workload child there is killed right before the operation."""
        if world.exists():
            shutil.rmtree(world)
        copy_world(self.snapshot, world)
        return self.struck(world, point, op, FAULTS[KILL])

    def struck(self, world: Path, point: int, op: Operation, kind: FaultKind) -> PointResult:
        """The fault struck at the point in ``world``, recovered, checked; the world kept as
        an artifact when it failed."""
        run = self.run_child(
            world, world.parent / "crash", "workload", crash_at=point, fault=kind.name
        )
        findings = self.confirm(run, point, op, kind.crashes)
        if findings:
            result = self.result(kind, point, op, findings, [], run.output)
        else:
            recovered = kind.recover(self, Struck(world, point, op, run))
            result = self._from_recovered(kind, point, op, run.output, recovered)
        return self.keep_artifacts(result, world)

    def _from_recovered(
        self, kind: FaultKind, point: int, op: Operation, output: str, recovered: Recovered
    ) -> PointResult:
        result = self.result(kind, point, op, recovered.findings, recovered.rounds, output)
        result.injection = recovered.injection or result.injection
        result.failed_world = recovered.failed_world
        result.children = [
            self.result(kind, point, op, n.findings, n.rounds, n.output, nested=n.nested)
            for n in recovered.nested
        ]
        return result

    def keep_artifacts(self, result: PointResult, world: Path) -> PointResult:
        """Keep a failing point's run folder (``world``'s parent) as an artifact."""
        if result.findings and self.artifacts is not None:
            golden = self.prepare()
            result.artifacts = self.artifacts.keep(
                result.to_json(), world.parent, result.failed_world, golden.state
            )
            for child in result.children:  # nested crashes: their worlds are in there too
                child.artifacts = result.artifacts
        return result

    def result(
        self,
        kind: FaultKind,
        point: int,
        op: Operation,
        findings: list[Finding],
        rounds: list[Round],
        output: str = "",
        nested: int | None = None,
    ) -> PointResult:
        """A point's result, with the line saying what ``kind`` did there."""
        return PointResult(
            self.scenario,
            self.variant,
            kind.name,
            point,
            self.points,
            op,
            findings,
            rounds,
            0.0,
            output,
            nested=nested,
            injection=kind.describe(op),
        )


def probe_warnings(output: str) -> list[str]:
    """The probe's warnings a child wrote on its output, once each, in order."""
    lines = (line.strip() for line in output.splitlines())
    found = (line.removeprefix(WARNING_PREFIX) for line in lines if line.startswith(WARNING_PREFIX))
    return list(dict.fromkeys(found))


def _escaped(folder: Path) -> list[Finding]:
    """A finding if the golden run's workload or restarts changed files outside the world:
    every point would then see them changed by the points before it."""
    ops = [
        Operation.from_json(r)
        for run_dir in sorted(folder.iterdir())
        for r in read_lines(run_dir / OUTSIDE)
    ]
    if not ops:
        return []
    seen = list(dict.fromkeys(f"{op.kind} {op.target} in {op.where}" for op in ops))
    shown = "\n  ".join(seen[:8]) + (f"\n  ... and {len(seen) - 8} more" if len(seen) > 8 else "")
    return [
        Finding(
            "isolated",
            f"the program changed files outside its world, which every crash point then "
            f"shares (and which no crash resets):\n  {shown}\nKeep all of its state "
            "inside the world (world.path(...)), or point the program there",
        )
    ]


#: The fixture values of the point running in this thread (see :meth:`Explorer.run_point`).
_FIXTURES: ContextVar[Mapping[str, Any]] = ContextVar(
    "crashkit_fixtures", default=MappingProxyType({})
)
