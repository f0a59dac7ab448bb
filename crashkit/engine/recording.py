"""Kill points from one recording run of the workload.

A SIGKILL right before operation k leaves exactly what the process had handed to
the OS by then: the files as they are at that instant (Python's and SQLite's
buffers, an unfinished transaction, are lost alike). So one run of the workload
whose probe copies the world before each planned operation
(:class:`crashkit.child.run._Recorder`) yields the crash state of every kill point,
where a child per point would rerun the workload to get each.

The parent side (:class:`Recordings`) then recovers each state as the explorer
recovers any crashed world, with these safeguards:

* the recording is checked against the dry run: where it strays, the point is a
  ``deterministic`` finding with both records; points it never reached get the
  finding the per-point kill would give (it raised, hung or exited there);
* two consecutive states that are identical, byte for byte and stamp for stamp
  (typically across an fsync), are recovered once;
* a state that mentions the recording world's own path (an absolute path the
  program wrote down, as plain bytes) would not mean the same in another folder:
  that point is run the literal way, with a workload child killed there; so are
  the points a recording could not answer for (it failed to copy a state, or ran
  out of time before reaching them);
* asking for a point again (a second pass) records again.

``Explorer(record_kills=False)`` (``--kill-each-point``) skips all of this.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from crashkit.engine.recovery import ended_before, nondeterministic
from crashkit.engine.result import Golden, PointResult
from crashkit.faults import FAULTS, KILL, FaultKind
from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding, Round
from crashkit.model.process import (
    OUTPUT,
    STATES,
    TRACE,
    ChildRun,
    output_until,
    read_states_index,
)
from crashkit.model.worlds import mentions
from crashkit.scenario.scenario import Scenario


class Host(Protocol):
    """What a recording needs of the explorer that owns it (:class:`crashkit.Explorer`)."""

    scenario: Scenario
    work_dir: Path
    keep_worlds: bool

    @property
    def child_timeout(self) -> float: ...

    def prepare(self) -> Golden: ...

    def operation(self, point: int) -> Operation: ...

    def fresh_world(self, name: str) -> Path: ...

    def run_child(
        self, world: Path, run_dir: Path, phase: str, timeout: float | None = None, **job: Any
    ) -> ChildRun: ...

    def recover(self, world: Path) -> tuple[list[Finding], list[Round]]: ...

    def kill_literally(self, world: Path, point: int, op: Operation) -> PointResult: ...

    def keep_artifacts(self, result: PointResult, world: Path) -> PointResult: ...

    def result(
        self,
        kind: FaultKind,
        point: int,
        op: Operation,
        findings: list[Finding],
        rounds: list[Round],
        output: str = "",
        nested: int | None = None,
    ) -> PointResult: ...


#: Operations that cannot change what a kill leaves: the states around them are compared,
#: and recovered once when they are the same.
_MAYBE_INVISIBLE = frozenset({"fs.fsync", "fs.fdatasync", "mark"})


@dataclass
class _Recording:
    """One recording run and what it left."""

    folder: Path
    run: ChildRun
    planned: frozenset[int]
    #: Point -> how much output the program had written before it (every point reached).
    outputs: dict[int, int]
    #: Points whose state is kept in ``states`` and not yet taken.
    kept: set[int]
    #: Point -> the earlier point whose state is identical (its own was removed).
    same_as: dict[int, int]
    #: Points whose state mentions the recording world's path: run the literal way.
    literal: set[int]
    #: Why the recorder stopped recording (a full disk...), if it did.
    error: str | None

    @property
    def states(self) -> Path:
        return self.folder / "run" / STATES


@dataclass
class _Shared:
    """One recovery of a crash state, and the points it answered."""

    result: Future[tuple[PointResult, _Recording]] = field(default_factory=Future)
    served: set[int] = field(default_factory=set)


class Recordings:
    """The recorded kill points of one explorer (thread-safe: points run in parallel)."""

    def __init__(self, explorer: Host) -> None:
        self.explorer = explorer
        self.planned: set[int] | None = None
        self._lock = threading.Lock()  # the shared recoveries
        self._record_lock = threading.Lock()  # the recording and its states
        self._current: _Recording | None = None
        self._generation = 0
        self._shared: dict[int, _Shared] = {}

    def plan(self, points: set[int]) -> None:
        with self._record_lock:
            self.planned = points - {0}

    # -- one point ------------------------------------------------------------------

    def run_point(self, point: int, op: Operation) -> PointResult:
        """The result of kill point ``point``: shared with the points of an identical state,
        unless the scenario's invariants take per-point fixture values."""
        if self.explorer.scenario.fixture_names():
            return self._recover(point)[0]
        canonical = self._recording_for(point).same_as.get(point, point)
        with self._lock:
            shared = self._shared.get(canonical)
            mine = shared is None or point in shared.served
            if mine:
                shared = self._shared[canonical] = _Shared()
            assert shared is not None
            shared.served.add(point)
        if mine:
            try:
                shared.result.set_result(self._recover(canonical))
            except BaseException as error:
                shared.result.set_exception(error)
                with self._lock:
                    if self._shared.get(canonical) is shared:
                        del self._shared[canonical]  # not a result: the next asker retries
                raise
        result, recording = shared.result.result()
        if point == canonical:
            return result
        size = recording.outputs.get(point)
        output = output_until(recording.run, size) if size is not None else result.output
        strayed = self._confirm(recording, point, op, took=True)
        if strayed:  # the recording did something else here: its own finding, not a share
            return self.explorer.result(FAULTS[KILL], point, op, strayed, [], output)
        return replace(
            result,
            point=point,
            op=op,
            output=output,
            duration=0.0,
            injection=f"{result.injection}; the same crash state as p{canonical:02d} (byte "
            f"for byte: {self.explorer.operation(point - 1).describe()} in between changed "
            "nothing a kill leaves), recovered once for both",
        )

    def _recover(self, point: int) -> tuple[PointResult, _Recording]:
        explorer = self.explorer
        started = time.monotonic()
        op = explorer.operation(point)
        # A folder per attempt: the same point may be asked twice at once.
        world = Path(tempfile.mkdtemp(prefix=f"kill-p{point:03d}-", dir=explorer.work_dir))
        world = world / "world"
        try:
            recording, took = self._take(point, world)
            inconclusive = not took and (recording.run.exit.timed_out or recording.error)
            if point in recording.literal or inconclusive:
                # The recording cannot answer for this point (it names its own folder, it
                # stopped recording, or it outlived its time): kill a child here instead.
                result = explorer.kill_literally(world, point, op)
            else:
                result = self._judge(recording, took, world, point, op)
        finally:
            if not explorer.keep_worlds:
                shutil.rmtree(world.parent, ignore_errors=True)
        result.duration = time.monotonic() - started
        return result, recording

    def _judge(
        self, recording: _Recording, took: bool, world: Path, point: int, op: Operation
    ) -> PointResult:
        explorer = self.explorer
        findings = self._confirm(recording, point, op, took)
        if findings or not took:
            return explorer.result(FAULTS[KILL], point, op, findings, [], recording.run.output)
        findings, rounds = explorer.recover(world)
        if findings or explorer.keep_worlds:  # what is kept shows the crashed run, as a
            _crash_files(recording, point, world.parent / "crash")  # killed child's would
        output = output_until(recording.run, recording.outputs[point])
        result = explorer.result(FAULTS[KILL], point, op, findings, rounds, output)
        return explorer.keep_artifacts(result, world)

    def _confirm(
        self, recording: _Recording, point: int, expected: Operation, took: bool
    ) -> list[Finding]:
        """The recording reached the point doing what the dry run did; otherwise what the
        per-point kill would have found there."""
        run = recording.run
        seen = next((op for op in run.trace if op.index == point), None)
        after_last = point == len(self.explorer.prepare().trace) + 1
        if after_last and took and seen is None:
            return []  # it ended where the dry run did: no operation of its own
        if took and seen is not None and seen.signature == expected.signature:
            return []
        # (A point a recording that ran out of time did not reach is run literally, by
        # _recover: it never comes here.)
        ending = "did it there" if seen is not None else ended_before(run)
        return [nondeterministic(point, expected, seen, ending)]

    # -- the recording ----------------------------------------------------------------

    def _recording_for(self, point: int) -> _Recording:
        """The current recording, made first if there is none or it did not plan ``point``."""
        with self._record_lock:
            current = self._current
            if current is None or point not in current.planned:
                current = self._record({point})
            return current

    def _take(self, point: int, into: Path) -> tuple[_Recording, bool]:
        """Move ``point``'s state to ``into``: the recording, and whether it had the state.
        A state already taken (the point is asked again) means a new recording."""
        with self._record_lock:
            current = self._current
            if current is None or point not in current.planned or point in current.same_as:
                current = self._record({point})
            elif point not in current.kept and point in current.outputs:
                current = self._record({point})  # recorded, and taken already: asked again
            if point in current.kept:
                current.kept.discard(point)
                (current.states / f"p{point:03d}").rename(into)
                return current, True
            return current, False

    def _record(self, also: set[int]) -> _Recording:
        explorer = self.explorer
        golden = explorer.prepare()
        every = set(range(1, len(golden.trace) + 2))
        if self.planned:
            self.planned |= also  # asked for once, recorded from now on
        planned = frozenset(self.planned or every)
        previous, self._current = self._current, None
        if previous is not None and not explorer.keep_worlds:
            shutil.rmtree(previous.folder, ignore_errors=True)
        self._generation += 1
        started = time.monotonic()
        world = explorer.fresh_world(f"recording{self._generation}")
        copy = time.monotonic() - started
        # Copying the world at every point takes time the workload alone does not (and the
        # world may grow); points a recording that ran out of time did not reach are run
        # the literal way, so a generous bound costs nothing but a hang's wait.
        timeout = 2 * explorer.child_timeout + 4 * copy * len(planned) + 5
        run = explorer.run_child(
            world,
            world.parent / "run",
            "workload",
            record_at=tuple(sorted(planned)),
            timeout=timeout,
        )
        outputs, error = read_states_index(world.parent / "run")
        recording = _Recording(world.parent, run, planned, outputs, set(outputs), {}, set(), error)
        # Folding is decided once: a later recording (a second pass, an unplanned point)
        # keeps every state, so a point folded before always finds its own.
        fold = self._generation == 1 and not explorer.scenario.fixture_names()
        self._compare(recording, golden.trace, world, fold)
        self._current = recording
        return recording

    def _compare(
        self, recording: _Recording, trace: list[Operation], world: Path, fold: bool
    ) -> None:
        """Fold identical consecutive states (with ``fold``); mark the states that name the
        recording world's path."""
        needles = {os.fsencode(p) for p in (str(world), os.path.realpath(world))}
        for point in sorted(recording.kept):
            state = recording.states / f"p{point:03d}"
            earlier = recording.same_as.get(point - 1, point - 1)
            if (
                fold
                and earlier in recording.kept
                and trace[point - 2].kind in _MAYBE_INVISIBLE
                and same_tree(recording.states / f"p{earlier:03d}", state)
            ):
                recording.same_as[point] = earlier
                recording.kept.discard(point)
                shutil.rmtree(state)
            elif mentions(state, needles):
                recording.literal.add(point)


