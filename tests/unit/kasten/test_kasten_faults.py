"""The correct engine under every fault beyond a kill, acted out in-process.

An injected error at any durable operation (OSError, SQLite's ``disk I/O
error``, an HTTP 503 / 429 / connect timeout) with the program living on; a
lost response (the request applied, a read timeout in the client); a torn
write; a power cut at any point (crashkit's power-loss model decides what the
disk keeps); a crash inside the first restart. After each, restarts reach the
world of the uncrashed run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from kasten_support import delete_build, fill_build, merge_build, small_push_build
from kasten_sweep import Build, damaged_points, fault_sweep, make_setup, power_cut_runs, run

from crashkit.demo import kasten


@pytest.fixture(autouse=True)
def _gc_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASTEN_GC_RETENTION", "0")


WORLDS: dict[str, Build] = {
    "push": small_push_build,
    "pull": fill_build,
    "merge": merge_build,
    "delete-gc": delete_build,
}


def _sync(engine: kasten.Engine) -> None:
    engine.sync()


def _sync_on_after_an_error(engine: kasten.Engine) -> None:
    """The program lives on after a failure: the same engine syncs again."""
    try:
        engine.sync()
    except (kasten.KastenError, OSError, sqlite3.Error):
        engine.sync()


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("fault", ["error", "lost-response", "torn"])
def test_every_fault_at_every_point_is_recovered(fault: str, world: str, fast_path: Path) -> None:
    golden, runs = fault_sweep(fast_path, WORLDS[world], fault)
    assert damaged_points(golden, runs) == []
    if fault == "torn":
        assert runs  # the poll cursor's write spans two sectors
    if fault == "lost-response" and world != "pull":
        assert runs  # every world but a pull changes the page


@pytest.mark.parametrize("world", ["push", "merge"])
def test_the_same_engine_syncs_on_after_any_error(world: str, fast_path: Path) -> None:
    # A failed COMMIT is rolled back, so the connection takes the next BEGIN.
    golden, runs = fault_sweep(fast_path, WORLDS[world], "error", workload=_sync_on_after_an_error)
    assert damaged_points(golden, runs) == []


@pytest.mark.parametrize("world", WORLDS)
def test_a_power_cut_at_any_point_is_recovered(world: str, fast_path: Path) -> None:
    golden, cuts = power_cut_runs(fast_path, WORLDS[world])
    assert len(cuts) > len(golden.log)
    damaged = {
        key: state["cut"] for key, state in cuts.items() if without_cut(state) != golden.state
    }
    assert damaged == {}


def without_cut(state: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in state.items() if key != "cut"}


@pytest.mark.parametrize("world", ["pull", "delete-gc"])
def test_a_crash_at_any_point_of_the_first_restart_is_recovered(
    world: str, fast_path: Path
) -> None:
    setup = make_setup(fast_path / "setup", WORLDS[world])
    golden = run(setup, fast_path / "golden", _sync, None)
    damaged = []
    for k in range(1, len(golden.log) + 2):
        count = run(setup, fast_path / f"count-{k}", _sync, k, recovery_crash_at=0)
        for j in range(1, count.recovery_ops + 1):
            result = run(setup, fast_path / f"twice-{k}-{j}", _sync, k, recovery_crash_at=j)
            if result.state != golden.state:
                damaged.append((k, j))
    assert damaged == []


def test_a_new_folder_is_made_durable_in_its_parent(fast_path: Path) -> None:
    golden = run(make_setup(fast_path / "setup", fill_build), fast_path / "golden", _sync, None)
    mkdir = golden.log.index("mkdir /notes/sub")
    assert golden.log[mkdir + 1] == "fsync /notes"
