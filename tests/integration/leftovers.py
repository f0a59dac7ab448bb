"""What a test may not leave behind: sweep work folders and processes (shared by the
tests of hostile and black-box programs)."""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

from crashkit.engine.workdir import default_work_base


def work_folders() -> set[pathlib.Path]:
    """This process's sweep folders (see crashkit.engine.workdir)."""
    return set(default_work_base().glob(f"crashkit-{os.getpid()}-*"))


def children() -> set[int]:
    """This process's child processes, the shared fork servers aside."""
    pids = set()
    for task in pathlib.Path("/proc/self/task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"crashkit.child.forkserver" not in command:
                pids.add(int(pid))
    return pids


def running(mark: str) -> list[int]:
    """Live processes with ``mark`` in an argument of their command line."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if any(mark.encode() in part for part in command) and state != "Z":
            found.append(int(entry.name))
    return found


@contextmanager
def nothing_left(what: str) -> Iterator[None]:
    """Assert that the block (``what``: "a sweep", "a test") leaves no new work folder and,
    after a grace of 5 s, no new child process."""
    folders, before = work_folders(), children()
    yield
    assert work_folders() <= folders, f"{what} left its work folder"
    deadline = time.monotonic() + 5
    while children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not children() - before, f"{what} left a child process running"
