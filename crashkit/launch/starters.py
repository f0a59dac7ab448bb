"""Ways to start a child: a fork server with the program preloaded, or a fresh interpreter.

The fork server (:mod:`crashkit.child.forkserver`) is the default: forking a warm
process costs about a millisecond, where a fresh interpreter importing httpx costs
around a hundred. The fresh interpreter (``multiprocess``'s spawn method) stays
available as the benchmark's baseline and for programs that cannot fork. Jobs are
pickled with dill either way, so scenarios may be closures.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import dill
import multiprocess
import multiprocess.spawn

from crashkit.child import run as _child
from crashkit.child import forkserver as _forkserver
from crashkit.errors import ChildError

__all__ = ["ChildExit", "ChildStarter", "ForkServerStarter", "FreshInterpreterStarter"]


@dataclass(frozen=True)
class ChildExit:
    """How a child ended."""

    #: The exit status; negative for a signal (-9 is SIGKILL); None if it never ran.
    status: int | None
    #: The child outlived its timeout and its whole process group was killed.
    timed_out: bool
    duration: float

    @property
    def killed(self) -> bool:
        return self.status == -signal.SIGKILL and not self.timed_out


class ChildStarter(Protocol):
    """Runs one :class:`crashkit.child.run.ChildJob` in a new process and waits for it."""

    name: str

    def run(self, job: _child.ChildJob, timeout: float) -> ChildExit: ...

    def close(self) -> None: ...


_CHILD_NAME = "crashkit-child"
#: Every child running in this process, whichever starter started it.
_LIVE: set[Any] = set()
#: The parent's sys.path, handed to the fork server through its environment (read and
#: removed by crashkit.child.worker there; multiprocess does not pass sys.path on).
PATH_VARIABLE = "CRASHKIT_FORKSERVER_PATH"
_real_preparation_data = multiprocess.spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """multiprocess's preparation data, without the parent's ``__main__`` for our children.

    A new child would otherwise import the parent's main script (the ``crashkit`` or
    ``pytest`` launcher, or a user's script) before running; our children's entry point
    lives in :mod:`crashkit.child.run` and needs none of it.
    """
    data: dict[str, Any] = _real_preparation_data(name)
    if name.startswith(_CHILD_NAME):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


multiprocess.spawn.get_preparation_data = _preparation_data


class _MultiprocessStarter:
    method = ""

    def __init__(self) -> None:
        self._context: Any = multiprocess.get_context(self.method)
        self.name = self.method
        self._live = _LIVE
        self._lock = threading.Lock()
        self._closed = False

    def run(self, job: _child.ChildJob, timeout: float) -> ChildExit:
        process = self._context.Process(
            target=_child.run, args=(job,), daemon=True, name=f"{_CHILD_NAME}-{job.phase}"
        )
        started = time.monotonic()
        with self._lock:
            if self._closed:
                raise ChildError("the starter was closed (the sweep is stopping)")
            process.start()
            self._live.add(process)
        try:
            process.join(timeout)
            timed_out = process.is_alive()
            kill_group(process.pid, leader=timed_out)  # a hang, or what the program left
            process.join()
        finally:
            with self._lock:
                self._live.discard(process)
        status = process.exitcode
        process.close()
        if self._closed:  # killed by close(): not the program's doing, not a result
            raise ChildError("the sweep is stopping; this child was killed")
        return ChildExit(status, timed_out, time.monotonic() - started)

    def close(self) -> None:
        """Kill every child still running (a stopping sweep); the fork server exits with us."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for process in live:
            kill_group(process.pid)


class ForkServerStarter:
    """Forks each child from crashkit's fork server (:mod:`crashkit.child.forkserver`), a
    process that imported the probe and the program's modules once.

    Servers are shared: one per set of preload modules and ``sys.path``, started on
    first use and kept for the life of this process (a test session creates many
    starters). :meth:`close` kills this starter's running children, not the server.
    """

    name = "forkserver"

    def __init__(self, preload: Sequence[str] = ()) -> None:
        self._preload = tuple(dict.fromkeys(preload))
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._closed = False

    def run(self, job: _child.ChildJob, timeout: float) -> ChildExit:
        started = time.monotonic()
        with self._lock:
            if self._closed:
                raise ChildError("the starter was closed (the sweep is stopping)")
        try:
            ticket = _server(self._preload).start(job)
        except _ServerGone:  # stopped between our lookup and the request: once more
            ticket = _server(self._preload).start(job)
        with self._lock:
            self._live.add(ticket.pid)
        try:
            if self.closed:  # close() ran while the child was being forked
                kill_group(ticket.pid)
            status = ticket.wait(timeout)
            timed_out = not ticket.done.is_set()
            kill_group(ticket.pid, leader=timed_out)  # a hang, or what the program left
            if timed_out:
                status = ticket.wait(None)
            if ticket.lost:
                raise ChildError(
                    "crashkit's fork server died while this child ran (its children die "
                    "with it); see its output above"
                )
        finally:
            with self._lock:
                self._live.discard(ticket.pid)
        if self.closed:  # killed by close(): not the program's doing, not a result
            raise ChildError("the sweep is stopping; this child was killed")
        return ChildExit(status, timed_out, time.monotonic() - started)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Kill every child of this starter still running (a stopping sweep)."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for pid in live:
            kill_group(pid)


