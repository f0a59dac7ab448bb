"""Restart rounds and nested recovery crashes.

* A round is quiet when it made no file mutation or mutating request and left the same
  observed state: a round that only commits to SQLite, or changes files the probe
  cannot see (a subprocess), is followed by one more; a restart that runs
  ``CREATE TABLE IF NOT EXISTS`` every time still settles.
* The world is observed before recovery and after each round, once each.
* ``recovery-crash`` recovers the crash states one recording restart left, runs its
  deepest nested point the literal way (a restart child killed there), and every nested
  point that way when a state names the recording's folder, when the recording failed
  or ran out of time, or under ``--kill-each-point``; each way finds the same.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
from pathlib import Path

from crashkit.engine.explorer import Explorer
from crashkit.engine.workdir import new_work_dir
from crashkit.launch import make_launcher
from crashkit.model.process import ChildExit
from crashkit.scenario.scenario import Scenario


def _nothing(world) -> None:
    """A phase with nothing to do."""


def _explorer(scenario: Scenario, killed: list[int] | None = None, **kwargs) -> Explorer:
    """An explorer whose restarts killed at a nested point are noted in ``killed``."""
    explorer = Explorer(scenario, "default", make_launcher(), new_work_dir(), **kwargs)
    restart = explorer.restart

    def spy(world, run_dir, crash_at=None, record=False):
        if crash_at is not None and killed is not None:
            killed.append(crash_at)
        return restart(world, run_dir, crash_at, record)

    explorer.restart = spy  # type: ignore[method-assign]
    return explorer


def _explore(scenario: Scenario, point: int, fault: str = "kill", **kwargs):
    explorer = _explorer(scenario, **kwargs)
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


def _write_note(world) -> None:
    world.path("note").write_text("n")


def test_a_round_that_only_commits_is_followed_by_a_confirming_round():
    def restart(world):
        with sqlite3.connect(world.path("state.db")) as db:  # a commit, no file operation
            db.execute("INSERT OR IGNORE INTO log VALUES ('recovered')")

    scenario = Scenario(
        name="commits",
        setup=_setup_db,
        workload=_write_note,
        restart=restart,
        observe=_observe_all,
        crash_equivalence=False,  # the note a kill before it loses is not the point here
    )
    result = _explore(scenario, 1)
    assert not result.findings
    first, second = result.rounds
    assert first.changed and not first.quiet  # the row it added shows in the state
    assert second.quiet


def test_a_restart_repeating_idempotent_sql_settles():
    def restart(world):
        with sqlite3.connect(world.path("state.db")) as db:  # every start, changing nothing
            db.execute("CREATE TABLE IF NOT EXISTS log (entry TEXT PRIMARY KEY)")
            db.execute("INSERT OR IGNORE INTO log VALUES ('started')")
        if not world.path("note").exists():
            world.path("note").write_text("n")

    scenario = Scenario(
        name="idempotent",
        setup=_setup_db,
        workload=_write_note,
        restart=restart,
        observe=_observe_all,
    )
    result = _explore(scenario, 1)
    assert not result.findings, result.findings
    assert result.rounds[-1].quiet and len(result.rounds) == 2


def test_a_change_the_probe_cannot_see_is_observed_and_confirmed():
    def workload(world):
        world.path("note.tmp").write_text("n")
        world.path("note.tmp").rename(world.path("note"))

    def restart(world):  # finishes the rename in a subprocess: no operation the probe sees
        if world.path("note.tmp").exists():
            subprocess.run(["mv", str(world.path("note.tmp")), str(world.path("note"))], check=True)

    def observe(world):
        return {name: world.path(name).exists() for name in ("note", "note.tmp")}

    scenario = Scenario(
        name="blind", setup=_nothing, workload=workload, restart=restart, observe=observe
    )
    result = _explore(scenario, 3)  # after the write, before the rename
    assert not result.findings, result.findings  # the recovered world, not the crashed one
    first, second = result.rounds
    assert first.changed and not first.mutations and second.quiet


def test_the_world_is_observed_before_recovery_and_after_each_round_once():
    observed: list[str] = []

    def restart(world):
        if not world.path("note").exists():
            world.path("note").write_text("n")

    def observe(world):
        observed.append("x")
        note = world.path("note")
        return {"note": note.read_text() if note.exists() else None}

    scenario = Scenario(
        name="count", setup=_nothing, workload=_write_note, restart=restart, observe=observe
    )
    explorer = _explorer(scenario)
    try:
        explorer.prepare()
        observed.clear()  # the golden run is observed too: count from here
        result = explorer.run_point(1)  # killed before the note: recovery writes it
    finally:
        explorer.close()
    assert len(result.rounds) == 2 and not result.findings
    assert len(observed) == 1 + len(result.rounds)


def test_a_quiet_round_leaving_a_world_that_cannot_be_observed_is_a_finding():
    def observe(world):
        return {"note": world.path("note").read_text()}  # raises while the note is missing

    scenario = Scenario(
        name="unobservable", setup=_nothing, workload=_write_note, restart=_nothing, observe=observe
    )
    result = _explore(scenario, 1)  # killed before the note was written; restart does nothing
    assert [f.invariant for f in result.findings] == ["observe"]
    assert "observing the world raised" in result.findings[0].message
    assert [r.exit for r in result.rounds] == ["unobservable"]


# -- recovery-crash --------------------------------------------------------------------


def _deletes_first(write_own_path: bool):
    """A recovery that removes the pending copy before writing the final file: a crash
    between the two loses the data (caught inside recovery only). It prints before each
    step, so each nested point has its own output."""

    def restart(world):
        where = world.path("where")
        if not where.exists():  # with write_own_path, every later state names its folder
            where.write_text(str(world.root) if write_own_path else "elsewhere")
        pending = world.path("data.tmp")
        if pending.exists():
            data = pending.read_text()
            print("removing the pending copy", flush=True)
            pending.unlink()
            print("writing the data", flush=True)
            world.path("data").write_text(data)

    def workload(world):
        world.path("data.tmp").write_text("x")
        world.path("data.tmp").rename(world.path("data"))

    def observe(world):
        data = world.path("data")
        return {"data": data.read_text() if data.exists() else None}

    return Scenario(
        name=f"deletes-first-{write_own_path}",
        setup=_nothing,
        workload=workload,
        restart=restart,
        observe=observe,
    )


def _nested(scenario: Scenario, killed: list[int], **kwargs) -> list[tuple]:
    result = _explore(scenario, 2, "recovery-crash", killed=killed, **kwargs)  # a replay
    return [
        (child.nested, sorted({f.invariant for f in child.findings}), child.output)
        for child in result.children
    ]


def test_recorded_nested_states_find_what_restarts_killed_there_find():
    recorded_killed: list[int] = []
    recorded = _nested(_deletes_first(False), recorded_killed)
    literal_killed: list[int] = []
    literal = _nested(_deletes_first(True), literal_killed)  # states name their folder
    nested = [n for n, _, _ in recorded]
    # Recorded: only the deepest operation is run the literal way (the determinism check).
    [deepest] = recorded_killed
    assert deepest in nested and len([n for n in nested if n > deepest]) <= 1  # N+1 aside
    # All but the states before "where" holds the path: before it is created, and written.
    assert set(literal_killed) == set(nested) - {1, 2}
    assert any(found for _, found, _ in recorded), recorded  # the crash after unlink
    assert recorded == literal  # the same findings, and the same output up to each point


def test_kill_each_point_runs_every_nested_point_the_literal_way():
    killed: list[int] = []
    literal = _nested(_deletes_first(False), killed, record_kills=False)
    assert sorted(killed) == [n for n, _, _ in literal]
    assert literal == _nested(_deletes_first(False), [])


def test_a_recording_that_ran_out_of_time_is_run_again_without_it():
    killed: list[int] = []
    explorer = _explorer(_deletes_first(False), killed)
    spied = explorer.restart

    def out_of_time(world, run_dir, crash_at=None, record=False):
        run = spied(world, run_dir, crash_at, record)
        if record:  # as if copying the states had outlived the child's time
            late = ChildExit(None, True, run.exit.duration)
            return dataclasses.replace(run, exit=late)
        return run

    explorer.restart = out_of_time  # type: ignore[method-assign]
    try:
        explorer.prepare()
        result = explorer.run_point(2, "recovery-crash")
    finally:
        explorer.close()
    assert sorted(killed) == [child.nested for child in result.children]  # all literal
    assert not any("no-hang" in f.invariant for f in result.findings)  # not the program's


def test_recorded_states_no_point_took_are_not_kept(tmp_path: Path):
    base = tmp_path / "work"
    base.mkdir()
    scenario = _deletes_first(False)
    explorer = Explorer(
        scenario, "default", make_launcher(), new_work_dir(str(base)), keep_worlds=True
    )
    try:
        explorer.prepare()
        result = explorer.run_point(2, "recovery-crash")
        kept = [p for p in base.rglob("*") if p.is_dir()]
        assert not [p for p in kept if p.name == "states"]  # only recovered states remain
        failing = next(child for child in result.children if child.findings)
        point = next(p for p in kept if p.name.startswith("recovery-crash-p002"))
        assert (point / f"r{failing.nested:03d}" / "world").is_dir()  # the failed world
    finally:
        explorer.close()
    assert not any(base.iterdir())
