"""The runner: set up once, dry-run, then crash, restart and check at every point.

For one scenario variant (an :class:`Explorer`):

1. setup runs once in a child without the probe; its world is the snapshot;
2. the golden run: the workload in a child with the probe recording gives the trace
   of N durable operations; restart rounds to a fixpoint give the golden state;
3. each point k = 1..N+1 (N+1: after the last operation): a fresh copy of the
   snapshot, the workload killed right before operation k, a check that it died
   there doing what the dry run did, restart rounds to a fixpoint, invariants.

Point 0 is the golden run itself, checked with the same invariants.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from crashkit.child import run as _child
from crashkit.engine.artifacts import ArtifactStore
from crashkit.child.run import EXIT_BROKEN, EXIT_RAISED, ChildJob
from crashkit.faults.kinds import FAULTS, NESTED_BUDGET, FaultKind, describe_injection, read_power_cuts
from crashkit.scenario.invariants import Check, Finding, diff_states, run_invariants
from crashkit.scenario.journal import Uncovered
from crashkit.model.operation import Operation, end_operation
from crashkit.engine.recording import Recordings
from crashkit.scenario.scenario import Scenario, World
from crashkit.launch.starters import ChildExit, ChildStarter
from crashkit.errors import ChildError, ScenarioError, UsageError

__all__ = ["Explorer", "Golden", "PointResult", "Round"]


@dataclass(frozen=True)
class Round:
    """One restart round: a fresh process running recovery plus one sync."""

    number: int
    #: ``ok``, ``raised``, ``hang`` or ``died`` (killed by a signal it did not expect).
    exit: str
    operations: int
    #: The world-mutating operations it performed (file writes, remote pushes), described.
    mutations: tuple[str, ...]
    #: Whether the observed state differs from the state before the round.
    changed: bool
    duration: float

    @property
    def quiet(self) -> bool:
        return self.exit == "ok" and not self.changed and not self.mutations

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "exit": self.exit,
            "operations": self.operations,
            "mutations": list(self.mutations),
            "changed": self.changed,
            "duration": round(self.duration, 4),
        }


@dataclass
class _ChildRun:
    exit: ChildExit
    trace: list[Operation]
    output: str
    error: str
    output_file: Path


@dataclass
class PointResult:
    """The outcome of one crash point."""

    scenario: Scenario
    variant: str
    fault: str
    point: int
    points: int
    op: Operation
    findings: list[Finding]
    rounds: list[Round]
    duration: float
    output: str = ""
    #: For recovery-crash: the point of the first restart that was crashed too.
    nested: int | None = None
    #: For recovery-crash: one result per nested point (this result aggregates them).
    children: list[PointResult] = field(default_factory=list)
    #: What the fault did, in a line ("OSError: [Errno 28] ...", "power cut ...").
    injection: str = ""
    #: The world that failed, inside the point's run folder (a power-cut state, a nested
    #: crash); kept as an artifact when the point fails.
    failed_world: str = "world"
    #: Where that world was kept, relative to the report folder (None: not kept).
    artifacts: str | None = None

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def label(self) -> str:
        """``p07`` or, nested, ``p07/r03``."""
        return f"p{self.point:02d}" + (f"/r{self.nested:02d}" if self.nested else "")

    @property
    def expected(self) -> bool:
        """Whether findings are expected here (a variant known to be buggy)."""
        return self.scenario.expects_findings(self.variant)

    @property
    def replay(self) -> str:
        fault = f" --fault {self.fault}" if self.fault != "kill" else ""
        return (
            f"crashkit replay {self.scenario.id} --variant {self.variant}{fault} "
            f"--point {self.point}"
        )

    def records(self) -> list[dict[str, Any]]:
        """Its results lines: one, or one per nested point."""
        return [c.to_json() for c in self.children] if self.children else [self.to_json()]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "point",
            "scenario": self.scenario.name,
            "scenario_id": self.scenario.id,
            "variant": self.variant,
            "fault": self.fault,
            "point": self.point,
            "points": self.points,
            "op": self.op.to_json(),
            "outcome": "pass" if self.passed else "fail",
            "expected_findings": self.expected,
            "expected_faults": sorted(self.scenario.catching_faults(self.variant)),
            "findings": [f.to_json() for f in self.findings],
            "rounds": [r.to_json() for r in self.rounds],
            "duration": round(self.duration, 4),
            "output": self.output,
            "replay": self.replay,
            "nested": self.nested,
            "injection": self.injection,
            "artifacts": self.artifacts,
        }


@dataclass
class Golden:
    """The run without a crash: the trace of N operations and the reference final state."""

    trace: list[Operation]
    state: Mapping[str, Any]
    rounds: list[Round]
    findings: list[Finding]
    duration: float
    output: str = ""
    #: The journal audit: mutations of the dry run no open journal entry covered.
    uncovered: list[Uncovered] = field(default_factory=list)


@dataclass
class Explorer:
    """Explores one scenario variant: setup, golden run, then any crash point on demand.

    Args:
        work_dir: a private folder for the snapshot and per-point worlds (removed by
            :meth:`close`).
        keep_worlds: keep each point's world after it ran (for inspection).
    """

    scenario: Scenario
    variant: str
    starter: ChildStarter
    work_dir: Path
    project_root: str = "."
    keep_worlds: bool = False
    #: Where the worlds of failing points are kept (None: nowhere).
    artifacts: ArtifactStore | None = None
    #: Kill points get their crash states from one recording run (see
    #: :mod:`crashkit.engine.recording`); False: a workload child killed at each point.
    record_kills: bool = True
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
        self.recordings = Recordings(self)

    def close(self) -> None:
        """Remove the work folder (the snapshot and any kept worlds)."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- children ----------------------------------------------------------------

    def _job(self, world: Path, run_dir: Path, phase: str, **kwargs: Any) -> ChildJob:
        reference = self.scenario.source or self.scenario
        return ChildJob(
            reference,
            phase,
            str(world),
            str(run_dir),
            self.variant,
            self.env,
            project_root=self.project_root,
            **kwargs,
        )

    def _run_child(
        self, world: Path, run_dir: Path, phase: str, timeout: float | None = None, **kwargs: Any
    ) -> _ChildRun:
        run_dir.mkdir(parents=True, exist_ok=True)
        job = self._job(world, run_dir, phase, **kwargs)
        exit = self.starter.run(job, timeout or self.scenario.timeout)
        recorded = _child.read_status(run_dir)
        if recorded is not None and exit.status == _UNKNOWN_STATUS:
            exit = ChildExit(recorded, exit.timed_out, exit.duration)
        return _ChildRun(
            exit,
            _child.read_trace(run_dir),
            _child.read_text(run_dir / "output.txt"),
            _child.read_text(run_dir / "error.txt"),
            run_dir / "output.txt",
        )

    def _world(self, name: str) -> Path:
        """A fresh copy of the snapshot under ``work_dir/name/world``."""
        world = self.work_dir / name / "world"
        if world.parent.exists():
            shutil.rmtree(world.parent)
        world.parent.mkdir(parents=True)
        _child.copy_world(self.snapshot, world)
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
        setup = self._run_child(
            self.snapshot, self.work_dir / "snapshot" / "run", "setup", probe=False
        )
        self._require_ok(setup, "setup")
        world = self._world("golden")
        audit = self.scenario.journal is not None
        run = self._run_child(world, world.parent / "run", "workload", audit=audit)
        self._require_ok(run, "workload (without any crash)")
        uncovered = [
            Uncovered.from_json(r) for r in _child.read_lines(world.parent / "run" / "audit.jsonl")
        ]
        rounds, findings = self._restart_rounds(world)
        state = self._observe(world, findings)
        if not findings:
            # Invariants asking for pytest fixtures run when point 0 does, with their values.
            plain, _ = self.scenario.split_invariants()
            findings = run_invariants(plain, self._check(world, state, rounds))
        self.golden = Golden(
            run.trace,
            state,
            rounds,
            findings,
            time.monotonic() - started,
            run.output,
            uncovered,
        )
        if not self.keep_worlds and not self.scenario.fixture_names():
            shutil.rmtree(world.parent)
        return self.golden

    def _require_ok(self, run: _ChildRun, what: str) -> None:
        if run.exit.status == 0:
            return
        if run.exit.timed_out:
            problem = f"{what} did not finish within {self.scenario.timeout}s"
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

    # -- restart rounds and checks -------------------------------------------------

    def _observe(self, world: Path, findings: list[Finding]) -> Mapping[str, Any]:
        try:
            return dict(self.scenario.observe(self._world_view(world)))
        except Exception:
            findings.append(
                Finding("observe", "observing the world raised:\n" + traceback.format_exc())
            )
            return {}

    def _world_view(self, world: Path) -> World:
        return World(world, self.variant, self.env)

    def _restart_rounds(self, world: Path) -> tuple[list[Round], list[Finding]]:
        """Fresh restarts until one changes nothing; findings if that never happens."""
        findings: list[Finding] = []
        rounds: list[Round] = []
        # A crashed world may be unreadable until recovery repairs it: not a finding yet.
        before = self._observe(world, [])
        limit = self.scenario.max_rounds + 1
        for number in range(1, limit + 1):
            run = self._run_child(world, world.parent / f"round{number}", "restart")
            exit = self._round_exit(run, number, findings)
            after = self._observe(world, findings) if exit == "ok" else before
            if findings and findings[-1].invariant == "observe":
                exit = "unobservable"  # recovery left a state that cannot be read
            mutations = tuple(op.describe() for op in run.trace if op.mutates_world)
            rounds.append(
                Round(number, exit, len(run.trace), mutations, after != before, run.exit.duration)
            )
            if exit != "ok" or rounds[-1].quiet:
                return rounds, findings
            before = after
        findings.append(
            Finding(
                "converges",
                f"no fixpoint after {limit} restart rounds (bound: max_rounds={limit - 1} plus one "
                f"confirming restart): the last round still "
                + ("changed the world state" if rounds[-1].changed else "")
                + (" and " if rounds[-1].changed and rounds[-1].mutations else "")
                + (
                    "performed " + "; ".join(rounds[-1].mutations[:5])
                    if rounds[-1].mutations
                    else ""
                )
                + ". This is an endless re-merge.",
            )
        )
        return rounds, findings

    def _round_exit(self, run: _ChildRun, number: int, findings: list[Finding]) -> str:
        if run.exit.status == 0:
            return "ok"
        if run.exit.timed_out:
            findings.append(
                Finding(
                    "no-hang",
                    f"restart round {number} did not finish within "
                    f"{self.scenario.timeout}s; its process group was killed",
                )
            )
            return "hang"
        if run.exit.status == EXIT_RAISED:
            findings.append(
                Finding("recovery-raises", f"restart round {number} raised:\n" + run.error)
            )
            return "raised"
        findings.append(
            Finding(
                "recovery-dies",
                f"restart round {number} ended with exit "
                f"status {run.exit.status}\n{run.error or run.output}",
            )
        )
        return "died"

    def _check(
        self,
        world: Path,
        state: Mapping[str, Any],
        rounds: list[Round],
        golden: Mapping[str, Any] | None = None,
    ) -> Check:
        return Check(
            self._world_view(world), state, golden, [r.to_json() for r in rounds], _FIXTURES.get()
        )

    # -- one point -----------------------------------------------------------------

    def run_point(
        self, point: int, fault: str = "kill", fixtures: Mapping[str, Any] | None = None
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
            return self._run_point(point, fault)
        finally:
            _FIXTURES.reset(token)

    def _run_point(self, point: int, fault: str) -> PointResult:
        golden = self.prepare()
        op = self.operation(point)
        kind = fault_kind(fault)
        offered = kind.points(golden.trace)
        if point and point not in offered:
            from crashkit.output.report.render import point_ranges  # only on this error path

            raise ScenarioError(
                self.scenario.name,
                f"point {point} ({op.kind} {op.target}) is not a point of the {fault} fault",
                f"{fault} offers {point_ranges(offered) or 'no point on this trace'}",
            )
        if point == 0:
            findings = list(golden.findings)
            _, asking = self.scenario.split_invariants()
            if asking and not findings:
                world = self.work_dir / "golden" / "world"
                findings = run_invariants(asking, self._check(world, golden.state, golden.rounds))
            golden_result = self._result(
                fault, 0, op, findings, golden.rounds, golden.output, injection=""
            )
            golden_result.duration = golden.duration
            return golden_result
        if kind.name == "kill" and self.record_kills:
            return self.recordings.run_point(point, op)
        started = time.monotonic()
        world = self._world(f"{fault}-p{point:03d}")
        try:
            result = self._struck(world, point, op, kind, golden)
            result.duration = time.monotonic() - started
        finally:
            if not self.keep_worlds:
                shutil.rmtree(world.parent, ignore_errors=True)
        return result

    # -- kill points ----------------------------------------------------------------

    def plan_kills(self, points: Iterable[int]) -> None:
        """Record only the crash states of these kill points (default: every point)."""
        self.recordings.plan(set(points))

    def kill_literally(self, world: Path, point: int, op: Operation, golden: Golden) -> PointResult:
        """Point ``point`` the literal way: ``world`` becomes a fresh copy of the snapshot,
        and a workload child there is killed right before the operation."""
        if world.exists():
            shutil.rmtree(world)
        _child.copy_world(self.snapshot, world)
        return self._struck(world, point, op, FAULTS["kill"], golden)

    def _struck(
        self, world: Path, point: int, op: Operation, kind: FaultKind, golden: Golden
    ) -> PointResult:
        """The fault struck at the point in ``world``, recovered, checked; the world kept as
        an artifact when it failed."""
        return self.keep_artifacts(self._strike(world, point, op, kind, golden), world, golden)

    def keep_artifacts(self, result: PointResult, world: Path, golden: Golden) -> PointResult:
        """Keep a failing point's run folder (``world``'s parent) as an artifact."""
        if result.findings and self.artifacts is not None:
            result.artifacts = self.artifacts.keep(
                result.to_json(), world.parent, result.failed_world, golden.state
            )
            for child in result.children:  # nested crashes: their worlds are in there too
                child.artifacts = result.artifacts
        return result

    def _result(
        self,
        fault: str,
        point: int,
        op: Operation,
        findings: list[Finding],
        rounds: list[Round],
        output: str = "",
        **extra: Any,
    ) -> PointResult:
        extra.setdefault("injection", describe_injection(fault, op))
        return PointResult(
            self.scenario,
            self.variant,
            fault,
            point,
            self.points,
            op,
            findings,
            rounds,
            0.0,
            output,
            **extra,
        )

    def _strike(
        self, world: Path, point: int, op: Operation, kind: FaultKind, golden: Golden
    ) -> PointResult:
        run = self._run_child(
            world, world.parent / "crash", "workload", crash_at=point, fault=kind.name
        )
        findings = self._confirm(run, point, op, kind)
        if findings:
            return self._result(kind.name, point, op, findings, [], run.output)
        if kind.name == "powerloss":
            return self._power_cuts(world, point, op, golden, run)
        if kind.name == "recovery-crash":
            return self._recovery_crash(world, point, op, golden, run)
        findings, rounds = self._recover_and_check(world, golden)
        return self._result(kind.name, point, op, findings, rounds, run.output)

    def _recover_and_check(self, world: Path, golden: Golden) -> tuple[list[Finding], list[Round]]:
        """Restart rounds to a fixpoint, then crash equivalence and the invariants."""
        rounds, findings = self._restart_rounds(world)
        if findings:
            return findings, rounds
        state = self._observe(world, findings)
        if state != golden.state:
            findings.append(
                Finding(
                    "crash-equivalence",
                    "the recovered world differs from the golden run's final state",
                    diff_states(golden.state, state),
                )
            )
        ctx = self._check(world, state, rounds, golden.state)
        findings.extend(run_invariants(self.scenario.invariants, ctx))
        return findings, rounds

    def _copy(self, source: Path, name: str) -> Path:
        target = source.parent / name / "world"
        _child.copy_world(source, target)
        return target

    def _power_cuts(
        self, world: Path, point: int, op: Operation, golden: Golden, run: _ChildRun
    ) -> PointResult:
        """Recover from each power-cut state the model allows; findings name their state."""
        states = read_power_cuts(world.parent / "crash")
        if not states:
            raise ChildError(
                f"the child crashed at point {point} without saving its power-cut "
                "states (powercuts.pkl); nothing was checked"
            )
        findings: list[Finding] = []
        rounds: list[Round] = []
        failed_world = "world"
        for number, state in enumerate(states, 1):
            copy = self._copy(world, f"state{number}")
            state.apply(copy)
            found, state_rounds = self._recover_and_check(copy, golden)
            label = f"power cut state {number}/{len(states)} ({state.description})"
            if number == 1 or (found and not findings):
                rounds = state_rounds  # the first failing state's, else the harshest's
            if found and not findings:
                failed_world = f"state{number}/world"
            findings += [replace(f, message=f"{label}: {f.message}") for f in found]
        return self._result(
            "powerloss",
            point,
            op,
            findings,
            rounds,
            run.output,
            injection=describe_injection("powerloss", op) + f"; {len(states)} state(s) tried",
            failed_world=failed_world,
        )

    def _recovery_crash(
        self, world: Path, point: int, op: Operation, golden: Golden, run: _ChildRun
    ) -> PointResult:
        """Crash the first restart at each of its operations (a budgeted sample), recover."""
        dry = self._copy(world, "restart-dry")
        first = self._run_child(dry, dry.parent / "run", "restart")
        findings: list[Finding] = []
        exit = self._round_exit(first, 1, findings)
        if exit != "ok":
            return self._result("recovery-crash", point, op, findings, [], run.output)
        nested = select_points(len(first.trace) + 1, NESTED_BUDGET, seed=point)[1:]
        children = [self._nested(world, point, op, r, first.trace, golden) for r in nested]
        aggregate = [
            replace(f, message=f"{c.label}: {f.message}") for c in children for f in c.findings
        ]
        rounds = next(
            (c.rounds for c in children if c.findings), children[0].rounds if children else []
        )
        failing = next((c for c in children if c.findings), None)
        return self._result(
            "recovery-crash",
            point,
            op,
            aggregate,
            rounds,
            run.output,
            children=children,
            failed_world=f"r{failing.nested:03d}/world" if failing else "world",
        )

    def _nested(
        self,
        world: Path,
        point: int,
        op: Operation,
        nested: int,
        restart_trace: list[Operation],
        golden: Golden,
    ) -> PointResult:
        copy = self._copy(world, f"r{nested:03d}")
        crashed = self._run_child(copy, copy.parent / "crash", "restart", crash_at=nested)
        expected = (
            restart_trace[nested - 1] if nested <= len(restart_trace) else end_operation(nested)
        )
        findings = self._confirm(crashed, nested, expected, fault_kind("kill"))
        rounds: list[Round] = []
        if not findings:
            findings, rounds = self._recover_and_check(copy, golden)
        return self._result(
            "recovery-crash", point, op, findings, rounds, crashed.output, nested=nested
        )

    def _confirm(
        self, run: _ChildRun, point: int, expected: Operation, kind: FaultKind
    ) -> list[Finding]:
        """The child reached the point doing what the dry run did, and ended as the fault says:
        killed there (kill-like faults), or still running afterwards (error, lost response)."""
        if run.exit.timed_out:
            return [
                Finding(
                    "no-hang",
                    f"the workload did not finish within "
                    f"{self.scenario.timeout}s after point {point}; its process group "
                    "was killed",
                )
            ]
        reached = next((op for op in run.trace if op.index == point), None)
        last = run.trace[-1] if run.trace else None
        if kind.crashes:
            ok = last is not None and last.index == point and _died_at_its_point(run)
            seen = last
        else:
            ok = reached is not None and run.exit.status in (0, EXIT_RAISED)
            seen = reached or last
        if ok and seen is not None and seen.signature == expected.signature:
            return []
        if seen is not None and seen.index == point and (ok or _died_at_its_point(run)):
            ending = "did it there"
        elif run.exit.status == EXIT_RAISED:
            ending = "raised before reaching it:\n" + run.error
        else:
            ending = f"ended with status {run.exit.status}\n{run.error or run.output}"
        return [nondeterministic(point, expected, seen, ending)]


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


#: The fixture values of the point running in this thread (see :meth:`Explorer.run_point`).
_FIXTURES: ContextVar[Mapping[str, Any]] = ContextVar(
    "crashkit_fixtures", default=MappingProxyType({})
)


def _died_at_its_point(run: _ChildRun) -> bool:
    """Whether a child told to crash died by its own SIGKILL.

    The child writes the operation's record and kills itself at once, so a record at
    the crash point, with no status recorded after it, means it died there. multiprocess
    sometimes reports a fork server child's status as 255 when it failed to read it;
    that case is accepted on the same evidence.
    """
    return run.exit.killed or (run.exit.status == _UNKNOWN_STATUS and not run.error)


_UNKNOWN_STATUS = 255


def fault_kind(name: str) -> FaultKind:
    """The fault kind called ``name``; UsageError naming the valid ones otherwise."""
    if name not in FAULTS:
        raise UsageError(f"{name!r} is not a fault kind; choose among {', '.join(FAULTS)}")
    return FAULTS[name]


def select_points(points: int, sample: int | None = None, seed: int = 0) -> list[int]:
    """Point 0 (no crash) and 1..points, or a seeded sample of ``sample`` of the latter."""
    return [0, *sample_points(list(range(1, points + 1)), sample, seed)]


def sample_points(points: list[int], sample: int | None, seed: int) -> list[int]:
    """``points``, or a seeded sample of ``sample`` of them, in order."""
    if sample is not None and sample < len(points):
        return sorted(random.Random(seed).sample(points, sample))
    return list(points)


_WORK_PREFIX = "crashkit-"


#: Where worlds go unless a base is given: ``$CRASHKIT_WORK_DIR``, else ``$TMPDIR`` when
#: set, else this memory-backed folder when there is one with room (a crash model needs
#: no disk, and a program's fsyncs cost nothing there: about a third of a kasten sync's
#: time), else the system temp folder.
WORK_DIR_VARIABLE = "CRASHKIT_WORK_DIR"
_MEMORY_FOLDER = Path("/dev/shm")


def default_work_base() -> Path:
    """Where sweeps put their work folders when not told (see :data:`WORK_DIR_VARIABLE`)."""
    for variable in (WORK_DIR_VARIABLE, "TMPDIR"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    if _roomy(_MEMORY_FOLDER):
        return _MEMORY_FOLDER
    return Path(tempfile.gettempdir())


#: The memory folder is used only with this much room (a container's is often 64 MB): a
#: kill sweep holds a world per recorded point at once.
_MEMORY_NEEDED = 1 << 30


def _roomy(folder: Path) -> bool:
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    free = info.f_bavail * info.f_frsize
    return os.access(folder, os.W_OK | os.X_OK) and free >= _MEMORY_NEEDED


def new_work_dir(base: str | None = None) -> Path:
    """A private folder for one sweep's worlds; folders of killed sweeps are removed first."""
    root = Path(base) if base else default_work_base()
    for folder in root.glob(f"{_WORK_PREFIX}*"):
        pid = folder.name.removeprefix(_WORK_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_WORK_PREFIX}{os.getpid()}-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
