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
@pytest.mark.parametrize("name", ["daemon", "hung"])
def test_a_grandchild_in_a_session_of_its_own_dies_with_its_point(monkeypatch, launcher, name):
    """Whether its job ends (daemon) or hangs and is stopped at its timeout (hung)."""
    mark = f"crashkit-toy-daemon-{uuid.uuid4().hex}"
    monkeypatch.setenv("TOY_DAEMON_MARK", mark)
    scenarios = load_scenarios([TOYS / "toy_daemon.py"], [name])
    summaries = Sweep(scenarios, launcher=launcher, jobs=2).run()
    if name == "daemon":
        assert summaries[0].points > 0 and summaries[0].error is None
    else:
        assert "did not finish within 2" in (summaries[0].error or "")
    deadline = time.monotonic() + 10
    while _running(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _running(mark)
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, 9)
    assert not left, f"{len(left)} grandchildren outlived the sweep"


def _summary(name):
    (summary,) = Sweep(load_scenarios([TOYS / "toy_hostile.py"], [name]), jobs=2).run()
    return summary


def test_a_workload_that_ends_its_process_half_way_is_not_taken_for_a_golden_run():
    summary = _summary("exits")
    assert summary.error is not None and "before returning, as os._exit() does" in summary.error
    assert summary.points == 0


def test_a_restart_that_ends_its_process_before_returning_is_a_finding():
    summary = _summary("restart_exits")
    assert summary.by_invariant["recovery-dies"] >= 1


def test_a_program_that_shuffles_its_operations_per_process_is_found_at_point_0():
    for _ in range(3):  # two dry runs agree on one order in 720: every sweep sees it
        summary = _summary("shuffled")
        assert summary.by_invariant["deterministic"] >= 1


def test_writes_outside_the_world_are_a_finding_about_the_scenario(tmp_path, monkeypatch):
    log = tmp_path / "outside.log"
    monkeypatch.setenv("TOY_OUTSIDE_LOG", str(log))
    summary = _summary("outside")
    assert summary.by_invariant["isolated"] == 1  # the golden run: once, not per point
    assert log.read_text().count("ran") >= 2  # what every point appended to


def test_the_bundled_engine_changes_nothing_outside_its_world():
    """No false alarm on a real engine (files, SQLite, a fake remote, temp files)."""
    scenarios = load_scenarios([TOYS.parent.parent / "scenarios"], ["conflict"])
    summaries = Sweep(scenarios, variants=["correct"], sample=1, jobs=2).run()
    assert all(s.by_invariant["isolated"] == 0 for s in summaries)


def test_an_observe_returning_what_json_cannot_hold_is_named_not_an_endless_re_merge():
    summary = _summary("odd_observe")
    assert summary.by_invariant["observe"] >= 1 and summary.by_invariant["converges"] == 0
