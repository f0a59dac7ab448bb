"""Probes: what sees the durable operations of the program under test, inside a child.

Layer: the probes run inside children, next to the program. They import only
``crashkit.model`` (plain data: :mod:`crashkit.model.operation`) and
``crashkit.errors``, besides ``crashkit.probes`` itself; nothing of the engine.

Each probe is a package behind the small :class:`Probe` protocol, listed in
:data:`PROBES` under the name a child job asks for:

* ``python`` (:mod:`crashkit.probes.python`): patches a Python program's own
  interpreter;
* ``syscall`` (:mod:`crashkit.probes.syscall`): stops the system calls of a command's
  whole process tree, in any language (black-box mode; a child uses it for every
  phase that is a :class:`crashkit.Command`).

A new probe is one new package and one line here. :mod:`crashkit.probes.quiet` is
the switch that hides crashkit's own writes from every probe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from crashkit.model.operation import Operation
from crashkit.probes.python.inprocess import PYTHON_PROBE
from crashkit.probes.syscall import SYSCALL_PROBE

__all__ = ["PROBES", "Probe", "Recording"]


class Recording(Protocol):
    """One phase being recorded."""

    @property
    def count(self) -> int:
        """How many operations were recorded so far (the last one's index)."""
        ...


class Probe(Protocol):
    """What any probe offers the child that runs a phase of the program."""

    #: Its key in :data:`PROBES`.
    name: str
    #: One line saying what it sees and how.
    summary: str

    def install(self) -> None:
        """Prepare this process, before the program is imported (idempotent)."""
        ...

    def start(
        self,
        world: str | os.PathLike[str],
        trace: Callable[[Operation], None],
        decide: Callable[[Operation, Any], None] | None = None,
        *,
        program: Sequence[str] = (),
        program_files: Sequence[str] = (),
        project_root: str | os.PathLike[str] | None = None,
        want_data: bool = False,
        escape: Callable[[Operation], None] | None = None,
    ) -> Recording:
        """Record the phase that runs next.

        Args:
            world: the world's root; only operations on paths below it count.
            trace: receives every operation as it is recorded, before it runs.
            decide: called after ``trace``, before the operation runs, with the
                probe's payload for it: returns to let it run, raises to make it
                fail, or kills the process.
            program: module-name prefixes of the program, to find the caller.
            program_files: source files that always count as the program's.
            project_root: source files below it are shown relative to it.
            want_data: capture written bytes in payloads (the torn-write and
                power-loss faults need them).
            escape: told once of each file the program changes outside the world
                (an operation whose target is the absolute path).
        """
        ...

    def stop(self) -> None:
        """Stop recording (harmless when nothing records)."""
        ...


#: Every probe, by name (a child job's ``probe``).
PROBES: dict[str, Probe] = {probe.name: probe for probe in (PYTHON_PROBE, SYSCALL_PROBE)}
