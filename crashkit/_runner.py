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
import shutil
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit import _child
from crashkit._child import EXIT_BROKEN, EXIT_RAISED, ChildJob
from crashkit._invariants import Check, Finding, diff_states, run_invariants
from crashkit._journal import Uncovered
from crashkit._operation import Operation, end_operation
from crashkit._scenario import Scenario, World
from crashkit._starter import ChildExit, ChildStarter
from crashkit.errors import ScenarioError

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

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def expected(self) -> bool:
        """Whether findings are expected here (a variant known to be buggy)."""
        return self.scenario.expects_findings(self.variant)

    @property
    def replay(self) -> str:
        return f"crashkit replay {self.scenario.id} --variant {self.variant} --point {self.point}"

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
            "findings": [f.to_json() for f in self.findings],
            "rounds": [r.to_json() for r in self.rounds],
            "duration": round(self.duration, 4),
            "output": self.output,
            "replay": self.replay,
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
    fault: str = "kill"
    golden: Golden | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.variant not in self.scenario.variants:
            raise ScenarioError(
                self.scenario.name,
                f"has no variant {self.variant!r}",
                f"choose among {sorted(self.scenario.variants)}",
            )
        self.env = dict(self.scenario.variants[self.variant])
        self.snapshot = self.work_dir / "snapshot" / "world"

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

    def _run_child(self, world: Path, run_dir: Path, phase: str, **kwargs: Any) -> _ChildRun:
        run_dir.mkdir(parents=True, exist_ok=True)
        job = self._job(world, run_dir, phase, **kwargs)
        exit = self.starter.run(job, self.scenario.timeout)
        recorded = _child.read_status(run_dir)
        if recorded is not None and exit.status == _UNKNOWN_STATUS:
            exit = ChildExit(recorded, exit.timed_out, exit.duration)
        return _ChildRun(
            exit,
            _child.read_trace(run_dir),
            _child.read_text(run_dir / "output.txt"),
            _child.read_text(run_dir / "error.txt"),
        )

    def _world(self, name: str) -> Path:
        """A fresh copy of the snapshot under ``work_dir/name/world``."""
        world = self.work_dir / name / "world"
        if world.parent.exists():
            shutil.rmtree(world.parent)
        world.parent.mkdir(parents=True)
        shutil.copytree(self.snapshot, world, symlinks=True)
        return world

    # -- setup and golden run -----------------------------------------------------

    def prepare(self) -> Golden:
        """Run setup and the golden run (once); raise ScenarioError if either is broken."""
        if self.golden is not None:
            return self.golden
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
            findings = run_invariants(self.scenario.invariants, self._check(world, state, rounds))
        self.golden = Golden(
            run.trace,
            state,
            rounds,
            findings,
            time.monotonic() - started,
            run.output,
            uncovered,
        )
        if not self.keep_worlds:
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
        """How many crash points there are: N operations plus the one after the last."""
        return len(self.prepare().trace) + 1

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
        before = self._observe(world, findings)
        limit = self.scenario.max_rounds + 1
        for number in range(1, limit + 1):
            run = self._run_child(world, world.parent / f"round{number}", "restart")
            exit = self._round_exit(run, number, findings)
            after = self._observe(world, findings) if exit == "ok" else before
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
        return Check(self._world_view(world), state, golden, [r.to_json() for r in rounds])

    # -- one point -----------------------------------------------------------------

    def run_point(self, point: int) -> PointResult:
        """Crash at ``point`` (0: no crash), restart to a fixpoint, check the invariants."""
        golden = self.prepare()
        op = self.operation(point)
        if point == 0:
            return PointResult(
                self.scenario,
                self.variant,
                self.fault,
                0,
                self.points,
                op,
                list(golden.findings),
                golden.rounds,
                golden.duration,
                golden.output,
            )
        started = time.monotonic()
        world = self._world(f"p{point:03d}")
        try:
            findings, rounds, output = self._crash_and_recover(world, point, op, golden)
        finally:
            if not self.keep_worlds:
                shutil.rmtree(world.parent, ignore_errors=True)
        return PointResult(
            self.scenario,
            self.variant,
            self.fault,
            point,
            self.points,
            op,
            findings,
            rounds,
            time.monotonic() - started,
            output,
        )

    def _crash_and_recover(
        self, world: Path, point: int, op: Operation, golden: Golden
    ) -> tuple[list[Finding], list[Round], str]:
        run = self._run_child(world, world.parent / "crash", "workload", crash_at=point)
        findings = self._confirm_crash(run, point, op)
        if findings:
            return findings, [], run.output
        rounds, findings = self._restart_rounds(world)
        if findings:
            return findings, rounds, run.output
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
        return findings, rounds, run.output

    def _confirm_crash(self, run: _ChildRun, point: int, expected: Operation) -> list[Finding]:
        """The child must have died by our SIGKILL, right at the expected operation."""
        if run.exit.timed_out:
            return [
                Finding(
                    "no-hang",
                    f"the workload did not reach point {point} within "
                    f"{self.scenario.timeout}s; its process group was killed",
                )
            ]
        last = run.trace[-1] if run.trace else None
        if last is not None and last.index == point and _died_at_its_point(run):
            if last.signature == expected.signature:
                return []
            ending = "was killed there"
        elif run.exit.status == EXIT_RAISED:
            ending = "raised:\n" + run.error
        else:
            ending = f"ended with status {run.exit.status}\n{run.error or run.output}"
        actual = last.describe() if last is not None else "no operation at all"
        return [
            Finding(
                "deterministic",
                f"the program is nondeterministic: the dry run's operation {point} was\n"
                f"  {expected.describe()}\nbut this run's last operation was\n  {actual}\n"
                f"and the workload {ending}",
            )
        ]


def _died_at_its_point(run: _ChildRun) -> bool:
    """Whether a child told to crash died by its own SIGKILL.

    The child writes the operation's record and kills itself at once, so a record at
    the crash point, with no status recorded after it, means it died there. multiprocess
    sometimes reports a fork server child's status as 255 when it failed to read it;
    that case is accepted on the same evidence.
    """
    return run.exit.killed or (run.exit.status == _UNKNOWN_STATUS and not run.error)


_UNKNOWN_STATUS = 255


_WORK_PREFIX = "crashkit-"


def new_work_dir(base: str | None = None) -> Path:
    """A private folder for one sweep's worlds; folders of killed sweeps are removed first."""
    root = Path(base or tempfile.gettempdir())
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
