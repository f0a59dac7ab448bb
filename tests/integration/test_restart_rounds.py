"""Restart rounds and nested recovery crashes, as the speed work left them.

* A round that performs nothing durable (no file mutation, commit or mutating request)
  ends recovery: no confirming round, no second observation of the world.
* A round that only commits to SQLite is not quiet: a confirming round follows.
* ``recovery-crash`` recovers the crash states one recording restart left, and runs a
  nested point the literal way when its state names the recording's own folder; both
  ways find the same.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crashkit.engine.explorer import Explorer
from crashkit.engine.workdir import new_work_dir
from crashkit.launch import make_launcher
from crashkit.scenario.scenario import Scenario


def _explore(scenario: Scenario, point: int, fault: str = "kill", killed: list | None = None):
    """Run one point; ``killed`` collects the nested points run as a restart killed there."""
    explorer = Explorer(scenario, "default", make_launcher(), new_work_dir())
    restart = explorer.restart

    def spy(world, run_dir, crash_at=None, record=False):
        if crash_at is not None and killed is not None:
            killed.append(crash_at)
        return restart(world, run_dir, crash_at, record)

    explorer.restart = spy  # type: ignore[method-assign]
    try:
        explorer.prepare()
        return explorer.run_point(point, fault)
    finally:
        explorer.close()


def _setup_db(world) -> None:
    with sqlite3.connect(world.path("state.db")) as db:
        db.execute("CREATE TABLE log (entry TEXT PRIMARY KEY)")


def _observe_all(world) -> dict:
    with sqlite3.connect(world.path("state.db")) as db:
        rows = [r[0] for r in db.execute("SELECT entry FROM log ORDER BY entry")]
    note = world.path("note")
    return {"rows": rows, "note": note.read_text() if note.exists() else None}


def test_a_round_that_only_commits_is_followed_by_a_confirming_round():
    def workload(world):
        world.path("note").write_text("n")

    def restart(world):
        with sqlite3.connect(world.path("state.db")) as db:  # a commit, no file operation
            db.execute("INSERT OR IGNORE INTO log VALUES ('recovered')")
            if db.total_changes == 0:
                db.rollback()

    scenario = Scenario(
        name="commits",
        setup=_setup_db,
        workload=workload,
        restart=restart,
        observe=_observe_all,
        crash_equivalence=False,  # the note a kill before it loses is not the point here
    )
    result = _explore(scenario, 1)
    assert not result.findings
    first, second = result.rounds
    assert any("sql.commit" in m for m in first.mutations) and first.changed
    assert second.quiet and second.operations == 0


def test_a_quiet_round_ends_recovery_without_observing_again():
    observed: list[str] = []

    def workload(world):
        world.path("note").write_text("n")

    def observe(world):
        observed.append("x")
        note = world.path("note")
        return {"note": note.read_text() if note.exists() else None}

    scenario = Scenario(
        name="quiet", setup=print, workload=workload, restart=print, observe=observe
    )
    explorer = Explorer(scenario, "default", make_launcher(), new_work_dir())
    try:
        explorer.prepare()
        observed.clear()  # the golden run is observed too: count from here
        result = explorer.run_point(explorer.points)  # after the write: nothing to recover
    finally:
        explorer.close()
    [only] = result.rounds
    assert only.quiet and not result.findings
    assert len(observed) == 1  # before recovery; the quiet round left that world


def test_a_quiet_round_leaving_a_world_that_cannot_be_observed_is_a_finding():
    def workload(world):
        world.path("note").write_text("n")

    def observe(world):
        return {"note": world.path("note").read_text()}  # raises while the note is missing

    scenario = Scenario(
        name="unobservable", setup=print, workload=workload, restart=print, observe=observe
    )
    result = _explore(scenario, 1)  # killed before the note was written; restart does nothing
    assert [f.invariant for f in result.findings] == ["observe"]
    assert "observing the world raised" in result.findings[0].message
    assert [r.exit for r in result.rounds] == ["unobservable"]


def _journal_restart(write_own_path: bool):
    """A recovery that removes the pending copy before writing the final file: a crash
    between the two loses the data (caught inside recovery only)."""

    def restart(world):
        where = world.path("where")
        if not where.exists():  # with write_own_path, every later state names its folder
            where.write_text(str(world.root) if write_own_path else "elsewhere")
        pending = world.path("data.tmp")
        if pending.exists():
            data = pending.read_text()
            pending.unlink()
            world.path("data").write_text(data)

    return restart


def _nested_outcomes(write_own_path: bool, killed: list[int]) -> list[tuple[int | None, list[str]]]:
    def workload(world):
        world.path("data.tmp").write_text("x")
        world.path("data.tmp").rename(world.path("data"))

    def observe(world):
        data = world.path("data")
        return {"data": data.read_text() if data.exists() else None}

    scenario = Scenario(
        name=f"deletes-first-{write_own_path}",
        setup=print,
        workload=workload,
        restart=_journal_restart(write_own_path),
        observe=observe,
    )
    result = _explore(scenario, 2, "recovery-crash", killed)  # before the rename: a replay
    return [
        (child.nested, sorted({f.invariant for f in child.findings})) for child in result.children
    ]


def test_recorded_nested_states_find_what_restarts_killed_there_find():
    killed: list[int] = []
    recorded = _nested_outcomes(False, killed)
    assert not killed  # every nested point from the one recording restart
    literal = _nested_outcomes(True, killed)  # states that name their folder: run literally
    assert killed and 1 not in killed  # all but the state before "where" was written
    assert any(found for _, found in recorded), recorded  # the crash after unlink loses data
    assert recorded == literal


def test_every_nested_state_is_removed_once_recovered(tmp_path: Path):
    def workload(world):
        world.path("data.tmp").write_text("x")
        world.path("data.tmp").rename(world.path("data"))

    scenario = Scenario(
        name="cleanup",
        setup=print,
        workload=workload,
        restart=_journal_restart(False),
        observe=lambda world: {"data": world.path("data").exists()},
    )
    base = tmp_path / "work"
    base.mkdir()
    explorer = Explorer(scenario, "default", make_launcher(), new_work_dir(str(base)))
    try:
        explorer.prepare()
        explorer.run_point(2, "recovery-crash")
        assert not list(base.rglob("restart-dry"))  # the point's folder is gone
    finally:
        explorer.close()
    assert not any(base.iterdir())