def _crash_files(recording: _Recording, point: int, into: Path) -> None:
    """The crashed run's trace and output up to the point, as a killed child leaves them
    (kept with the world as an artifact)."""
    into.mkdir(exist_ok=True)
    with (into / TRACE).open("w", encoding="utf-8") as out:
        for op in recording.run.trace:
            if op.index <= point:
                out.write(json.dumps(op.to_json(), default=str) + "\n")
    (into / OUTPUT).write_text(
        output_until(recording.run, recording.outputs[point]), encoding="utf-8"
    )


def same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same entries: names, types, modes, sizes, modification
    times and bytes (symlinks by target)."""
    entries_a, entries_b = _entries(a), _entries(b)
    if entries_a.keys() != entries_b.keys():
        return False
    for name, (mode, size, mtime, target) in entries_a.items():
        if entries_b[name] != (mode, size, mtime, target):
            return False
        if stat.S_ISREG(mode) and (a / name).read_bytes() != (b / name).read_bytes():
            return False
    return True


def _entries(root: Path) -> dict[str, tuple[int, int, int, str | None]]:
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            info = path.lstat()
            target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
            size = info.st_size if stat.S_ISREG(info.st_mode) else 0
            mtime = info.st_mtime_ns
            entries[str(path.relative_to(root))] = (info.st_mode, size, mtime, target)
    return entries
