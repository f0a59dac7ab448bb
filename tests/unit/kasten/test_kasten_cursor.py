"""The poll cursor: one fixed-size record, written atomically, refused when damaged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from kasten_support import Opener, synced
from kasten_sweep import make_setup, run

from crashkit.demo import kasten
from crashkit.demo.kasten import cursor
from crashkit.demo.kasten.cli import main
from crashkit.remotes.notion.fake import FakeNotion


def _sync(engine: kasten.Engine) -> None:
    engine.sync()


def test_a_sync_that_changes_something_records_it(
    folder: Path, fake: FakeNotion, open_engine: Opener, capsys: pytest.CaptureFixture[str]
) -> None:
    assert open_engine().status()["last_change"] is None
    page = synced(folder, fake, "a.md", ["one"])
    edited = fake.page(page)["last_edited_time"]
    last = open_engine().status()["last_change"]
    assert (last["syncs"], last["notes"], last["newest_edit"]) == (1, 1, edited)
    assert main(["--dir", str(folder), "status"]) == 0
    assert "last change: sync #1, finished " in capsys.readouterr().out
    record = (folder / ".kasten" / cursor.CURSOR_FILE).read_bytes()
    assert len(record) == cursor.RECORD_SIZE
    assert not open_engine().sync().changed
    assert (folder / ".kasten" / cursor.CURSOR_FILE).read_bytes() == record  # left alone


def test_a_sync_with_nothing_to_do_writes_nothing(fast_path: Path) -> None:
    setup = make_setup(fast_path / "setup", lambda root, fake: synced(root, fake, "a.md", ["x"]))
    assert run(setup, fast_path / "quiet", _sync, None).log == []


def test_a_quiet_sync_removes_a_cursor_write_a_crash_left(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    synced(folder, fake, "a.md", ["one"])
    leftover = folder / ".kasten" / f".{cursor.CURSOR_FILE}.kasten-tmp"
    leftover.write_text('{"syncs": 9')
    assert not open_engine().sync().changed
    assert not leftover.exists()


def test_a_damaged_cursor_is_refused_with_its_fix(
    folder: Path, fake: FakeNotion, capsys: pytest.CaptureFixture[str]
) -> None:
    synced(folder, fake, "a.md", ["one"])
    state = folder / ".kasten"
    assert cursor.load(state).syncs == 1
    new = cursor.encode(cursor.Cursor(syncs=2, finished_at="2030-01-01T00:00:00.000+00:00"))
    with open(state / cursor.CURSOR_FILE, "r+b") as handle:
        handle.write(new[:512])  # the first sector of a rewrite in place, not the second
    with pytest.raises(kasten.StateError, match="checksum does not match"):
        kasten.Engine.open(folder)
    assert main(["--dir", str(folder), "sync"]) == 2
    assert "delete it" in capsys.readouterr().err
    (state / cursor.CURSOR_FILE).unlink()  # the fix: the next sync starts a new cursor
    with kasten.Engine.open(folder) as engine:
        assert engine.status()["last_change"] is None
        assert not engine.sync().changed


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (b"{}", "2 bytes, not 1024"),
        (b"x" * cursor.RECORD_SIZE, "checksum"),
        (cursor.encode(cursor.Cursor(syncs=3))[:512], "512 bytes"),
        (cursor.encode(cursor.Cursor(syncs=3)), None),
    ],
)
def test_only_a_whole_record_is_a_cursor(record: bytes, problem: str | None) -> None:
    if problem is None:
        assert cursor.decode(record, Path("c")) == cursor.Cursor(syncs=3)
    else:
        with pytest.raises(kasten.StateError, match=problem):
            cursor.decode(record, Path("c"))


def test_a_well_formed_record_of_something_else_is_damaged() -> None:
    head = b'{"version": 2}'.ljust(cursor.RECORD_SIZE - 66) + b"\n"
    record = head + hashlib.sha256(head).hexdigest().encode() + b"\n"
    with pytest.raises(kasten.StateError, match="not a version 1 cursor"):
        cursor.decode(record, Path("c"))


def test_a_missing_or_empty_cursor_is_a_folder_never_synced(tmp_path: Path) -> None:
    assert cursor.load(tmp_path) == cursor.Cursor()
    (tmp_path / cursor.CURSOR_FILE).write_bytes(b"")  # killed between create and write
    assert cursor.load(tmp_path) == cursor.Cursor()
