"""Hostile programs leave nothing behind: every process they start dies with its point."""

from __future__ import annotations

import os
import pathlib
import time
import uuid

import pytest

from crashkit import LAUNCHERS, Sweep, load_scenarios

TOYS = pathlib.Path(__file__).parents[1] / "toys"


def _running(mark: str) -> list[int]:
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if mark.encode() in command and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_grandchild_in_a_session_of_its_own_dies_with_its_point(monkeypatch, launcher):
    mark = f"crashkit-toy-daemon-{uuid.uuid4().hex}"
    monkeypatch.setenv("TOY_DAEMON_MARK", mark)
    sweep = Sweep(load_scenarios([TOYS / "toy_daemon.py"]), launcher=launcher, jobs=2)
    summaries = sweep.run()
    assert summaries[0].points > 0 and summaries[0].error is None
    deadline = time.monotonic() + 10
    while _running(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _running(mark)
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, 9)
    assert not left, f"{len(left)} grandchildren outlived the sweep"
