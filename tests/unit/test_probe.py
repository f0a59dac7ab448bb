"""The probe sees every durable operation, through every public route, in order."""

from __future__ import annotations

import os
import pathlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator

import httpx
import pytest

import crashkit
from crashkit import Command, World, point
from crashkit.model.operation import Operation
from crashkit.probes import PROBES
from crashkit.probes import python as _probe
from crashkit.probes.python import core
from crashkit.probes.quiet import quiet


@pytest.fixture
def ops(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Operation]]:
    """Record the durable operations made inside ``tmp_path/world`` (the current folder)."""
    world = tmp_path / "world"
    world.mkdir()
    monkeypatch.chdir(world)
    recorded: list[Operation] = []
    _probe.activate(_probe.Probe(world, recorded.append, program=("test_probe",)))
    try:
        yield recorded
    finally:
        _probe.deactivate()
        _probe.uninstall_patches()


def kinds(ops: list[Operation]) -> list[tuple[str, str]]:
    return [(op.kind, op.target) for op in ops]


def test_open_for_writing_records_create_then_each_write_that_reaches_the_os(ops):
    with open("a.txt", "w") as f:
        f.write("hello")
        assert kinds(ops) == [("fs.create", "a.txt")]  # still in Python's buffer: not durable
    assert kinds(ops) == [("fs.create", "a.txt"), ("fs.write", "a.txt")]
    assert ops[1].detail["bytes"] == 5


def test_reopening_with_truncation_is_its_own_operation(ops):
    pathlib.Path("a.txt").write_text("one")
    with open("a.txt", "w") as f:
        f.write("two")
    assert kinds(ops)[2:] == [("fs.trunc", "a.txt"), ("fs.write", "a.txt")]


def test_reads_and_appends_to_existing_files(ops):
    pathlib.Path("a.txt").write_bytes(b"x")
    ops.clear()
    assert pathlib.Path("a.txt").read_text() == "x"
    with open("a.txt", "ab") as f:
        f.write(b"y")
    assert kinds(ops) == [("fs.write", "a.txt")]


