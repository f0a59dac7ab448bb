"""Crash recovery: kill before every durable operation of each write path, recover, compare.

The sweep (``kasten_sweep.py``) leaves the journal in every state each path
goes through; recovery must reach the uncrashed run's world from all of them,
also when run twice, and also when it crashes itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kasten_support import delete_build, fill_build, merge_build, push_build, synced
from kasten_sweep import (
    Build,
    crash,
    differences,
    make_setup,
    open_entries,
    run,
    sweep,
    world_state,
)

from crashkit.demo import kasten
from crashkit.remotes.notion.fake import FakeNotion


@pytest.fixture
def gc_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASTEN_GC_RETENTION", "0")


SCENARIOS: dict[str, tuple[Build, set[tuple[str, str]]]] = {
    "push": (push_build, {("push", s) for s in ("pending", "target_written", "committed")}),
    "pull": (fill_build, {("pull", s) for s in ("pending", "target_written", "committed")}),
    "merge": (merge_build, {("merge", s) for s in ("pending", "target_written", "committed")}),
    "delete-gc": (
        delete_build,
        {(op, s) for op in ("delete", "gc") for s in ("pending", "target_written", "committed")},
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_crash_point_recovers_to_the_uncrashed_world(
    name: str, fast_path: Path, gc_now: None
) -> None:
    build, journal_states = SCENARIOS[name]
    golden, crashed = sweep(fast_path, build)
    runs = list(crashed)
    assert differences(golden, runs) == []
    assert golden.state["wal"] == [] and golden.rounds == 1  # drained, and quiet at once
    seen = {entry for result in runs for entry in result.journal_after_crash}
    assert seen == journal_states  # the sweep did leave every state behind


def test_recovering_twice_changes_nothing_the_second_time(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", merge_build)
    golden = run(setup, fast_path / "golden", _sync, None)
    for k in range(1, len(golden.log) + 1):
        world = fast_path / f"crash-{k}"
        crash(setup, world, _sync, k)
        with FakeNotion(world / "notion.sqlite3").mock():
            with kasten.Engine.open(world / "notes") as engine:
                engine.recover()
            once = world_state(world)
            with kasten.Engine.open(world / "notes") as engine:
                assert engine.recover() == 0
            assert world_state(world) == once


def test_a_crash_inside_recovery_is_recovered_too(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", merge_build)
    golden = run(setup, fast_path / "golden", _sync, None)
    # The first crash point leaving each journal state, then a crash at each step of
    # the recovery from there (counted by one uncrashed recovery).
    first_point: dict[tuple[str, str], int] = {}
    for k in range(1, len(golden.log) + 1):
        crash(setup, fast_path / f"probe-{k}", _sync, k)
        for entry in open_entries(fast_path / f"probe-{k}"):
            first_point.setdefault(entry, k)
    assert len(first_point) == 3
    for k in first_point.values():
        steps = run(setup, fast_path / f"count-{k}", _sync, k, recovery_crash_at=0)
        for j in range(1, steps.recovery_ops + 1):
            result = run(setup, fast_path / f"twice-{k}-{j}", _sync, k, recovery_crash_at=j)
            assert result.state == golden.state, (k, j, result.state)


def test_a_push_whose_remote_side_already_happened_is_not_sent_again(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", push_build)
    golden = run(setup, fast_path / "golden", _sync, None)
    last_patch = max(i for i, op in enumerate(golden.log) if op.startswith("PATCH"))
    world = fast_path / "crashed"
    crash(setup, world, _sync, last_patch + 2)  # the push is done; target_written is not
    fake = FakeNotion(world / "notion.sqlite3")
    before = len(fake.request_log())
    with fake.mock(), kasten.Engine.open(world / "notes") as engine:
        assert engine.recover() == 1
    assert {r["method"] for r in fake.request_log()[before:]} == {"GET"}
    assert world_state(world) == {k: golden.state[k] for k in world_state(world)}


def test_a_lost_response_to_the_append_is_healed_by_the_replay(
    folder: Path, fake: FakeNotion
) -> None:
    page = fake.create_page("a", blocks=["one"])
    kasten.link(folder, "a.md", page)
    with kasten.Engine.open(folder) as engine:
        engine.sync()
        (folder / "a.md").write_text("two\n")
        fake.lose_next_response(method="PATCH", path="/children")
        with pytest.raises(kasten.RemoteError, match="no answer"):
            engine.sync()
        assert engine.status()["pending"][0]["operation"] == "push"
        assert engine.sync().recovered == 1
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in fake.blocks(page)] == ["two"]


def test_a_pending_pull_does_not_overwrite_an_edit_made_while_kasten_was_down(
    fast_path: Path,
) -> None:
    def remote_edit(root: Path, fake: FakeNotion) -> None:
        page = synced(root, fake, "a.md", ["one"])
        fake.set_blocks(page, ["remote"])

    setup = make_setup(fast_path / "setup", remote_edit)
    world = fast_path / "w"
    crash(setup, world, _sync, 1 + 1)  # pull entry committed, file not yet written
    (world / "notes" / "a.md").write_text("edited meanwhile\n")
    with FakeNotion(world / "notion.sqlite3").mock(), kasten.Engine.open(world / "notes") as e:
        report = e.sync()
    assert report.conflicts == ["a.md"]  # abandoned, then merged: the edit is kept
    assert (world / "notes" / "a.md").read_text() == "edited meanwhile\n"


def test_the_instrumentation_sees_every_kind_of_durable_operation(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", fill_build)
    golden = run(setup, fast_path / "golden", _sync, None)
    kinds = {op.split()[0] for op in golden.log}
    assert {"commit", "mkdir", "open", "write", "fsync", "replace"} <= kinds


def _sync(engine: kasten.Engine) -> None:
    engine.sync()
