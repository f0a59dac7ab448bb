"""Each seeded bug variant a kill finds is real: damage inside its window, none from the
correct engine. (The five variants only another fault finds are in
``test_kasten_fault_variants.py``.)

Three views of each variant: a real SIGKILL of a child at a hand-picked point
inside the window; the in-process sweep over every point, which must find at
least one damaged world; and, where a fault shows it without any crash, the
remote failing at the wrong moment.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kasten_support import (
    FAULT_VARIANTS,
    Opener,
    delete_build,
    fill_build,
    merge_build,
    page_text,
    push_build,
    synced,
)
from kasten_sweep import (
    Build,
    differences,
    kill_in_child,
    make_setup,
    recovered,
    run,
    sweep,
)

from crashkit.demo import kasten
from crashkit.demo.kasten.variants import (
    CONFLICT_NO_WAL,
    GC_NO_WAL,
    INPLACE_WRITE,
    PUSH_NOT_IDEMPOTENT,
    RECOVERY_IGNORES_WAL,
    SHAPE_VARIANTS,
    VARIANTS,
    WAL_DELETE_BEFORE_PUSH,
)
from crashkit.remotes.notion.fake import FakeNotion

State = dict[str, object]


def first(prefix: str) -> Callable[[list[str]], int]:
    """The crash point just before the first operation starting with ``prefix``."""
    return lambda log: 1 + next(i for i, op in enumerate(log) if op.startswith(prefix))


def last(prefix: str) -> Callable[[list[str]], int]:
    return lambda log: 1 + max(i for i, op in enumerate(log) if op.startswith(prefix))


def at(k: int) -> Callable[[list[str]], int]:
    """The k-th durable operation, whatever it is (the same moment for both engines)."""
    return lambda log: k


def stale_remote(state: State) -> bool:
    """The note's page does not hold what the file holds."""
    files = state["files"]
    pages = state["pages"]
    assert isinstance(files, dict) and isinstance(pages, dict)
    body = next(iter(files.values())).split("---\n")[-1]
    return all(text != body for _, text in pages.values())


def duplicated(state: State) -> bool:
    pages = state["pages"]
    assert isinstance(pages, dict)
    return any(text.count("- line 7\n") > 1 for _, text in pages.values())


def leaked_base(state: State) -> bool:
    return state["entities"] == [] and state["base"] != []


def partial_note(state: State) -> bool:
    pages = state["pages"]
    assert isinstance(pages, dict)
    return all("second paragraph" not in text for _, text in pages.values())


def journal_left(state: State) -> bool:
    return state["wal"] != [] and stale_remote(state)


#: variant -> (setup, the point inside its window, the damage it causes there)
WINDOWS: dict[str, tuple[Build, Callable[[list[str]], int], Callable[[State], bool]]] = {
    CONFLICT_NO_WAL: (merge_build, first("DELETE"), stale_remote),
    WAL_DELETE_BEFORE_PUSH: (merge_build, first("DELETE"), stale_remote),
    # commit (journal), mkdir, fsync of the parent, open, write, then: the second write in
    # place / the temp's fsync
    INPLACE_WRITE: (fill_build, at(6), partial_note),
    RECOVERY_IGNORES_WAL: (merge_build, first("DELETE"), journal_left),
    GC_NO_WAL: (delete_build, last("commit"), leaked_base),
    PUSH_NOT_IDEMPOTENT: (push_build, first("DELETE"), duplicated),
}


#: The variants a plain kill finds; the others are clean under it.
KILL_VARIANTS = tuple(WINDOWS)


def test_every_variant_has_a_window() -> None:
    # The bugs of shape have their windows in generated worlds (test_kasten_shapes.py).
    assert set(WINDOWS) | set(FAULT_VARIANTS) == set(VARIANTS) - set(SHAPE_VARIANTS)
    assert not set(WINDOWS) & set(FAULT_VARIANTS)


@pytest.fixture(autouse=True)
def _gc_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASTEN_GC_RETENTION", "0")


