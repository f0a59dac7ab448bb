"""A program in another language, crashed in black-box mode: ``blackbox/store.sh``, a
POSIX shell sync engine (a temp file, an fsync, a rename, SQLite commits through the
``sqlite3`` command, a ``curl`` to the fake Notion on loopback)."""

from __future__ import annotations

import hashlib
import pathlib
import sqlite3

from crashkit import Command, FakeNotion, Scenario, hashes_match_files, journal_drained

SCRIPT = str(pathlib.Path(__file__).parent / "blackbox" / "store.sh")
STORE = "remote.sqlite3"
TOKEN = "secret_blackbox"


def _fake(world):
    return FakeNotion(world.path(STORE), token=TOKEN)


def setup(world):
    page = _fake(world).create_page("old")
    db = sqlite3.connect(world.path("state.db"))
    db.executescript(
        "CREATE TABLE config(page TEXT);"
        "CREATE TABLE item(id INTEGER PRIMARY KEY, hash TEXT);"
        "CREATE TABLE wal(id INTEGER PRIMARY KEY, value TEXT);"
    )
    db.execute("INSERT INTO config VALUES (?)", (page,))
    db.execute("INSERT INTO item VALUES (1, ?)", (_digest(b"old\n"),))
    db.commit()
    db.close()
    world.path("value.txt").write_text("old\n")
    world.path("wanted.txt").write_text("new value\n")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def observe(world):
    db = sqlite3.connect(world.path("state.db"))
    try:
        rows = db.execute("SELECT id, hash FROM item").fetchall()
        wal = db.execute("SELECT value FROM wal").fetchall()
    finally:
        db.close()
    (page,) = _fake(world).pages()
    title = "".join(t["plain_text"] for t in page["properties"]["title"]["title"])
    return {
        "value": world.path("value.txt").read_text(),
        "item": [list(r) for r in rows],
        "wal": [list(r) for r in wal],
        "remote": title,
    }


def remote_has_value(world):
    (page,) = _fake(world).pages()
    title = "".join(t["plain_text"] for t in page["properties"]["title"]["title"])
    assert title + "\n" == world.path("value.txt").read_text(), f"remote is stale: {title!r}"


SYNC = Command(["sh", SCRIPT], env={"REMOTE": "{remote}", "TOKEN": TOKEN})


def store(name: str = "blackbox_store", **kwargs) -> Scenario:
    return Scenario(
        name=name,
        setup=setup,
        workload=SYNC,
        restart=SYNC,
        observe=observe,
        context=lambda world: _fake(world).serve(),
        invariants=[
            hashes_match_files("state.db", "SELECT 'value.txt', hash FROM item", _digest),
            journal_drained("state.db", "SELECT id, value FROM wal"),
            remote_has_value,
        ],
        variants={
            "correct": {},
            "nowal": {"STORE_BUGS": "nowal"},
            "wal-delete-before-push": {"STORE_BUGS": "wal-delete-before-push"},
        },
        expect_findings=["nowal", "wal-delete-before-push"],
        timeout=30,
        **kwargs,
    )


blackbox_store = store()
