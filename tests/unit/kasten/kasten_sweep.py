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
import contextlib
import errno
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

from crashkit.demo import kasten
from crashkit.demo.kasten.markdown import blocks_to_markdown
from crashkit.faults.disk import PowerLossModel
from crashkit.remotes.notion.fake import FakeNotion

Workload = Callable[[kasten.Engine], object]
Build = Callable[[Path, FakeNotion], None]


class Crash(BaseException):
    """The simulated kill."""


#: What happens at the chosen point (crashkit's fault kinds, acted out in-process):
#: ``kill`` raises :class:`Crash` before the operation; ``error`` makes it fail as it would
#: for real (OSError, SQLite's ``disk I/O error``, an HTTP 503 / 429 / connect timeout by
#: point) and lets the program go on; ``lost-response`` lets the remote apply a request and
#: raises ``httpx.ReadTimeout`` in the client; ``torn`` keeps all sectors of a write but the
#: last, then crashes; ``powerloss`` crashes, and :func:`power_cut_runs` then rewrites the
#: world into the states a power cut could leave (crashkit's power-loss model).
FAULTS = ("kill", "error", "lost-response", "torn", "powerloss")
SECTOR = 512
_HTTP = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Points:
    """Counts durable operations; acts out ``fault`` at operation ``crash_at`` (with ``kill``,
    SIGKILLs this process there). Feeds ``model``, when given, every file operation that runs."""

    crash_at: int | None = None
    root: str = ""
    log: list[str] = field(default_factory=list)
    kill: bool = False
    fault: str = "kill"
    #: Bytes of each write, by point (a torn write needs more than one sector).
    sizes: dict[int, int] = field(default_factory=dict)
    model: PowerLossModel | None = None

    def tick(self, kind: str, target: object = "", size: int | None = None) -> bool:
        """Count one operation; True when it is the point of a fault the caller acts out."""
        text = str(target).replace(self.root, "") if self.root else str(target)
        self.log.append(f"{kind} {text}")
        if size is not None:
            self.sizes[len(self.log)] = size
        if len(self.log) != self.crash_at:
            return False
        if self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fault == "lost-response":
            return kind in _HTTP  # nothing happens to other operations
        if self.fault == "error":
            if kind in _HTTP:
                return True
            raise _local_error(kind, target)
        if self.fault == "torn" and size is not None:
            return True
        raise Crash(self.log[-1])  # kill, powerloss, and torn at what is not a write

    def feed(self, event: str, *paths: object, **data: Any) -> None:
        """Tell the power-loss model (if any) about a file operation about to run."""
        if self.model is None:
            return
        relative = [os.path.relpath(str(path), self.root) for path in paths]
        with contextlib.suppress(ValueError):  # outside the world: not modelled
            getattr(self.model, event)(*relative, *data.values())


def _local_error(kind: str, target: object) -> Exception:
    if kind == "commit":
        return sqlite3.OperationalError("disk I/O error")
    code = errno.ENOSPC if kind in ("open", "write", "pwrite") else errno.EIO
    return OSError(code, os.strerror(code), str(target))


