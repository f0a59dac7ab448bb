"""The contract between the parent and a child: the job it is given, the run folder it
fills, and how it ended.

A child writes everything the parent needs into its run folder, through the unpatched
functions, so that nothing is lost when it is killed:

* ``trace.jsonl``: one line per durable operation, written *before* it runs;
* ``output.txt``: the program's stdout and stderr, line buffered;
* ``error.txt``: the traceback, when the phase raised;
* ``returned``: written once the phase has returned (an ``os._exit(0)`` inside it
  ends the process with status 0 too, but leaves no such file);
* ``outside.jsonl``: the files the program changed outside its world, once each;
* ``audit.jsonl``: the journal audit's uncovered operations (the dry run);
* ``powercuts.pkl``: the power-cut states at the crash point (the powerloss fault);
* ``states/`` and ``states.jsonl``: recorded kill crash states (the recording run).

The parent learns how the child ended from its exit status: killed by SIGKILL (a
crash crashkit caused), :data:`EXIT_RAISED` (the phase raised), 0 (done).
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit.model.operation import Operation

__all__ = [
    "EXIT_BROKEN",
    "EXIT_RAISED",
    "ChildExit",
    "ChildJob",
    "ChildRun",
    "output_until",
    "read_lines",
    "read_run",
    "read_states_index",
    "read_text",
    "read_trace",
]

#: How a child's output line starts when the probe warns of what it cannot see (a shared
#: writable mapping of a world file, io_uring, no stable world path); the golden run's
#: warnings go to the report.
WARNING_PREFIX = "crashkit: warning: "
#: Exit status of a child whose phase raised an exception.
EXIT_RAISED = 70
#: Exit status of a child that could not even load its scenario.
EXIT_BROKEN = 71
#: Exit status of a child whose job could not be unpickled (the fork server's children).
EXIT_BAD_JOB = 72

TRACE = "trace.jsonl"
OUTPUT = "output.txt"
ERROR = "error.txt"
AUDIT = "audit.jsonl"
#: The files the program changed outside its world, one operation each (absolute paths).
OUTSIDE = "outside.jsonl"
RETURNED = "returned"
POWER_CUTS = "powercuts.pkl"
#: The parent's ``sys.path``, handed to a new crashkit process through its environment
#: (read and removed by :mod:`crashkit.child.worker` there).
PATH_VARIABLE = "CRASHKIT_CHILD_PATH"
#: Where a recording child puts its crash states, and their index, in its run folder.
STATES = "states"
STATES_INDEX = "states.jsonl"


@dataclass
class ChildJob:
    """Everything a child needs; pickled (with dill: scenarios may be closures)."""

    #: The scenario: a :class:`crashkit.scenario.ScenarioRef` the child loads again, or the
    #: :class:`crashkit.scenario.Scenario` itself.
    scenario: Any
    phase: str
    world: str
    run_dir: str
    variant: str = "default"
    #: The variant's environment, in force before the program is imported.
    env: dict[str, str] = field(default_factory=dict)
    #: Kill the child right before this operation (N+1: after the last one); None: no crash.
    crash_at: int | None = None
    #: The probe that records durable operations (a name in :data:`crashkit.probes.PROBES`);
    #: None: the phase runs uninstrumented (setup does).
    probe: str | None = "python"
    #: Ask the scenario's journal about every audited operation (the dry run does).
    audit: bool = False
    #: What happens at ``crash_at``: a name in :data:`crashkit.faults.FAULTS`.
    fault: str = "kill"
    project_root: str = "."
    #: Record the crash state a kill right before each of these operations would leave
    #: (N+1: after the last one), into ``run_dir/states``; the child itself runs on.
    record_at: tuple[int, ...] = ()
    #: Record the crash state before every operation (and after the last), as
    #: ``record_at`` does for some (a recovery-crash's first restart).
    record_every: bool = False
    #: Where a command phase sees its world (a private mount namespace binds it there),
    #: the same for every child of the sweep; None: at its own path.
    stable_world: str | None = None


@dataclass(frozen=True)
class ChildExit:
    """How a child ended."""

    #: The exit status; negative for a signal (-9 is SIGKILL); None if it never ran.
    status: int | None
    #: The child outlived its timeout and its whole process group was killed.
    timed_out: bool
    duration: float

    @property
    def killed(self) -> bool:
        return self.status == -signal.SIGKILL and not self.timed_out


@dataclass
class ChildRun:
    """A finished child: how it ended and what it left in its run folder."""

    exit: ChildExit
    trace: list[Operation]
    output: str
    error: str
    output_file: Path
    #: Whether the phase returned (it may also have ended the process itself, status 0).
    returned: bool = True

    @property
    def exited_early(self) -> bool:
        """It ended with status 0 without its phase returning: ``os._exit(0)`` inside it."""
        return self.exit.status == 0 and not self.returned


def read_run(run_dir: Path, exit: ChildExit) -> ChildRun:
    """What a child left in ``run_dir``."""
    return ChildRun(
        exit,
        read_trace(run_dir),
        read_text(run_dir / OUTPUT),
        read_text(run_dir / ERROR),
        run_dir / OUTPUT,
        (run_dir / RETURNED).exists(),
    )


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a child's JSON lines file (a torn last line, from a kill, is dropped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").split("\n"):  # JSON lines end at \n only
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    return records


def read_states_index(run_dir: Path) -> tuple[dict[int, int], str | None]:
    """What a recording child's ``states.jsonl`` says: for each point whose crash state it
    kept, how much output the program had written by then; and why the recorder stopped
    copying states, if it did."""
    index = read_lines(run_dir / STATES_INDEX)
    outputs = {int(r["point"]): int(r["output"]) for r in index if "error" not in r}
    return outputs, next((str(r["error"]) for r in index if "error" in r), None)


def read_trace(run_dir: Path) -> list[Operation]:
    """The operations a child recorded, in order."""
    return [Operation.from_json(r) for r in read_lines(run_dir / TRACE)]


def read_text(path: Path, limit: int = 20_000) -> str:
    """A child's output or error file, cut to its last ``limit`` characters."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def output_until(run: ChildRun, size: int, limit: int = 20_000) -> str:
    """What a recording child had written to its output by a crash state (its last
    ``limit`` characters)."""
    try:
        with run.output_file.open("rb") as file:
            file.seek(max(0, size - 4 * limit))
            text = file.read(size - file.tell()).decode("utf-8", errors="replace")
    except OSError:  # gone: a newer recording replaced this one, or it was removed
        return run.output
    return text if len(text) <= limit and size <= 4 * limit else "[...]\n" + text[-limit:]
