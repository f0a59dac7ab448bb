"""Small programs for crashkit's own tests: a value kept in a file with its hash in SQLite.

One sync brings ``value.txt`` to the value in ``desired.txt`` (the toy's "remote")
and records the value's hash in ``state.db``, journaling the new value first.
Restart = replay the journal, then sync. Variants switch on one bug each through
the ``TOY_BUGS`` environment variable.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time

from crashkit import Journal, Scenario, hashes_match_files, journal_drained


def _bugs() -> set[str]:
    return set(filter(None, os.environ.get("TOY_BUGS", "").split(",")))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: str, text: str) -> None:
    if "inplace" in _bugs():
        with open(path, "w") as f:
            f.write(text[: len(text) // 2])
            f.flush()
            f.write(text[len(text) // 2 :])
        return
    with open(path + ".tmp", "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def _connect() -> sqlite3.Connection:
    db = sqlite3.connect("state.db")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _apply(db: sqlite3.Connection, value: str) -> None:
    _write_atomic("value.txt", value)
    with db:
        db.execute("UPDATE item SET hash = ? WHERE id = 1", (digest(value.encode()),))
        db.execute("DELETE FROM wal")


def setup(world) -> None:
    db = sqlite3.connect(world.path("state.db"))
    db.executescript(
        "CREATE TABLE item(id INTEGER PRIMARY KEY, hash TEXT);"
        "CREATE TABLE wal(id INTEGER PRIMARY KEY, value TEXT);"
    )
    db.execute("INSERT INTO item VALUES (1, ?)", (digest(b"old\n"),))
    db.commit()
    db.close()
    world.path("value.txt").write_text("old\n")
    world.path("desired.txt").write_text("new value\n")


def sync(db: sqlite3.Connection) -> None:
    with open("desired.txt") as f:
        desired = f.read()
    with open("value.txt") as f:
        if f.read() == desired:
            return
    if "no-journal" not in _bugs():
        with db:
            db.execute("INSERT INTO wal(value) VALUES (?)", (desired,))
    if "nondeterministic" in _bugs() and os.urandom(1)[0] % 2:
        _write_atomic("noise.txt", "x")
    _apply(db, desired)


def workload(world) -> None:
    sync(_connect())


def restart(world) -> None:
    bugs = _bugs()
    if "hang" in bugs:
        time.sleep(60)
    if "raise" in bugs:
        raise RuntimeError("recovery exploded")
    db = _connect()
    if "never-quiet" in bugs:
        _write_atomic("counter.txt", str(time.monotonic_ns()))
    rows = db.execute("SELECT value FROM wal ORDER BY id").fetchall()
    if rows and "ignore-wal" not in bugs:
        _apply(db, rows[-1][0])
    if "ignore-wal" not in bugs:
        sync(db)


def observe(world) -> dict:
    db = sqlite3.connect(world.path("state.db"))
    try:
        return {
            "value": world.path("value.txt").read_text(),
            "item": db.execute("SELECT id, hash FROM item").fetchall(),
        }
    finally:
        db.close()


def value_is_known(world) -> None:
    text = world.path("value.txt").read_text()
    assert text in ("old\n", "new value\n"), f"value.txt holds {text!r}"


INVARIANTS = [
    hashes_match_files("state.db", "SELECT 'value.txt', hash FROM item", digest),
    journal_drained("state.db", "SELECT id, value FROM wal"),
    value_is_known,
]


def _entity(op) -> dict | None:
    """Writes to value.txt (or its temp file) are the journaled entity; nothing else is."""
    return {} if op.target.split(" -> ")[-1].startswith("value.txt") else None


JOURNAL = Journal("state.db", "SELECT 1 FROM wal", _entity)


def toy(name: str, bugs: str = "", **kwargs) -> Scenario:
    variants = {"correct": {}}
    if bugs:
        variants[bugs] = {"TOY_BUGS": bugs}
    kwargs.setdefault("expect_findings", [bugs] if bugs else [])
    kwargs.setdefault("timeout", 20)
    return Scenario(
        name=name,
        setup=setup,
        workload=workload,
        restart=restart,
        observe=observe,
        invariants=INVARIANTS,
        variants=variants,
        program=("toy_store",),
        journal=JOURNAL,
        **kwargs,
    )


store = toy("store", "inplace", expect_findings=[])
ignores_wal = toy("ignores_wal", "ignore-wal")
nondeterministic = toy("nondeterministic", "nondeterministic")
hangs = toy("hangs", "hang", timeout=1.5)
raises = toy("raises", "raise")
never_quiet = toy("never_quiet", "never-quiet", max_rounds=2)
unjournaled = toy("unjournaled", "no-journal", expect_findings=[])
