"""The five variants a plain kill does not find, each damaged by its own fault.

For each: a kill sweep over its world finds nothing (it is clean under a kill);
its fault acted out by hand inside its window damages it, and the correct
engine survives the same (``test_kasten_faults.py`` sweeps the correct engine
under every fault).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kasten_support import (
    FAULT_VARIANTS,
    Opener,
    fill_build,
    merge_build,
    page_text,
    small_push_build,
    sync_until_quiet,
    synced,
)
from kasten_sweep import (
    Build,
    Run,
    damaged_points,
    fault_sweep,
    make_setup,
    power_cut_runs,
    run,
)
from notion_client.errors import RequestTimeoutError

from crashkit.demo import kasten
from crashkit.demo.kasten import cursor
from crashkit.demo.kasten.variants import (
    ERROR_DROPS_WAL,
    INPLACE_PWRITE,
    RECOVERY_DELETES_FIRST,
    RENAME_WITHOUT_FSYNC,
    RETRY_DUPLICATES,
)
from crashkit.remotes.notion.fake import FakeNotion


@pytest.fixture(autouse=True)
def _gc_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASTEN_GC_RETENTION", "0")


def _sync(engine: kasten.Engine) -> None:
    engine.sync()


#: variant -> the world whose sync opens its window
WORLDS: dict[str, Build] = {
    RENAME_WITHOUT_FSYNC: fill_build,
    RETRY_DUPLICATES: small_push_build,
    ERROR_DROPS_WAL: merge_build,
    RECOVERY_DELETES_FIRST: merge_build,
    INPLACE_PWRITE: merge_build,
}


def test_every_fault_variant_has_a_world() -> None:
    assert set(WORLDS) == set(FAULT_VARIANTS) <= set(kasten.VARIANTS)


# -- clean under a kill ----------------------------------------------------------------


@pytest.mark.parametrize("variant", FAULT_VARIANTS)
def test_a_kill_at_any_point_leaves_no_damage(variant: str, fast_path: Path) -> None:
    golden, runs = fault_sweep(fast_path, WORLDS[variant], "kill", bugs=[variant])
    assert golden.state["wal"] == [] and golden.state["error"] is None
    assert len(runs) == len(golden.log) + 1
    assert damaged_points(golden, runs) == []


# -- rename-without-fsync: a power cut -----------------------------------------------------


def _note_write(log: list[str], name: str) -> list[str]:
    """The operations of the atomic write of note ``name``, from the temp's open on."""
    start = log.index(f"open /notes/{name}")
    end = log.index(f"fsync /notes/{name.rpartition('/')[0]}", start)
    return [op.split()[0] for op in log[start : end + 1]]


