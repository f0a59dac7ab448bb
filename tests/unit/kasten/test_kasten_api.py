"""The shape of kasten's API and its small parts: config, links, migrations, files, merge."""

from __future__ import annotations

import os
import pickle
import re
import sqlite3
import uuid
from pathlib import Path

import pytest

from crashkit.demo import kasten
from crashkit.demo.kasten import db, files
from crashkit.demo.kasten.config import load_config
from crashkit.demo.kasten.entities import Entity
from crashkit.demo.kasten.merge import merge_bodies
from crashkit.demo.kasten.policy import Action, decide
from crashkit.demo.kasten.sides import Note, PageView
from crashkit.remotes.notion.fake import FakeNotion

# -- the front door ------------------------------------------------------------------


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(kasten) if not name.startswith("_")}
    modules = {name for name, value in vars(kasten).items() if type(value) is type(os)}
    assert set(kasten.__all__) == public - modules
    assert kasten.__doc__ and kasten.__doc__.startswith("kasten: ")


def test_the_variants_are_named_as_documented() -> None:
    assert kasten.VARIANTS == (
        "conflict-no-wal",
        "wal-delete-before-push",
        "inplace-write",
        "recovery-ignores-wal",
        "gc-no-wal",
        "push-not-idempotent",
        "rename-without-fsync",
        "retry-duplicates",
        "error-drops-wal",
        "recovery-deletes-first",
        "inplace-pwrite",
        "first-page-only",
        "no-text-split",
        "first-chunk-commits",
    )
    assert kasten.VARIANTS[-3:] == kasten.SHAPE_VARIANTS
    readme = (Path(kasten.__file__).parent / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in kasten.VARIANTS)


@pytest.mark.parametrize(
    "error",
    [
        kasten.ConfigError("bad", "fix it"),
        kasten.RemoteError("boom", "later", 503, "service_unavailable"),
        kasten.NotInitializedError("no"),
    ],
)
def test_errors_pickle_and_show_problem_and_fix(error: kasten.KastenError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.args) == (type(error), str(error), error.args)


def test_user_errors_are_also_the_builtin_they_resemble() -> None:
    assert issubclass(kasten.ConfigError, ValueError)
    assert issubclass(kasten.LinkError, ValueError)
    assert issubclass(kasten.NotInitializedError, FileNotFoundError)


def test_engine_open_of_an_uninitialized_folder(fast_path: Path) -> None:
    with pytest.raises(kasten.NotInitializedError, match="not a kasten folder") as error:
        kasten.Engine.open(fast_path)
    assert "init --remote URL --token TOKEN" in error.value.fix


# -- configuration --------------------------------------------------------------------


def test_the_environment_overrides_the_config_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASTEN_REMOTE", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("KASTEN_TOKEN", "other")
    monkeypatch.setenv("KASTEN_BUGS", " gc-no-wal , inplace-write,")
    monkeypatch.setenv("KASTEN_GC_RETENTION", "0")
    config = load_config(folder)
    assert (config.remote, config.token) == ("http://127.0.0.1:9", "other")
    assert config.bugs == {"gc-no-wal", "inplace-write"}
    assert config.gc_retention == 0
    assert load_config(folder, bugs=[]).bugs == frozenset()  # the argument wins