def _torn(data: bytes) -> bytes:
    """What a torn write keeps: every whole sector but the last."""
    return data[: SECTOR * ((len(data) - 1) // SECTOR)]


class _TickingFile:
    """A file opened for writing whose every write reaches the OS at once, counted."""

    def __init__(self, handle: Any, points: Points, path: object) -> None:
        self._handle, self._points, self._path = handle, points, path

    def write(self, data: str) -> int:
        raw = data.encode("utf-8")
        if self._points.tick("write", self._path, len(raw)):  # torn: error raised in tick
            self._handle.flush()
            self._handle.buffer.write(_torn(raw))
            self._handle.buffer.flush()
            raise Crash(self._points.log[-1])
        self._points.feed("write", self._path, offset=None, data=raw)
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

    def __init__(self, points: Points, paths: dict[int, str]) -> None:
        self._points = points
        self._paths = paths  #: open descriptors -> their paths

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT and not os.path.exists(path):
            self._points.tick("create", path)
            self._points.feed("create", path)
        descriptor = os.open(path, flags, mode)
        self._paths[descriptor] = os.fspath(path)
        return descriptor

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        path = self._paths.get(fd, "?")
        if self._points.tick("pwrite", path, len(data)):  # torn
            os.pwrite(fd, _torn(data), offset)
            raise Crash(self._points.log[-1])
        self._points.feed("write", path, offset=offset, data=data)
        return os.pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        path = self._paths.get(fd, "?")
        self._points.tick("fsync", path)
        self._points.feed("fsync", path)
        os.fsync(fd)

    def replace(self, source: Any, target: Any) -> None:
        self._points.tick("replace", target)
        self._points.feed("rename", source, target)
        os.replace(source, target)

    def unlink(self, path: Any) -> None:
        self._points.tick("unlink", path)
        self._points.feed("unlink", path)
        os.unlink(path)

    def makedirs(self, path: Any, exist_ok: bool = False) -> None:
        self._points.tick("mkdir", path)
        missing = [Path(path)]
        while not missing[-1].parent.exists():
            missing.append(missing[-1].parent)
        for folder in reversed(missing):
            self._points.feed("mkdir", folder)
        os.makedirs(path, exist_ok=exist_ok)


@contextmanager
def instrumented(points: Points) -> Iterator[None]:
    """Count (and maybe fault at) kasten's durable operations inside this block."""
    paths: dict[int, str] = {}

    def open_(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not any(flag in mode for flag in "wax+"):
            return builtins.open(path, mode, *args, **kwargs)
        existed = os.path.exists(path)
        points.tick("open", path)  # an error is raised here, before the file is touched
        if not existed:
            points.feed("create", path)
        elif "w" in mode:
            points.feed("truncate", path, size=0)
        handle = builtins.open(path, mode, *args, **kwargs)  # noqa: SIM115 (returned open)
        paths[handle.fileno()] = os.fspath(path)
        return _TickingFile(handle, points, path)

    real_transaction = kasten.operations.transaction

    @contextmanager
    def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        with real_transaction(db):
            yield db
            points.tick("commit")  # a failing COMMIT: rolled back, as a real one is

    real_send = httpx.Client.send

    def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.method in _HTTP and points.tick(request.method, request.url.path):
            if points.fault == "lost-response":
                real_send(client, request, **kwargs)
                raise httpx.ReadTimeout("response lost (the request was applied)", request=request)
            return _http_error(request, len(points.log))
        return real_send(client, request, **kwargs)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(kasten.files, "open", open_, create=True))
        stack.enter_context(mock.patch.object(kasten.files, "os", _TickingOs(points, paths)))
        stack.enter_context(mock.patch.object(kasten.operations, "transaction", transaction))
        stack.enter_context(mock.patch.object(httpx.Client, "send", send))
        yield


def _http_error(request: httpx.Request, point: int) -> httpx.Response:
    """A 503, a 429 with Retry-After, or (raised) a connect timeout, in turn by point."""
    if point % 3 == 2:
        raise httpx.ConnectTimeout("connect timeout (nothing was sent)", request=request)
    status, code = (503, "service_unavailable") if point % 3 == 0 else (429, "rate_limited")
    body = {"object": "error", "status": status, "code": code, "message": f"injected {status}"}
    headers = {"Retry-After": "1"} if status == 429 else {}
    return httpx.Response(status, json=body, headers=headers, request=request)


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
    temps = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.kasten-tmp"))
    with sqlite3.connect(root / ".kasten" / "state.db") as db:
        return {
            "files": files,
            "temps": temps,  # kasten's own state folder included
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
    sizes: dict[int, int] = field(default_factory=dict)  #: bytes of each write, by point


def crash(
    setup: Path,
    world: Path,
    workload: Workload,
    crash_at: int | None,
    bugs: Iterable[str] = (),
    fault: str = "kill",
) -> tuple[Points, bool]:
    """Copy ``setup`` to ``world`` and run ``workload`` with ``fault`` at operation
    ``crash_at``; returns the operations made (and, for ``powerloss``, the model that
    followed them) and whether it crashed."""
    assert fault in FAULTS, fault
    shutil.copytree(setup, world)
    model = PowerLossModel(world) if fault == "powerloss" else None
    points = Points(crash_at, str(world), fault=fault, model=model)
    with FakeNotion(world / "notion.sqlite3").mock():
        return points, crash_in(world, workload, points, bugs)


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
    except (kasten.KastenError, OSError, sqlite3.Error):
        if points.fault not in ("error", "lost-response"):
            raise
        return False  # the injected failure ended the cycle; the program lives on
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
    fault: str = "kill",
) -> Run:
    """Crash ``workload`` before operation ``crash_at`` (and the first restart before its
    operation ``recovery_crash_at``; 0 only counts them), then restart until quiet.
    Another ``fault`` than a kill acts at ``crash_at`` instead (not ``powerloss``: see
    :func:`power_cut_runs`)."""
    points, crashed = crash(setup, world, workload, crash_at, bugs, fault)
    log = points.log
    journal = open_entries(world)
    recovery = Points(recovery_crash_at)
    if recovery_crash_at is not None:  # 0: count the first restart's operations, no crash
        with FakeNotion(world / "notion.sqlite3").mock():
            crash_in(world, _sync, recovery, bugs)
    rounds, state = recovered(world, bugs)
    return Run(log, crashed, journal, state, rounds, len(recovery.log), points.sizes)


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


def damaged_points(golden: Run, runs: dict[int, Run]) -> list[int]:
    """The points whose recovered world differs from the golden one."""
    return [k for k, result in runs.items() if result.state != golden.state]


def fault_points(golden: Run, fault: str) -> list[int]:
    """The points of the golden trace where ``fault`` applies, as crashkit offers them."""
    every = list(range(1, len(golden.log) + 1))
    if fault == "lost-response":
        return [k for k in every if golden.log[k - 1].split()[0] in _HTTP]
    if fault == "torn":
        return [k for k in every if golden.sizes.get(k, 0) > SECTOR]
    if fault == "error":
        return every
    return [*every, len(every) + 1]  # kill, powerloss: also after the last operation


def fault_sweep(
    tmp: Path, build: Build, fault: str, workload: Workload = _sync, bugs: Iterable[str] = ()
) -> tuple[Run, dict[int, Run]]:
    """The golden run, and one run with ``fault`` at each point where it applies."""
    setup = make_setup(tmp / "setup", build)
    golden = run(setup, tmp / "golden", workload, None, bugs)
    runs = {
        k: run(setup, tmp / f"{fault}-{k}", workload, k, bugs, fault=fault)
        for k in fault_points(golden, fault)
    }
    return golden, runs


def power_cut_runs(
    tmp: Path,
    build: Build,
    points: Callable[[Run], Iterable[int]] | None = None,
    workload: Workload = _sync,
    bugs: Iterable[str] = (),
    states: int = 2,
) -> tuple[Run, dict[str, dict[str, Any]]]:
    """The golden run, and the recovered world after each power cut: a kill before each
    point (``points`` picks them from the golden run; by default all, and after the last),
    then each of the first ``states`` states crashkit's power-loss model says the disk may
    be left in (the harshest first). Keys: ``"p<k>/s<i>"``."""
    setup = make_setup(tmp / "setup", build)
    golden = run(setup, tmp / "golden", workload, None, bugs)
    chosen = fault_points(golden, "powerloss") if points is None else list(points(golden))
    results: dict[str, dict[str, Any]] = {}
    for k in chosen:
        killed = tmp / f"killed-{k}"
        traced, _ = crash(setup, killed, workload, k, bugs, "powerloss")
        assert traced.model is not None
        for i, cut in enumerate(traced.model.states(limit=states)):
            world = tmp / f"cut-{k}-{i}"
            shutil.copytree(killed, world)
            cut.apply(world)
            results[f"p{k}/s{i}"] = {**recovered(world, bugs)[1], "cut": cut.description}
    return golden, results