def test_os_level_routes(ops):
    fd = os.open("b.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"abc")
    os.pwrite(fd, b"z", 0)
    os.writev(fd, [b"1", b"22"])
    os.ftruncate(fd, 2)
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
    os.truncate("b.tmp", 1)
    os.rename("b.tmp", "c.tmp")
    os.replace("c.tmp", "b.txt")
    os.mkdir("d")
    os.rmdir("d")
    os.unlink("b.txt")
    assert kinds(ops) == [
        ("fs.create", "b.tmp"),
        ("fs.write", "b.tmp"),
        ("fs.write", "b.tmp"),
        ("fs.write", "b.tmp"),
        ("fs.truncate", "b.tmp"),
        ("fs.fsync", "b.tmp"),
        ("fs.fdatasync", "b.tmp"),
        ("fs.truncate", "b.tmp"),
        ("fs.rename", "b.tmp -> c.tmp"),
        ("fs.rename", "c.tmp -> b.txt"),
        ("fs.mkdir", "d"),
        ("fs.rmdir", "d"),
        ("fs.unlink", "b.txt"),
    ]


def test_folder_fsync_is_recorded(ops):
    fd = os.open(".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    assert kinds(ops) == [("fs.fsync", ".")]


def test_pathlib_shutil_and_tempfile(ops):
    pathlib.Path("p").mkdir()
    pathlib.Path("p/a.txt").write_text("a")
    shutil.copyfile("p/a.txt", "p/b.txt")
    pathlib.Path("p/b.txt").unlink()
    with tempfile.NamedTemporaryFile("w", dir=".", delete=False) as t:
        t.write("t")
    name = os.path.basename(t.name)
    shutil.rmtree("p")
    assert kinds(ops) == [
        ("fs.mkdir", "p"),
        ("fs.create", "p/a.txt"),
        ("fs.write", "p/a.txt"),
        ("fs.create", "p/b.txt"),
        ("fs.write", "p/b.txt"),
        ("fs.unlink", "p/b.txt"),
        ("fs.create", name),
        ("fs.write", name),
        ("fs.unlink", "p/a.txt"),
        ("fs.rmdir", "p"),
    ]


def test_operations_outside_the_world_are_not_points(ops, tmp_path):
    (tmp_path / "outside.txt").write_text("no")
    with quiet():
        pathlib.Path("hidden.txt").write_text("crashkit's own")
    assert ops == []


def test_sqlite_commit_rules(ops):
    db = sqlite3.connect("s.db")
    db.execute("CREATE TABLE t(x)")  # DDL runs in autocommit mode: durable now
    db.execute("INSERT INTO t VALUES (1)")  # opens a transaction: durable at commit
    db.execute("SELECT * FROM t").fetchall()
    db.commit()
    db.commit()  # nothing to commit: not a point
    with db:
        db.execute("UPDATE t SET x = 2")
    db.cursor().execute("INSERT INTO t VALUES (3)")
    db.execute("COMMIT")
    db.execute("PRAGMA synchronous=FULL")  # connection setting: not durable
    db.execute("PRAGMA user_version = 3")  # writes the file header
    db.isolation_level = None
    db.execute("INSERT INTO t VALUES (4)")  # autocommit
    db.execute("BEGIN")
    db.execute("DELETE FROM t")
    db.execute("ROLLBACK")
    db.executescript("INSERT INTO t VALUES (5);")
    db.close()
    assert [op.kind for op in ops] == [
        "sql.exec",
        "sql.commit",
        "sql.commit",
        "sql.commit",
        "sql.exec",
        "sql.exec",
        "sql.script",
    ]
    assert {op.target for op in ops} == {"s.db"}
    assert sqlite3.connect("s.db").execute("SELECT x FROM t ORDER BY x").fetchall() == [
        (2,),
        (3,),
        (4,),
        (5,),
    ]


def test_in_memory_databases_are_not_points(ops):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t(x)")
    db.close()
    assert ops == []


def test_custom_connection_factories_keep_working(ops):
    class Mine(sqlite3.Connection):
        marker = "mine"

    db = sqlite3.connect("s.db", factory=Mine)
    assert db.marker == "mine"
    db.execute("CREATE TABLE t(x)")
    db.close()
    assert kinds(ops) == [("sql.exec", "s.db")]


def test_http_mutations_are_points_and_reads_are_not(ops):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with httpx.Client(transport=transport, base_url="https://remote.test") as client:
        client.get("/v1/pages/1")
        client.patch("/v1/pages/1", json={})
        client.post("/v1/pages", json={})
        client.delete("/v1/blocks/2")
    assert kinds(ops) == [
        ("http.patch", "PATCH /v1/pages/1"),
        ("http.post", "POST /v1/pages"),
        ("http.delete", "DELETE /v1/blocks/2"),
    ]


async def _async_post() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.put("https://remote.test/x")


def test_async_http_is_seen_too(ops):
    import asyncio

    asyncio.run(_async_post())
    assert kinds(ops) == [("http.put", "PUT /x")]


def test_explicit_marker_and_caller_location(ops):
    point("before-flush")
    (op,) = ops
    assert (op.kind, op.target, op.function) == (
        "mark",
        "before-flush",
        "test_explicit_marker_and_caller_location",
    )
    assert op.file.endswith("test_probe.py") and op.line > 0


def test_caller_is_the_first_frame_in_the_program_not_the_library(ops):
    def helper_in_the_program() -> None:
        shutil.copyfile(__file__, "copy.py")  # the write happens inside shutil

    helper_in_the_program()
    assert {op.function for op in ops} == {"helper_in_the_program"}


def test_indices_count_from_one_and_a_fault_sees_each_operation_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen: list[int] = []

    def refuse_writes(op: Operation, payload: object) -> None:
        if op.kind == "fs.write":
            raise OSError(5, "injected")

    _probe.activate(_probe.Probe(tmp_path, lambda op: seen.append(op.index), refuse_writes))
    try:
        with pytest.raises(OSError, match="injected"), open("a.txt", "w") as f:
            f.write("x")
            f.flush()
    finally:
        _probe.deactivate()
        _probe.uninstall_patches()
    assert seen[:2] == [1, 2]  # create, then the refused write (close retries the flush)
    assert pathlib.Path("a.txt").read_text() == ""  # no refused write happened


def test_inactive_patches_change_nothing(tmp_path):
    _probe.install_patches()
    try:
        (tmp_path / "a.txt").write_text("x")
        db = sqlite3.connect(tmp_path / "s.db")
        db.execute("CREATE TABLE t(x)")
        db.close()
        assert type(db) is sqlite3.Connection
    finally:
        _probe.uninstall_patches()
    assert open is _probe._Real.open and os.write is _probe._Real.write


def _python_phase(world: pathlib.Path) -> None:
    point("inside")


def _command_phase(world: pathlib.Path) -> None:
    Command(["sh", "-c", "echo x > inside"])(World(world))


#: One phase per registered probe, doing one durable operation it sees.
_PHASES = {"python": _python_phase, "syscall": _command_phase}


def test_every_registered_probe_records_a_phase_through_the_protocol(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert set(_PHASES) == set(PROBES)
    for name, probe in PROBES.items():
        seen: list[Operation] = []
        assert probe.name == name and probe.summary
        probe.install()
        try:
            recording = probe.start(tmp_path, seen.append, program=("test_probe",))
            _PHASES[name](tmp_path)
            probe.stop()
            _PHASES[name](tmp_path)  # after stop: not recorded
        finally:
            probe.stop()
            _probe.uninstall_patches()
        assert recording.count == len(seen) and [op.target for op in seen][:1] == ["inside"]


def test_crashkit_frames_are_never_the_programs():
    crashkit_dir = os.path.dirname(os.path.abspath(crashkit.__file__))
    assert crashkit_dir == core._CRASHKIT_DIR and crashkit_dir in core.library_dirs()