#: The folder crashkit is imported from (the fork server imports the same one).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _ServerGone(ChildError):
    """The fork server stopped before it took the job (a new one may)."""


class _Ticket:
    """One child of a fork server: its pid once forked, its status once reaped."""

    def __init__(self) -> None:
        self.forked = threading.Event()
        self.done = threading.Event()
        self.pid = 0
        self.status: int | None = None
        #: The server died before reporting how the child ended.
        self.lost = False

    def wait(self, timeout: float | None) -> int | None:
        """The exit status, or None if the child is still running after ``timeout``."""
        self.done.wait(timeout)
        return self.status if self.done.is_set() else None


class _Server:
    """The parent's handle on one fork server process."""

    def __init__(self, preload: Sequence[str]) -> None:
        requests_read, self._requests = os.pipe()
        self._responses, responses_write = os.pipe()
        env = dict(os.environ)
        env[PATH_VARIABLE] = os.pathsep.join(sys.path)  # read by crashkit.child.worker there
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                # This crashkit, whatever the interpreter would find first.
                f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); "
                "from crashkit.child.forkserver import main; main(sys.argv[1:])",
                str(requests_read),
                str(responses_write),
                *preload,
            ],
            pass_fds=(requests_read, responses_write),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(requests_read)
        os.close(responses_write)
        self._out = os.fdopen(self._requests, "wb")
        self._write_lock = threading.Lock()
        self._tickets: dict[int, _Ticket] = {}
        self._dead = False
        self._ids = itertools.count(1)
        self._reader = threading.Thread(
            target=self._read, name="crashkit-forkserver-reader", daemon=True
        )
        self._reader.start()

    def start(self, job: _child.ChildJob) -> _Ticket:
        """Fork a child running ``job``; returns once it has a pid."""
        ticket = _Ticket()
        job_id = next(self._ids)
        data = dill.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        with self._write_lock:
            if self._dead:
                raise _ServerGone("crashkit's fork server stopped; see its output above")
            self._tickets[job_id] = ticket
            try:
                _forkserver.write_message(self._out, (job_id, data, dict(os.environ)))
            except (BrokenPipeError, ValueError) as error:
                del self._tickets[job_id]
                raise _ServerGone(f"crashkit's fork server is gone ({error})") from None
        ticket.forked.wait()
        if not ticket.pid:
            raise ChildError("crashkit's fork server stopped; see its output above")
        return ticket

    def _read(self) -> None:
        try:
            with os.fdopen(self._responses, "rb", buffering=0) as source:
                while (message := _forkserver.read_message(source)) is not None:
                    event, job_id, value = message
                    ticket = self._tickets[job_id]
                    if event == "started":
                        ticket.pid = value
                        ticket.forked.set()
                    else:
                        ticket.status = value
                        del self._tickets[job_id]
                        ticket.done.set()
        finally:
            # The server died (or its answers make no sense): nothing more will come; wake
            # everyone waiting, and let no one wait on it again.
            with self._write_lock:
                self._dead = True
                waiting = list(self._tickets.values())
            for ticket in waiting:
                ticket.lost = True
                ticket.forked.set()
                ticket.done.set()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def idle(self) -> bool:
        return not self._tickets or not self.alive

    def stop(self) -> None:
        """Close the request pipe: the server kills what is left and exits."""
        with self._write_lock:
            self._dead = True
            with contextlib.suppress(OSError):
                self._out.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_SERVERS: dict[tuple[tuple[str, ...], tuple[str, ...]], _Server] = {}
_SERVERS_LOCK = threading.Lock()


#: Idle servers beyond this many are stopped when a new one starts.
_KEEP_SERVERS = 2


def _server(preload: tuple[str, ...]) -> _Server:
    key = (preload, tuple(sys.path))
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is not None and server.alive:
            return server
        if server is not None:
            server.stop()  # it died: close our ends of its pipes
        idle = [k for k, s in _SERVERS.items() if s.idle]
        for old in idle[: max(0, len(_SERVERS) - _KEEP_SERVERS + 1)]:
            _SERVERS.pop(old).stop()
        server = _SERVERS[key] = _Server(preload)
        return server


@atexit.register
def _stop_servers() -> None:
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.stop()


class FreshInterpreterStarter(_MultiprocessStarter):
    """Starts a new interpreter for every child (slow; the naive baseline)."""

    method = "spawn"


def kill_group(pid: int | None, *, leader: bool = True) -> None:
    """SIGKILL the process group a child leads (children call setpgid first).

    Args:
        leader: also kill the child itself when its group is gone (it may not have reached
            setpgid yet). Only for a child known to be alive: a reaped child's pid may
            already belong to another process.
    """
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if leader:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def make_starter(fresh_interpreter: bool, preload: Sequence[str] = ()) -> ChildStarter:
    """The fork server, or with ``fresh_interpreter`` a new interpreter per child."""
    if fresh_interpreter:
        return FreshInterpreterStarter()
    return ForkServerStarter(preload)
