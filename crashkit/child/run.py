"""A child's entry point: one phase of a scenario, under the probe.

The run folder it fills, and the exit statuses it ends with, are the contract in
:mod:`crashkit.model.process`. Nothing here is imported by the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NoReturn

from crashkit.faults import ChildFault, fault_kind
from crashkit.model import process
from crashkit.model.operation import Operation, end_operation
from crashkit.model.process import EXIT_BROKEN, EXIT_RAISED, WARNING_PREFIX, ChildJob
from crashkit.model.worlds import copy_world
from crashkit.probes import PROBES, Probe
from crashkit.probes import python as _probe
from crashkit.probes.quiet import quiet
from crashkit.probes.syscall import SYSCALL_PROBE
from crashkit.probes.syscall.namespace import stable_world
from crashkit.scenario.command import is_command
from crashkit.scenario.scenario import Scenario, ScenarioRef, World


class _Lines:
    """Appends JSON lines to a file with one unbuffered write each (kill-safe)."""

    def __init__(self, path: Path) -> None:
        self.fd = _probe._Real.os_open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        _probe._Real.write(self.fd, (json.dumps(record, default=str) + "\n").encode())

    def __call__(self, op: Operation) -> None:
        self.write(op.to_json())


class _Recorder:
    """Copies the world as a SIGKILL at this moment would leave it (see
    :mod:`crashkit.engine.recording`), and notes how much output the program had written.

    A failure to copy (a full disk) must not look like the program's: it is noted in
    ``states.jsonl`` and recording stops, while the workload runs on.
    """

    def __init__(self, job: ChildJob, run_dir: Path) -> None:
        self.points = frozenset(job.record_at)
        self.every = job.record_every
        self.world = Path(job.world)
        self.into = run_dir / process.STATES
        wanted = self.points or self.every
        self.index = _Lines(run_dir / process.STATES_INDEX) if wanted else None

    def __call__(self, point: int, inside: bool = False) -> None:
        """Copy the world before operation ``point`` if asked to (with ``every``, not
        inside an SQLite transaction: no kill point is there)."""
        wanted = point in self.points or (self.every and not inside)
        if self.index is None or not wanted:
            return
        try:
            with quiet():
                copy_world(self.world, self.into / f"p{point:03d}")
            try:
                written = os.fstat(1).st_size
            except OSError:  # the program closed its stdout: no output to show
                written = 0
            self.index.write({"point": point, "output": written, "state": True})
        except Exception as error:
            with quiet():
                shutil.rmtree(self.into / f"p{point:03d}", ignore_errors=True)
            with contextlib.suppress(OSError):
                self.index.write({"point": point, "error": f"{type(error).__name__}: {error}"})
            self.index = None


def _decide(
    job: ChildJob, scenario: Scenario, run_dir: Path, fault: ChildFault, recorder: _Recorder
) -> _probe.Decide:
    """What happens before each operation: the journal audit, the recording, the fault."""
    journal = scenario.journal if job.audit else None
    audit = _Lines(run_dir / process.AUDIT) if journal is not None else None
    world = Path(job.world)

    def decide(op: Operation, payload: _probe.Payload | None) -> None:
        if journal is not None and audit is not None:
            uncovered = journal.check(world, op)
            if uncovered is not None:
                audit.write(uncovered.to_json())
        recorder(op.index, inside=bool(op.detail.get("inside")))
        fault.before(op, payload)

    return decide


def _escapes(run_dir: Path) -> Callable[[Operation], None]:
    """Where the files the program changes outside its world are noted (crashkit's own
    run folder, where its output goes, is not the program's state)."""
    lines: _Lines | None = None
    own = str(run_dir.resolve()) + os.sep

    def note(op: Operation) -> None:
        nonlocal lines
        if op.target.startswith(own):
            return
        if lines is None:
            lines = _Lines(run_dir / process.OUTSIDE)
        lines(op)

    return note


def _redirect_output(run_dir: Path) -> None:
    """Send fd 1 and 2 to ``output.txt``; line buffered so a kill loses almost nothing."""
    fd = _probe._Real.os_open(
        run_dir / process.OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
    )
    if fd <= 2:  # stdout or stderr was closed: keep the file on a descriptor of its own
        fd = fcntl.fcntl(fd, fcntl.F_DUPFD, 3)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = _probe._Real.open(1, "w", buffering=1, closefd=False, errors="replace")
    sys.stderr = _probe._Real.open(2, "w", buffering=1, closefd=False, errors="replace")


def _seed_tempfile() -> None:
    """Make tempfile's random names the same in every run, so traces compare equal."""
    sequence = tempfile._RandomNameSequence()  # type: ignore[attr-defined]
    sequence._rng = random.Random(0)
    sequence._rng_pid = os.getpid()
    tempfile._name_sequence = sequence  # type: ignore[attr-defined]


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


#: Loaded once (in the fork server, for every child).
_LIBC = _libc()


#: The pid of the process that forked this child, set by crashkit's fork server before
#: the fork (reading it after the fork would miss a parent that died in between).
expected_parent: int | None = None
#: Whether the child leads a process group of its own (False: it stays in its
#: supervisor's, which the launcher kills; see :mod:`crashkit.child.spawned`).
own_group = True


def die_with_parent() -> None:
    """Have Linux SIGKILL this child when its parent dies, so a killed sweep leaves nothing."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        parent = expected_parent or os.getppid()
        if _LIBC is not None:
            _LIBC.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the request took hold
            _probe.kill_self()


def _write_file(path: Path, text: str) -> None:
    with _probe._Real.open(path, "w", encoding="utf-8") as out:
        out.write(text)


def _write_error(run_dir: Path, text: str) -> None:
    _write_file(run_dir / process.ERROR, text)


def run(job: ChildJob) -> None:
    """The child's entry point: never returns; the exit status says how the phase ended."""
    if own_group:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # so the launcher can kill whatever the program starts, too
    die_with_parent()
    probe = PROBES[job.probe] if job.probe is not None else None
    if probe is not None:
        probe.install()
    run_dir = Path(job.run_dir)
    _redirect_output(run_dir)
    # The variant's environment is in force before the scenario (and through it the
    # program) is imported: a program may read its configuration at import time.
    os.environ.update(job.env)
    try:
        scenario = job.scenario.load() if isinstance(job.scenario, ScenarioRef) else job.scenario
    except BaseException:
        _write_error(run_dir, traceback.format_exc())
        _exit(EXIT_BROKEN)
    try:
        _run_phase(job, scenario, run_dir, probe)
    except BaseException:
        if probe is not None:
            probe.stop()
        _write_error(run_dir, traceback.format_exc())
        _exit(EXIT_RAISED)
    _write_file(run_dir / process.RETURNED, "")  # exit status 0 alone could be os._exit(0)
    _exit(0)


def _run_phase(job: ChildJob, scenario: Scenario, run_dir: Path, probe: Probe | None) -> None:
    phase = getattr(scenario, job.phase)
    root = Path(job.world)
    if is_command(phase):
        root = _stable_root(job)
        if probe is not None:
            probe = PROBES[SYSCALL_PROBE.name]
    os.chdir(root)
    _seed_tempfile()
    world = World(root, job.variant, dict(job.env))
    if probe is None:
        phase(world)
        return
    trace = _Lines(run_dir / process.TRACE)
    fault = ChildFault(
        fault_kind(job.fault), job.crash_at, run_dir, Path(job.world), black_box=is_command(phase)
    )
    recorder = _Recorder(job, run_dir)
    context: Any = scenario.context(world) if scenario.context else nullcontext()
    with context:
        recording = probe.start(
            root,
            trace,
            _decide(job, scenario, run_dir, fault, recorder),
            program=scenario.program,
            program_files=[scenario.source.path] if scenario.source else [],
            project_root=job.project_root,
            want_data=fault.want_data,
            escape=_escapes(run_dir),
        )
        try:
            phase(world)
        finally:
            probe.stop()
    count = recording.count
    if job.crash_at == count + 1:
        # Point N+1: the crash comes after the last durable operation.
        trace(end_operation(count + 1))
        fault.at_end(count)
    recorder(count + 1)


def _stable_root(job: ChildJob) -> Path:
    """Where a command sees its world: the sweep's stable path in a private mount
    namespace, or its own path where namespaces are not allowed (said once, on the output)."""
    world = Path(job.world)
    if job.stable_world is None:
        return world
    root, why = stable_world(world, Path(job.stable_world))
    if why is not None:
        sys.stderr.write(
            f"{WARNING_PREFIX}no stable world path ({why}): the program sees its world at "
            "another path in each run, so absolute paths it stores differ between runs\n"
        )
    return root


def _exit(status: int) -> NoReturn:
    """Leave with ``status``, the program's output flushed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