def test_rename_without_fsync_renames_data_that_is_not_durable(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", fill_build)
    temp = "sub/.new.md.kasten-tmp"
    runs = {
        bool(b): run(setup, fast_path / str(len(b)), _sync, None, b)
        for b in ([RENAME_WITHOUT_FSYNC], [])
    }
    logs = {bug: _note_write(result.log, temp) for bug, result in runs.items()}
    assert logs == {
        False: ["open", "write", "fsync", "replace", "fsync"],
        True: ["open", "write", "replace", "fsync"],  # the folder's fsync stays
    }


def _after_the_last(golden: Run) -> list[int]:
    return [len(golden.log) + 1]


@pytest.mark.parametrize("bugs", [[RENAME_WITHOUT_FSYNC], []])
def test_a_power_cut_after_the_sync_empties_the_note_and_its_page(
    bugs: list[str], fast_path: Path
) -> None:
    golden, cuts = power_cut_runs(fast_path, fill_build, _after_the_last, bugs=bugs, states=1)
    [harshest] = cuts.values()
    assert golden.state["files"] == {"sub/new.md": "first paragraph\n\nsecond paragraph\n"}
    if bugs:  # the name survived, its data did not: taken for an edit, pushed
        assert harshest["files"] == {"sub/new.md": ""}
        assert [text for _, text in harshest["pages"].values()] == [""]  # type: ignore[attr-defined]
    else:
        assert {k: v for k, v in harshest.items() if k != "cut"} == golden.state


# -- retry-duplicates: a lost response --------------------------------------------------


def test_retry_duplicates_appends_twice_when_an_answer_is_lost(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    outcomes = {}
    for bugs in ([RETRY_DUPLICATES], []):
        name = f"{len(outcomes)}.md"
        page = synced(folder, fake, name, ["one"])
        engine = open_engine(bugs)
        (folder / name).write_text("two\n")
        fake.lose_next_response(method="PATCH", path="/children")  # applied, answer lost
        if bugs:
            assert engine.sync().pushed == [name]  # the retry got an answer
        else:
            with pytest.raises(kasten.RemoteError, match="no answer") as failure:
                engine.sync()
            # httpx.ReadTimeout, which the SDK raises as its RequestTimeoutError
            assert isinstance(failure.value.__cause__, RequestTimeoutError)
            assert not failure.value.answered
        sync_until_quiet(engine)
        outcomes[bool(bugs)] = (page_text(fake, page), engine.status()["pending"])
    assert outcomes == {True: ("two\n\ntwo\n", []), False: ("two\n", [])}


def test_retry_duplicates_is_caught_by_the_lost_response_sweep(fast_path: Path) -> None:
    golden, runs = fault_sweep(
        fast_path, small_push_build, "lost-response", bugs=[RETRY_DUPLICATES]
    )
    appends = [k for k in runs if golden.log[k - 1].startswith("PATCH")]
    assert damaged_points(golden, runs) == appends != []
    for k in appends:
        [(_, text)] = runs[k].state["pages"].values()  # type: ignore[attr-defined]
        body = "one\n\ntwo\n\nthree\n\nfour\n"
        assert text == f"{body}\n{body}"  # the new content twice


# -- error-drops-wal: an injected error ---------------------------------------------------


def test_error_drops_wal_merges_a_half_emptied_page_into_the_note(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    outcomes = {}
    for bugs in ([ERROR_DROPS_WAL], []):
        name = f"{len(outcomes)}.md"
        page = synced(folder, fake, name, ["one", "two", "three"])
        engine = open_engine(bugs)
        (folder / name).write_text("one\n\ntwo\n\nthree\n\nfour\n")
        second = fake.blocks(page)[1]["id"]
        fake.fail_next(500, method="DELETE", path=second)  # "one" is already gone
        with pytest.raises(kasten.RemoteError, match="500"):
            engine.sync()
        pending = len(engine.status()["pending"])
        sync_until_quiet(engine)
        outcomes[bool(bugs)] = (pending, (folder / name).read_text(), page_text(fake, page))
    assert outcomes == {
        True: (0, "two\n\nthree\n\nfour\n", "two\n\nthree\n\nfour\n"),  # "one" lost for good
        False: (1, "one\n\ntwo\n\nthree\n\nfour\n", "one\n\ntwo\n\nthree\n\nfour\n"),
    }


def test_error_drops_wal_leaves_a_merge_stale_when_its_push_fails(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    outcomes = {}
    for bugs in ([ERROR_DROPS_WAL], []):
        name = f"{len(outcomes)}.md"
        page = synced(folder, fake, name, ["one", "two", "three"])
        engine = open_engine(bugs)
        (folder / name).write_text("one\n\nmine\n\nthree\n")
        fake.set_blocks(page, ["one", "two", "three", "theirs"])
        fake.fail_next(503, method="DELETE")  # the merge's push, before it changed anything
        with pytest.raises(kasten.RemoteError, match="503"):
            engine.sync()
        sync_until_quiet(engine)
        outcomes[bool(bugs)] = page_text(fake, page) == (folder / name).read_text()
    assert outcomes == {True: False, False: True}


def test_error_drops_wal_is_caught_by_the_error_sweep_only_where_notion_answered(
    fast_path: Path,
) -> None:
    golden, runs = fault_sweep(fast_path, merge_build, "error", bugs=[ERROR_DROPS_WAL])
    damaged = damaged_points(golden, runs)
    assert damaged != []
    # every one a request of the merge's push answered with a 503 or a 429
    assert all(golden.log[k - 1].split()[0] in ("DELETE", "PATCH") and k % 3 != 2 for k in damaged)


# -- recovery-deletes-first: a crash during recovery ---------------------------------------


def test_recovery_deletes_first_loses_the_push_when_recovery_crashes(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", merge_build)
    outcomes = {}
    for bugs in ([RECOVERY_DELETES_FIRST], []):
        tag = "bug" if bugs else "ok"
        golden = run(setup, fast_path / f"golden-{tag}", _sync, None, bugs)
        k = 1 + next(i for i, op in enumerate(golden.log) if op.startswith("DELETE"))
        once = run(setup, fast_path / f"once-{tag}", _sync, k, bugs)
        assert once.journal_after_crash == [("merge", "committed")]
        assert once.state == golden.state  # a single crash: recovered
        count = run(setup, fast_path / f"count-{tag}", _sync, k, bugs, recovery_crash_at=0)
        twice = {
            j: run(setup, fast_path / f"twice-{tag}-{j}", _sync, k, bugs, recovery_crash_at=j)
            for j in range(1, count.recovery_ops + 1)
        }
        outcomes[tag] = [j for j, result in twice.items() if result.state != golden.state]
    assert outcomes["ok"] == []
    # the delete is the restart's first operation; a crash anywhere after it loses the push
    assert outcomes["bug"] == list(range(2, len(outcomes["bug"]) + 2)) != []


def test_recovery_deletes_first_leaves_the_merge_unpushed(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", merge_build)
    golden = run(setup, fast_path / "golden", _sync, None)
    k = 1 + next(i for i, op in enumerate(golden.log) if op.startswith("DELETE"))
    bugs = [RECOVERY_DELETES_FIRST]
    result = run(setup, fast_path / "twice", _sync, k, bugs, recovery_crash_at=2)
    merged = golden.state["files"]["a.md"].split("---\n")[-1]  # type: ignore[index]
    assert result.state["wal"] == [] and result.state["entities"] == golden.state["entities"]
    assert [text for _, text in result.state["pages"].values()] != [merged]  # type: ignore[attr-defined]


# -- inplace-pwrite: a torn write ------------------------------------------------------


def test_the_cursor_update_is_one_pwrite_in_place(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", merge_build)
    golden = run(setup, fast_path / "golden", _sync, None, [INPLACE_PWRITE])
    cursor_ops = [op for op in golden.log if "cursor" in op]
    assert cursor_ops == ["pwrite /notes/.kasten/cursor.json", "fsync /notes/.kasten/cursor.json"]
    assert golden.sizes[golden.log.index(cursor_ops[0]) + 1] == cursor.RECORD_SIZE


@pytest.mark.parametrize("world", ["merge", "pull"])
def test_a_torn_cursor_write_stops_every_later_start(world: str, fast_path: Path) -> None:
    # merge: the cursor is rewritten over the setup's; pull: written for the first time.
    build = {"merge": merge_build, "pull": fill_build}[world]
    outcomes = {}
    for bugs in ([INPLACE_PWRITE], []):
        golden, runs = fault_sweep(fast_path / str(len(bugs)), build, "torn", bugs=bugs)
        [(k, result)] = runs.items()  # the cursor's write is the only one past a sector
        assert "cursor.json" in golden.log[k - 1]
        outcomes[bool(bugs)] = result.state == golden.state, result.state["error"]
    assert outcomes[False] == (True, None)
    assert outcomes[True][0] is False
    assert "StateError" in str(outcomes[True][1]) and "is damaged" in str(outcomes[True][1])
