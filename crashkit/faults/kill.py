"""``kill``: SIGKILL right before operation k (k = N+1: after the last one).

Nothing the process had not handed to the OS survives: Python's and SQLite's buffers
and an unfinished transaction are lost alike, while the page cache is not (a kill
is not a power cut). Its crash states can therefore be recorded in one run of the
workload (:mod:`crashkit.engine.recording`).
"""

from __future__ import annotations

from crashkit.faults.base import FaultKind

__all__ = ["Kill"]


class Kill(FaultKind):
    name = "kill"
    summary = "SIGKILL right before each durable operation, and after the last"
    injection = "killed right before it"
    after_last = True
    recordable = True
    boundaries_only = True