def _sync(engine: kasten.Engine) -> None:
    engine.sync()


@pytest.mark.parametrize("variant", KILL_VARIANTS)
def test_a_kill_inside_the_window_damages_the_variant_not_the_correct_engine(
    variant: str, fast_path: Path
) -> None:
    build, point, damaged = WINDOWS[variant]
    setup = make_setup(fast_path / "setup", build)
    for bugs, expect_damage in (([variant], True), ([], False)):
        golden = run(setup, fast_path / f"golden-{bugs}", _sync, None, bugs)
        world = fast_path / f"killed-{bugs}"
        k = point(golden.log)
        assert kill_in_child(setup, world, _sync, k, bugs) == signal.SIGKILL
        _, state = recovered(world, bugs)
        assert damaged(state) is expect_damage, (bugs, golden.log[k - 1], state)
        assert (state == golden.state) is not expect_damage


@pytest.mark.parametrize("variant", KILL_VARIANTS)
def test_the_sweep_finds_every_variant(variant: str, fast_path: Path) -> None:
    build, _, _ = WINDOWS[variant]
    golden, crashed = sweep(fast_path, build, bugs=[variant])
    assert golden.state["wal"] == []  # uncrashed, the variant works
    assert differences(golden, crashed, first_only=True) != []


def test_wal_delete_before_push_leaves_a_failed_push_silently_stale(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    outcomes = {}
    for bugs in ([WAL_DELETE_BEFORE_PUSH], []):
        page = synced(folder, fake, f"{len(outcomes)}.md", ["one", "two", "three"])
        note = folder / f"{len(outcomes)}.md"
        engine = open_engine(bugs)
        note.write_text("one\n\nmine\n\nthree\n")
        fake.set_blocks(page, ["one", "theirs", "three"])
        fake.fail_next(500, method="DELETE")  # the push's first request
        with pytest.raises(kasten.RemoteError):
            engine.sync()
        pending = len(engine.status()["pending"])
        engine.sync()
        outcomes[bool(bugs)] = (pending, page_text(fake, page) == note.read_text())
    assert outcomes == {True: (0, False), False: (1, True)}


def test_push_not_idempotent_duplicates_content_when_a_delete_fails(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = synced(folder, fake, "a.md", ["old"])
    engine = open_engine([PUSH_NOT_IDEMPOTENT])
    (folder / "a.md").write_text("new\n")
    fake.fail_next(503, method="DELETE")
    with pytest.raises(kasten.RemoteError):
        engine.sync()
    engine.sync()
    assert page_text(fake, page) == "new\n\nnew\n"


def test_recovery_ignores_wal_only_counts_the_entries(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    synced(folder, fake, "a.md", ["old"])
    (folder / "a.md").write_text("new\n")
    fake.fail_next(500, method="DELETE")
    with pytest.raises(kasten.RemoteError):
        open_engine().sync()
    engine = open_engine([RECOVERY_IGNORES_WAL])
    assert engine.recover() == 1
    assert engine.recover() == 1  # nothing was replayed
    assert open_engine().recover() == 1
    assert open_engine().recover() == 0


def test_gc_no_wal_deletes_the_row_before_anything_else(
    folder: Path, fake: FakeNotion, open_engine: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASTEN_GC_RETENTION", "1000")
    synced(folder, fake, "a.md", ["bye"])
    (folder / "a.md").unlink()
    engine = open_engine([GC_NO_WAL])
    assert engine.sync().deleted == ["a.md"]
    engine.clock = lambda: time.time() + 2000
    fake.fail_next(500, method="GET", path="/pages/")  # the GC's look at the page
    with pytest.raises(kasten.RemoteError):
        engine.sync()
    db = sqlite3.connect(folder / ".kasten" / "state.db")
    assert db.execute("SELECT count(*) FROM entity_map").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM sync_wal").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM base_content").fetchone() == (1,)  # leaked for good
    db.close()
    assert not engine.sync().changed
