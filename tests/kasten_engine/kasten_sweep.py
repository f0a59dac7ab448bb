"""An in-process crash sweep for kasten's own tests: crash before every durable operation.

A small stand-in for crashkit's harness, fast enough for the unit tests: it
counts kasten's durable operations (file opens for writing, writes, fsyncs,
renames, unlinks, mkdirs; SQLite COMMITs; POST/PATCH/DELETE requests) and
raises :class:`Crash` before the k-th. ``Crash`` derives from BaseException,
so kasten catches nothing of it: an open transaction rolls back, exactly what
SQLite does for a killed process, and a file write stops where it was (each
write reaches the OS at once, as after a kill). Every run starts from a copy
of one setup; after the crash, fresh engines recover and sync until quiet,
and the world is compared with the uncrashed (golden) run's.
"""

from __future__ import annotations

import builtins
import os
import shutil
import signal
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import kasten
import kasten.files
import kasten.operations
from kasten.markdown import blocks_to_markdown

from crashkit._fake_notion import FakeNotion

Workload = Callable[[kasten.Engine], object]
Build = Callable[[Path, FakeNotion], None]


class Crash(BaseException):
    """The simulated kill."""


@dataclass
class Points:
    """Counts durable operations; raises :class:`Crash` before operation ``crash_at``
    (or, with ``kill``, SIGKILLs this process there)."""

    crash_at: int | None = None
    root: str = ""
    log: list[str] = field(default_factory=list)
    kill: bool = False

    def tick(self, kind: str, target: object = "") -> None:
        text = str(target).replace(self.root, "") if self.root else str(target)
        self.log.append(f"{kind} {text}")
        if len(self.log) == self.crash_at:
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise Crash(self.log[-1])


class _TickingFile:
    """A file opened for writing whose every write reaches the OS at once, counted."""

    def __init__(self, handle: Any, points: Points, path: object) -> None:
        self._handle, self._points, self._path = handle, points, path

    def write(self, data: str) -> int:
        self._points.tick("write", self._path)
        written = int(self._handle.write(data))
        self._handle.flush()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _TickingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class _TickingOs:
    """``os`` for kasten.files, counting the calls that change the disk."""

    def __init__(self, points: Points) -> None:
        self._points = points

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        self._points.tick("fsync")
        os.fsync(fd)

    def replace(self, source: Any, target: Any) -> None:
        self._points.tick("replace", target)
        os.replace(source, target)

    def unlink(self, path: Any) -> None:
        self._points.tick("unlink", path)
        os.unlink(path)

    def makedirs(self, path: Any, exist_ok: bool = False) -> None:
        self._points.tick("mkdir", path)
        os.makedirs(path, exist_ok=exist_ok)


@contextmanager
def instrumented(points: Points) -> Iterator[None]:
    """Count (and maybe crash at) kasten's durable operations inside this block."""

    def open_(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = builtins.open(path, mode, *args, **kwargs)  # noqa: SIM115 (returned open)
        if not any(flag in mode for flag in "wax+"):
            return handle
        try:
            points.tick("open", path)
        except Crash:
            handle.close()
            raise
        return _TickingFile(handle, points, path)

    real_transaction = kasten.operations.transaction

    @contextmanager
    def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        with real_transaction(db):
            yield db
            points.tick("commit")

    real_send = httpx.Client.send

    def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.method in ("POST", "PATCH", "PUT", "DELETE"):
            points.tick(request.method, request.url.path)
        return real_send(client, request, **kwargs)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(kasten.files, "open", open_, create=True))
        stack.enter_context(mock.patch.object(kasten.files, "os", _TickingOs(points)))
        stack.enter_context(mock.patch.object(kasten.operations, "transaction", transaction))
        stack.enter_context(mock.patch.object(httpx.Client, "send", send))
        yield


# -- worlds -------------------------------------------------------------------------------


def make_setup(path: Path, build: Build) -> Path:
    """A setup world at ``path``: an initialized ``notes`` folder and a fake store."""
    (path / "notes").mkdir(parents=True)
    fake = FakeNotion(path / "notion.sqlite3")
    with fake.mock():
        kasten.init(path / "notes", remote=fake.base_url, token=fake.token)
        build(path / "notes", fake)
    return path


def world_state(world: Path) -> dict[str, Any]:
    """What crash equivalence compares: files, pages, entity hashes, history; no timestamps."""
    root, fake = world / "notes", FakeNotion(world / "notion.sqlite3")
    files = {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".kasten" not in p.parts
    }
    pages = {
        page["id"]: (page["in_trash"], blocks_to_markdown(fake.blocks(page["id"])))
        for page in fake.pages(include_archived=True)
    }
    with sqlite3.connect(root / ".kasten" / "state.db") as db:
        return {
            "files": files,
            "pages": pages,
            "entities": db.execute(
                "SELECT local_path, page_id, last_local_hash, last_remote_hash, base_content_id,"
                " conflict, deleted FROM entity_map ORDER BY local_path, id"
            ).fetchall(),
            "base": db.execute("SELECT id FROM base_content ORDER BY id").fetchall(),
            "wal": db.execute("SELECT operation, state FROM sync_wal ORDER BY id").fetchall(),
            "log": db.execute("SELECT local_path, operation, detail FROM sync_log").fetchall(),
        }


