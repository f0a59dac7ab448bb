"""Every path of one sync cycle, against the fake Notion in-process."""

from __future__ import annotations

import sqlite3
import time
from contextlib import ExitStack
from pathlib import Path

import notion_client
import pytest
from kasten_support import Opener, page_text, sync_until_quiet

from crashkit.demo import kasten
from crashkit.demo.kasten.markdown import content_hash
from crashkit.remotes.notion.fake import FakeNotion


def db_rows(folder: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(folder / ".kasten" / "state.db") as db:
        return list(db.execute(sql))


def linked(folder: Path, fake: FakeNotion, name: str, blocks: list[str], text: str | None) -> str:
    """A page holding ``blocks``, linked to ``name`` (written with ``text`` unless None)."""
    page = fake.create_page(name, blocks=blocks)
    if text is not None:
        (folder / name).write_text(text)
    kasten.link(folder, name, page)
    return page


def test_first_sync_fills_a_missing_file_from_its_page(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "inbox.md", ["hello", "world"], None)
    report = open_engine().sync()
    assert report.pulled == ["inbox.md"]
    assert (folder / "inbox.md").read_text() == "hello\n\nworld\n"
    assert db_rows(folder, "SELECT last_local_hash, last_remote_hash FROM entity_map") == [
        (content_hash("hello\n\nworld\n"), content_hash(page_text(fake, page)))
    ]


def test_first_sync_fills_an_empty_file_and_an_empty_page(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    linked(folder, fake, "empty-file.md", ["from notion"], "")
    page = linked(folder, fake, "empty-page.md", [], "from disk\n")
    report = open_engine().sync()
    assert (report.pulled, report.pushed) == (["empty-file.md"], ["empty-page.md"])
    assert (folder / "empty-file.md").read_text() == "from notion\n"
    assert page_text(fake, page) == "from disk\n"


def test_first_sync_of_two_different_sides_keeps_local_and_records_a_conflict(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["remote"], "local\n")
    report = open_engine().sync()
    assert report.conflicts == ["a.md"]
    assert page_text(fake, page) == "local\n" == (folder / "a.md").read_text()


def test_first_sync_of_equal_sides_writes_nothing(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    linked(folder, fake, "a.md", ["same"], "same\n")
    before = len(fake.request_log())
    report = open_engine().sync()
    assert report.adopted == ["a.md"]
    assert all(r["method"] == "GET" for r in fake.request_log()[before:])


def test_local_edit_is_pushed_and_the_next_cycle_is_quiet(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    (folder / "a.md").write_text("# Title\n\n- one\n- two\n")
    assert engine.sync().pushed == ["a.md"]
    assert page_text(fake, page) == "# Title\n\n- one\n- two\n"
    before = len(fake.request_log())
    assert not engine.sync().changed
    assert [r["method"] for r in fake.request_log()[before:]] == ["GET"]  # poll only, no fetch


def test_remote_edit_is_pulled(folder: Path, fake: FakeNotion, open_engine: Opener) -> None:
    page = linked(folder, fake, "a.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    fake.set_blocks(page, ["two"])
    assert engine.sync().pulled == ["a.md"]
    assert (folder / "a.md").read_text() == "two\n"


def test_a_remote_touch_without_change_is_remembered_not_pulled(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    fake.set_blocks(page, ["one"])  # same content, new edit time
    report = engine.sync()
    assert (report.touched, report.pulled) == (["a.md"], [])
    assert not engine.sync().changed


def test_both_sides_edited_apart_merge_cleanly(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["one", "two", "three"], None)
    engine = open_engine()
    engine.sync()
    (folder / "a.md").write_text("ONE\n\ntwo\n\nthree\n")
    fake.set_blocks(page, ["one", "two", "THREE"])
    report = engine.sync()
    assert (report.merged, report.conflicts) == (["a.md"], [])
    assert (folder / "a.md").read_text() == "ONE\n\ntwo\n\nTHREE\n" == page_text(fake, page)
    assert engine.status()["conflicts"] == []
    assert sync_until_quiet(engine)[-1].changed is False


def test_overlapping_edits_keep_local_and_record_the_conflict(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["one", "two", "three"], None)
    engine = open_engine()
    engine.sync()
    (folder / "a.md").write_text("one\n\nmine\n\nthree\n")
    fake.set_blocks(page, ["one", "theirs", "three"])
    report = engine.sync()
    assert report.conflicts == ["a.md"]
    assert (folder / "a.md").read_text() == "one\n\nmine\n\nthree\n" == page_text(fake, page)
    conflicts = engine.status()["conflicts"]
    assert conflicts == [{"path": "a.md", "detail": "1 overlapping hunk resolved local-wins"}]
    assert ("a.md", "merge", conflicts[0]["detail"]) in db_rows(
        folder, "SELECT local_path, operation, detail FROM sync_log"
    )
    assert not engine.sync().changed  # no endless re-merge


def test_frontmatter_stays_local_through_pull_and_merge(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["one", "two", "three"], None)
    engine = open_engine()
    engine.sync()
    front = "---\ntags: [x]\n---\n"
    (folder / "a.md").write_text(front + "one\n\ntwo\n\nthree\n")
    assert not engine.sync().changed  # frontmatter is not content
    fake.set_blocks(page, ["one", "two", "3"])
    engine.sync()
    assert (folder / "a.md").read_text() == front + "one\n\ntwo\n\n3\n"
    (folder / "a.md").write_text(front + "1\n\ntwo\n\n3\n")
    fake.set_blocks(page, ["one", "two", "3", "four"])
    assert engine.sync().merged == ["a.md"]
    assert (folder / "a.md").read_text() == front + "1\n\ntwo\n\n3\n\nfour\n"
    assert page_text(fake, page) == "1\n\ntwo\n\n3\n\nfour\n"


def test_more_than_100_blocks_are_appended_in_chunks(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "long.md", [], None)
    engine = open_engine()
    engine.sync()
    body = "".join(f"- item {i}\n" for i in range(250))
    (folder / "long.md").write_text(body)
    before = len(fake.request_log())
    engine.sync()
    appends = [r for r in fake.request_log()[before:] if r["method"] == "PATCH"]
    assert len(appends) == 3
    assert page_text(fake, page) == body
    fake.set_blocks(page, [f"para {i}" for i in range(150)])  # pull reads every list page
    engine.sync()
    assert (folder / "long.md").read_text().count("para") == 150


def test_deleted_file_archives_the_page_and_gc_purges_it(
    folder: Path, fake: FakeNotion, open_engine: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = linked(folder, fake, "a.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    (folder / "a.md").unlink()
    report = engine.sync()
    assert (report.deleted, report.purged) == (["a.md"], [])  # default retention: 7 days
    assert fake.page(page)["in_trash"] is True
    assert db_rows(folder, "SELECT deleted FROM entity_map") == [(1,)]
    engine.clock = lambda: 8 * 24 * 3600 + time.time()
    assert engine.sync().purged == ["a.md"]
    assert db_rows(folder, "SELECT count(*) FROM entity_map") == [(0,)]
    assert db_rows(folder, "SELECT count(*) FROM base_content") == [(0,)]
    assert not engine.sync().changed


def test_gc_retention_zero_purges_in_the_same_cycle(
    folder: Path, fake: FakeNotion, open_engine: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASTEN_GC_RETENTION", "0")
    linked(folder, fake, "a.md", ["one"], None)
    linked(folder, fake, "b.md", ["one"], None)  # shares the base content with a.md
    engine = open_engine()
    engine.sync()
    (folder / "a.md").unlink()
    report = engine.sync()
    assert (report.deleted, report.purged) == (["a.md"], ["a.md"])
    assert db_rows(folder, "SELECT local_path FROM entity_map") == [("b.md",)]
    assert db_rows(folder, "SELECT count(*) FROM base_content") == [(1,)]  # still b.md's


def test_a_page_in_the_trash_or_gone_is_skipped_with_a_reason(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "trashed.md", ["x"], None)
    kasten.link(folder, "gone.md", "0" * 32)
    fake.archive_page(page)
    report = open_engine().sync()
    assert "trash" in report.skipped["trashed.md"]
    assert "shared with the integration" in report.skipped["gone.md"]


def test_untracked_notes_are_listed_not_synced(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    (folder / "sub").mkdir()
    (folder / "sub" / "loose.md").write_text("x\n")
    (folder / ".hidden.md").write_text("x\n")
    (folder / "notes.txt").write_text("x\n")
    report = open_engine().sync()
    assert report.untracked == ["sub/loose.md"]
    assert not report.changed


def test_status_shows_states_pending_entries_and_conflicts(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    linked(folder, fake, "a.md", ["one"], None)
    linked(folder, fake, "b.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    kasten.link(folder, "c.md", fake.create_page("c"))
    (folder / "a.md").write_text("changed\n")
    (folder / "b.md").unlink()
    status = engine.status()
    states = {e["path"]: e["state"] for e in status["entities"]}
    assert states == {"a.md": "modified", "b.md": "missing", "c.md": "new"}
    assert status["pending"] == [] and status["bugs"] == []


def test_an_unfinished_push_waits_for_its_trashed_page_and_blocks_no_other_note(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = linked(folder, fake, "a.md", ["one"], None)
    linked(folder, fake, "b.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    (folder / "a.md").write_text("two\n")
    fake.fail_next(500, method="DELETE")  # the push of a.md fails: its entry stays
    with pytest.raises(kasten.RemoteError):
        engine.sync()
    fake.archive_page(page)
    (folder / "b.md").write_text("b two\n")
    report = engine.sync()
    assert "unfinished push waits for its page" in report.skipped["a.md"]
    assert (report.pushed, report.recovered) == (["b.md"], 0)
    client = notion_client.Client(auth=fake.token, base_url=fake.base_url)
    client.pages.update(page, in_trash=False)  # restored in Notion
    assert engine.sync().recovered == 1
    assert page_text(fake, page) == "two\n"


def test_a_file_that_is_not_utf8_is_skipped_not_fatal(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    linked(folder, fake, "a.md", ["one"], None)
    engine = open_engine()
    engine.sync()
    (folder / "a.md").write_bytes(b"caf\xe9\n")
    report = engine.sync()
    assert "not UTF-8" in report.skipped["a.md"]
    assert engine.status()["entities"][0]["state"] == "unreadable"


@pytest.mark.parametrize("transport", ["respx", "loopback"])
def test_edits_on_both_sides_of_several_notes_converge_in_two_cycles(
    fast_path: Path, transport: str
) -> None:
    fake = FakeNotion(fast_path / "remote.sqlite3")
    root = fast_path / "e2e"
    root.mkdir()
    pages = {name: fake.create_page(name, blocks=["one", "two", "three"]) for name in "abcde"}
    with ExitStack() as stack:
        if transport == "respx":
            stack.enter_context(fake.mock())
            url = fake.base_url
        else:
            url = stack.enter_context(fake.serve()).url
        kasten.init(root, remote=url, token=fake.token)
        for name, page in pages.items():
            kasten.link(root, f"{name}.md", page)
        with kasten.Engine.open(root) as engine:
            engine.sync()
            (root / "a.md").write_text("one\n\ntwo\n\nthree\n\nlocal a\n")  # push
            fake.set_blocks(pages["b"], ["one", "two", "remote b"])  # pull
            (root / "c.md").write_text("ONE\n\ntwo\n\nthree\n")  # clean merge
            fake.set_blocks(pages["c"], ["one", "two", "THREE"])
            (root / "d.md").write_text("one\n\nmine\n\nthree\n")  # conflict
            fake.set_blocks(pages["d"], ["one", "theirs", "three"])
            (root / "e.md").unlink()  # delete
            first, second = engine.sync(), engine.sync()
    assert (first.pushed, first.pulled, first.merged, first.deleted) == (
        ["a.md"], ["b.md"], ["c.md", "d.md"], ["e.md"],
    )  # fmt: skip
    assert not second.changed
    for name in "abcd":
        assert (root / f"{name}.md").read_text() == page_text(fake, pages[name])
    assert (root / "c.md").read_text() == "ONE\n\ntwo\n\nTHREE\n"
    assert fake.page(pages["e"])["in_trash"] is True
