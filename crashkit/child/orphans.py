"""Descendants that leave their job's process group die with their job.

Killing a child's process group kills what the program started, unless a
descendant started a session of its own (``setsid``, a daemon's double fork).
Such a process is orphaned when its parent dies, and Linux hands it to the nearest
ancestor that declared itself a *subreaper* (``PR_SET_CHILD_SUBREAPER``) instead of
to init. crashkit's fork server (and the supervisor of a fresh-interpreter child) is
that subreaper: whatever it adopts is killed once the job it came from has ended.

A process is tied to its job by :data:`TAG` in its environment, which every child
sets and a program's children inherit. An adopted process without it (a program that
cleared its environment) is killed at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Collection
from pathlib import Path

__all__ = ["TAG", "become_subreaper", "kill", "kill_orphans"]

#: The environment variable naming the job a process belongs to.
TAG = "CRASHKIT_JOB"
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (False where Linux does not offer it)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def kill_orphans(jobs: Collection[int], running: Collection[str]) -> list[int]:
    """SIGKILL every child of this process that is not one of ``jobs`` (pids) and does
    not belong to a job still ``running`` (tags); the pids killed."""
    killed = []
    for pid in _children():
        if pid in jobs or _tag(pid) in running:
            continue
        kill(pid)
        killed.append(pid)
    return killed


def kill(pid: int) -> None:
    """SIGKILL ``pid``'s process group, and ``pid`` itself (it may lead none)."""
    for send in (os.killpg, os.kill):
        with contextlib.suppress(OSError):
            send(pid, signal.SIGKILL)


def _children() -> list[int]:
    """This process's children: from ``/proc/self/task/*/children``."""
    pids: list[int] = []
    for task in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in task.read_text().split()]
    return pids


def _tag(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{TAG}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None