def test_defaults_and_the_bugs_config_key(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KASTEN_RETRIES")
    config = load_config(folder)
    assert (config.bugs, config.gc_retention, config.retries) == (frozenset(), 7 * 24 * 3600, 2)
    path = folder / ".kasten" / "config.json"
    path.write_text(path.read_text().replace("{", '{"bugs": ["push-not-idempotent"],', 1))
    assert load_config(folder).bugs == {"push-not-idempotent"}


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("KASTEN_GC_RETENTION", "soon", "must be a number"),
        ("KASTEN_GC_RETENTION", "-1", "zero or more"),
        ("KASTEN_BUGS", "nope", "unknown bug variant"),
        ("KASTEN_REMOTE", "ftp://x", "http(s) URL"),
    ],
)
def test_bad_settings_name_their_source(
    folder: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(kasten.ConfigError, match=re.escape(message)) as error:
        kasten.Engine.open(folder)
    assert f"${var}" in str(error.value)


def test_a_broken_config_file_says_so(folder: Path) -> None:
    (folder / ".kasten" / "config.json").write_text("{oops")
    with pytest.raises(kasten.ConfigError, match="not valid JSON"):
        load_config(folder)


def test_init_again_keeps_the_state(folder: Path, fake: FakeNotion) -> None:
    kasten.link(folder, "a.md", fake.create_page("a"))
    kasten.init(folder, remote="https://example.test", token="t2", parent="1" * 32)
    with kasten.Engine.open(folder) as engine:
        assert engine.config.remote == "https://example.test"
        assert engine.config.parent == "1" * 32
        assert [e["path"] for e in engine.status()["entities"]] == ["a.md"]
    assert (folder / ".kasten").stat().st_mode & 0o077 == 0  # the token stays private


# -- linking --------------------------------------------------------------------------


def test_link_accepts_page_urls_and_paths_inside_the_folder(folder: Path) -> None:
    url = "https://www.notion.so/My-Page-" + "ab" * 16
    kasten.link(folder, folder / "sub" / "n.md", url)
    with kasten.Engine.open(folder) as engine:
        [entity] = engine.status()["entities"]
    assert (entity["path"], entity["page_id"]) == (
        "sub/n.md",
        str(uuid.UUID("ab" * 16)),
    )


def test_link_refuses_a_folder(folder: Path) -> None:
    (folder / "sub").mkdir()
    with pytest.raises(kasten.LinkError, match="is a folder"):
        kasten.link(folder, "sub", "1" * 32)


# -- migrations ------------------------------------------------------------------------


def test_migrations_bring_a_version_1_database_up_to_date(fast_path: Path) -> None:
    connection = db.connect(fast_path / "state.db")
    assert db.migrate(connection, db.MIGRATIONS[:1]) == 1
    connection.execute("INSERT INTO entity_map (local_path, page_id) VALUES ('a.md', 'p')")
    assert db.migrate(connection) == len(db.MIGRATIONS) - 1
    assert db.schema_version(connection) == len(db.MIGRATIONS)
    row = connection.execute("SELECT local_path, remote_block_ids FROM entity_map").fetchone()
    assert row == ("a.md", None)
    assert db.migrate(connection) == 0
    connection.close()


def test_a_failing_migration_leaves_the_previous_schema_whole(fast_path: Path) -> None:
    connection = db.connect(fast_path / "state.db")
    broken = (*db.MIGRATIONS, ("CREATE TABLE extra (x)", "THIS IS NOT SQL"))
    with pytest.raises(sqlite3.OperationalError):
        db.migrate(connection, broken)
    assert db.schema_version(connection) == len(db.MIGRATIONS)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "extra" not in tables and "sync_wal" in tables
    connection.close()


def test_a_database_newer_than_kasten_is_refused(folder: Path) -> None:
    connection = sqlite3.connect(folder / ".kasten" / "state.db")
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(kasten.SchemaError, match="version 99"):
        kasten.Engine.open(folder)


def test_the_database_is_durable_and_single_file(folder: Path) -> None:
    connection = db.connect(folder / ".kasten" / "state.db")
    # EXTRA: in DELETE mode only it syncs the folder after the journal is deleted (the commit)
    assert connection.execute("PRAGMA synchronous").fetchone() == (3,)  # EXTRA
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    connection.close()


# -- files ---------------------------------------------------------------------------


def test_atomic_write_replaces_the_file_and_leaves_no_temp(fast_path: Path) -> None:
    path = fast_path / "deep" / "note.md"
    files.write_atomic(path, "one\n")
    files.write_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert os.listdir(path.parent) == ["note.md"]
    assert files.read_text(fast_path / "missing.md") is None


def test_a_crashed_write_leaves_a_temp_that_the_next_write_consumes(fast_path: Path) -> None:
    path = fast_path / "note.md"
    files.temp_path_for(path).write_text("half")
    assert files.is_temp_name(files.temp_path_for(path).name)
    files.write_atomic(path, "whole\n")
    assert os.listdir(fast_path) == ["note.md"]
    files.temp_path_for(path).write_text("half")
    assert files.remove_temp(path) and not files.remove_temp(path)


def test_in_place_write_writes_the_same_text(fast_path: Path) -> None:
    path = fast_path / "note.md"
    path.write_text("a much longer old text\n")
    files.write_in_place(path, "short\n")
    assert path.read_text() == "short\n"


# -- merge and the decision table ---------------------------------------------------


def test_merge_takes_both_sides_changes_and_keeps_local_on_overlap() -> None:
    base = "a\n\nb\n\nc\n"
    assert merge_bodies(base, "A\n\nb\n\nc\n", "a\n\nb\n\nC\n").text == "A\n\nb\n\nC\n"
    result = merge_bodies(base, "a\n\nmine\n\nc\n", "a\n\ntheirs\n\nc\n")
    assert (result.text, result.conflicts) == ("a\n\nmine\n\nc\n", 1)
    assert result.detail == "1 overlapping hunk resolved local-wins"
    assert merge_bodies("", "x", "x").conflicts == 0  # same change on both sides
    assert merge_bodies("a\nb", "a\nb\nc", "z\na\nb").text == "z\na\nb\nc\n"


def _entity(synced: bool) -> Entity:
    digest = "L" if synced else None
    return Entity(
        1, "a.md", "p", digest, "R" if synced else None, "t0", None, None, False, None, ()
    )


@pytest.mark.parametrize(
    ("note", "page", "action"),
    [
        (Note("", "", "L"), PageView("t0"), Action.NOTHING),
        (Note("", "", "L"), PageView("t1", body="x", hash="R"), Action.TOUCH),
        (Note("", "", "L2"), PageView("t0"), Action.PUSH),
        (Note("", "", "L"), PageView("t1", body="x", hash="R2"), Action.PULL),
        (Note("", "", "L2"), PageView("t1", body="x", hash="R2"), Action.MERGE),
        (Note("", "", "S"), PageView("t1", body="x", hash="S"), Action.ADOPT),
        (Note("", "", None), PageView("t1", body="x", hash="R2"), Action.DELETE),
    ],
)
def test_the_decision_table_for_a_synced_note(note: Note, page: PageView, action: Action) -> None:
    assert decide(_entity(True), note, page) is action