def open_entries(world: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(world / "notes" / ".kasten" / "state.db") as db:
        return db.execute("SELECT operation, state FROM sync_wal ORDER BY id").fetchall()


@dataclass
class Run:
    """One run: the operations it made, the journal right after the crash, the end state."""

    log: list[str]
    crashed: bool
    journal_after_crash: list[tuple[str, str]]
    state: dict[str, Any]
    rounds: int
    recovery_ops: int = 0  #: durable operations of the first restart, when it was counted


def crash(
    setup: Path, world: Path, workload: Workload, crash_at: int | None, bugs: Iterable[str] = ()
) -> tuple[list[str], bool]:
    """Copy ``setup`` to ``world`` and run ``workload`` crashing before operation ``crash_at``;
    returns the operations made and whether it crashed."""
    shutil.copytree(setup, world)
    points = Points(crash_at, str(world))
    with FakeNotion(world / "notion.sqlite3").mock():
        return points.log, crash_in(world, workload, points, bugs)


def kill_in_child(
    setup: Path, world: Path, workload: Workload, crash_at: int, bugs: Iterable[str] = ()
) -> int:
    """Copy ``setup`` to ``world`` and run ``workload`` in a forked child that SIGKILLs
    itself before operation ``crash_at``; returns the signal that ended the child."""
    shutil.copytree(setup, world)
    pid = os.fork()
    if pid == 0:  # the child: no pytest teardown, no atexit, whatever happens
        try:
            with FakeNotion(world / "notion.sqlite3").mock():
                crash_in(world, workload, Points(crash_at, kill=True), bugs)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)


def crash_in(world: Path, workload: Workload, points: Points, bugs: Iterable[str]) -> bool:
    """Run ``workload`` on a fresh engine of ``world`` under ``points``; True if it crashed."""
    engine = kasten.Engine.open(world / "notes", bugs=bugs)
    try:
        with instrumented(points):
            workload(engine)
    except Crash:
        return True
    finally:
        engine.close()
    return False


def run(
    setup: Path,
    world: Path,
    workload: Workload,
    crash_at: int | None,
    bugs: Iterable[str] = (),
    recovery_crash_at: int | None = None,
) -> Run:
    """Crash ``workload`` before operation ``crash_at`` (and the first restart before its
    operation ``recovery_crash_at``; 0 only counts them), then restart until quiet."""
    log, crashed = crash(setup, world, workload, crash_at, bugs)
    journal = open_entries(world)
    recovery = Points(recovery_crash_at)
    if recovery_crash_at is not None:  # 0: count the first restart's operations, no crash
        with FakeNotion(world / "notion.sqlite3").mock():
            crash_in(world, _sync, recovery, bugs)
    rounds, state = recovered(world, bugs)
    return Run(log, crashed, journal, state, rounds, len(recovery.log))


def recovered(world: Path, bugs: Iterable[str] = ()) -> tuple[int, dict[str, Any]]:
    """Restart ``world`` until quiet; returns the rounds used and the final state."""
    with FakeNotion(world / "notion.sqlite3").mock():
        try:
            rounds = restart(world, bugs)
            error = None
        except Exception as exc:  # a finding, compared like the rest of the state
            rounds, error = 0, f"{type(exc).__name__}: {exc}"
    return rounds, {**world_state(world), "error": error, "converged": rounds <= 5}


def _sync(engine: kasten.Engine) -> None:
    engine.sync()


def restart(world: Path, bugs: Iterable[str], limit: int = 5) -> int:
    """Restart rounds: each a fresh engine (recovery + one sync); returns the rounds used."""
    for round_ in range(1, limit + 1):
        with kasten.Engine.open(world / "notes", bugs=bugs) as engine:
            if not engine.sync().changed:
                return round_
    return limit + 1


def sweep(
    tmp: Path, build: Build, workload: Workload = _sync, bugs: Iterable[str] = ()
) -> tuple[Run, Iterator[Run]]:
    """The golden run, and (lazily) one run crashing before each of its durable operations."""
    setup = make_setup(tmp / "setup", build)
    golden = run(setup, tmp / "golden", workload, None, bugs)
    points = range(1, len(golden.log) + 1)
    return golden, (run(setup, tmp / f"crash-{k}", workload, k, bugs) for k in points)


def differences(golden: Run, crashed: Iterable[Run], first_only: bool = False) -> list[str]:
    """One line per crash point whose recovered world differs from the golden one."""
    lines = []
    for k, result in enumerate(crashed, start=1):
        if result.log[: k - 1] != golden.log[: k - 1]:
            lines.append(f"p{k}: nondeterministic trace {result.log} vs {golden.log}")
        for key, value in result.state.items():
            if value != golden.state[key]:
                lines.append(
                    f"p{k} ({golden.log[k - 1]}): {key} {value!r} != {golden.state[key]!r}"
                )
        if lines and first_only:
            break
    return lines
