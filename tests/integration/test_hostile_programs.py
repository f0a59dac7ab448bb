"""The catalog of hostile programs: each is named rightly (a finding, or a broken
scenario with the fix), and none leaves anything behind: no process, no work folder.

Hostile input has its catalog in ``tests/integration/test_usage_errors.py`` (command
lines, scenario files, output paths, the fake's port and store) and
``tests/unit/test_results_file.py`` (results files); the loopback fake under load is
``tests/integration/test_remote_load.py``; a sweep killed by SIGTERM, SIGINT or SIGKILL
and resumed is in ``tests/integration/test_runner.py``; hostile text in every field of
the report in ``tests/integration/test_report.py``.
"""

from __future__ import annotations

import os
import pathlib
import time
import uuid

import pytest
from leftovers import nothing_left, running

from crashkit import LAUNCHERS, Sweep, load_scenarios

TOYS = pathlib.Path(__file__).parents[1] / "toys"


@pytest.fixture(autouse=True)
def nothing_left_behind():
    with nothing_left("a sweep"):
        yield


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
    while running(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = running(mark)
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
    bundled = TOYS.parent.parent / "crashkit" / "demo" / "scenarios"
    scenarios = load_scenarios([bundled], ["conflict"])
    summaries = Sweep(scenarios, variants=["correct"], sample=1, jobs=2).run()
    assert all(s.by_invariant["isolated"] == 0 for s in summaries)


def test_an_observe_returning_what_json_cannot_hold_is_named_not_an_endless_re_merge():
    summary = _summary("odd_observe")
    assert summary.by_invariant["observe"] >= 1 and summary.by_invariant["converges"] == 0


def test_a_setup_that_raises_breaks_its_variant_with_the_traceback():
    summary = _summary("broken_setup")
    assert "setup raised" in summary.error and "the fixture file is missing" in summary.error
    assert "fix:" in summary.error and summary.points == 0


def test_a_recovery_that_hangs_is_a_no_hang_finding_and_is_killed():
    summary = _summary("hung_restart")
    assert summary.error is None
    assert summary.by_invariant["no-hang"] == summary.points == summary.failed > 0


def test_an_invariant_that_raises_instead_of_asserting_is_named_as_broken():
    summary = _summary("raising_invariant")
    assert summary.by_invariant["invariant_raises"] >= 1
