"""A toy program for the fault kinds beyond kill: each variant has one bug that only one
fault kind can see.

The program keeps ``value.txt`` equal to ``desired.txt`` and trusts the hash it stored
in ``state.db`` (like a real sync engine trusts its state): when the stored hash equals
the desired value's hash, it believes the file is in step. The correct program journals
the value, writes it atomically (temp file, fsync, rename, folder fsync), then updates
the hash and drops the journal entry in one transaction; recovery replays the journal.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3

from crashkit import Scenario, hashes_match_files, journal_drained

#: Large enough (over one 512-byte sector) for a torn write to leave a mix.
PAD = 1200


def _bugs() -> set[str]:
    return set(filter(None, os.environ.get("TOY_BUGS", "").split(",")))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_folder(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: str, text: str) -> None:
    if "inplace-pwrite" in _bugs():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        try:
            os.pwrite(fd, text.encode(), 0)  # one write "is atomic": not across sectors
        finally:
            os.close(fd)
        return
    with open(path + ".tmp", "w") as f:
        f.write(text)
        f.flush()
        if "rename-without-fsync" not in _bugs():
            os.fsync(f.fileno())
    os.replace(path + ".tmp", path)
    _fsync_folder(".")


def _connect() -> sqlite3.Connection:
    db = sqlite3.connect("state.db")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _apply(db: sqlite3.Connection, value: str) -> None:
    try:
        _write("value.txt", value)
    except OSError:
        if "error-drops-wal" not in _bugs():
            raise
        _mark_done(db, value)  # "it probably worked": forget the entry, believe the value
        return
    _mark_done(db, value)


def _mark_done(db: sqlite3.Connection, value: str) -> None:
    """Record ``value`` as the file's and drop the journal entry, in one transaction."""
    with db:
        db.execute("UPDATE item SET hash = ? WHERE id = 1", (digest(value.encode()),))
        db.execute("DELETE FROM wal")


def setup(world) -> None:
    db = sqlite3.connect(world.path("state.db"))
    db.executescript(
        "CREATE TABLE item(id INTEGER PRIMARY KEY, hash TEXT);"
        "CREATE TABLE wal(id INTEGER PRIMARY KEY, value TEXT);"
    )
    old = "old\n".ljust(PAD, ".") + "\n"
    db.execute("INSERT INTO item VALUES (1, ?)", (digest(old.encode()),))
    db.commit()
    db.close()
    world.path("value.txt").write_text(old)
    world.path("desired.txt").write_text("new\n".ljust(PAD, "!") + "\n")


def sync(db: sqlite3.Connection) -> None:
    with open("desired.txt") as f:
        desired = f.read()
    (stored,) = db.execute("SELECT hash FROM item WHERE id = 1").fetchone()
    if stored == digest(desired.encode()):
        return  # trusted: the state says the file is in step
    with db:
        db.execute("INSERT INTO wal(value) VALUES (?)", (desired,))
    _apply(db, desired)


def workload(world) -> None:
    sync(_connect())


def _check_value_file() -> None:
    """A value file is a first line and padding of one character; anything else is corrupt."""
    with open("value.txt") as f:
        text = f.read()
    if len(set(text.partition("\n")[2].rstrip("\n"))) > 1:
        raise ValueError(f"value.txt is corrupt: {text[:8]!r}...{text[-8:]!r}")


def _recover(db: sqlite3.Connection, value: str) -> None:
    if "recovery-deletes-first" in _bugs():
        _mark_done(db, value)  # marks the work done before redoing it
        _write("value.txt", value)
        return
    _apply(db, value)


def restart(world) -> None:
    _check_value_file()
    db = _connect()
    rows = db.execute("SELECT value FROM wal ORDER BY id").fetchall()
    if rows:
        _recover(db, rows[-1][0])
    sync(db)


def observe(world) -> dict:
    db = sqlite3.connect(world.path("state.db"))
    try:
        return {
            "value": world.path("value.txt").read_text(errors="replace"),
            "item": db.execute("SELECT id, hash FROM item").fetchall(),
        }
    finally:
        db.close()


INVARIANTS = [
    hashes_match_files("state.db", "SELECT 'value.txt', hash FROM item", digest),
    journal_drained("state.db", "SELECT id FROM wal"),
]


def toy(name: str, bug: str, **kwargs) -> Scenario:
    kwargs.setdefault("expect_findings", [bug])
    return Scenario(
        name=name,
        setup=setup,
        workload=workload,
        restart=restart,
        observe=observe,
        invariants=INVARIANTS,
        variants={"correct": {}, bug: {"TOY_BUGS": bug}},
        program=("toy_faults",),
        timeout=20,
        **kwargs,
    )


error_drops_wal = toy("error_drops_wal", "error-drops-wal")
inplace_pwrite = toy("inplace_pwrite", "inplace-pwrite")
rename_without_fsync = toy("rename_without_fsync", "rename-without-fsync")
recovery_deletes_first = toy("recovery_deletes_first", "recovery-deletes-first")
