"""The default launcher: children forked from a warm server (:mod:`crashkit.child.forkserver`).

Forking a warm process costs about a millisecond, where a fresh interpreter importing
httpx costs around a hundred. A server imports the probe and the program's modules
once; it is started with the variant's environment already in force, so a program
that reads its configuration at import time sees the variant's, not the default's.
Servers are shared: one per (preload modules, ``sys.path``, variant environment),
started on first use and kept for the life of this process (a test session creates
many launchers). :meth:`ForkServerLauncher.close` kills this launcher's running
children, not the servers.
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

import dill

from crashkit.errors import ChildError
from crashkit.launch.base import LauncherBase, bootstrap, child_environment, kill_group
from crashkit.model.process import ChildExit, ChildJob
from crashkit.model.wire import read_message, write_message

__all__ = ["ForkServerLauncher"]


class ForkServerLauncher(LauncherBase):
    """Forks each child from a fork server with the program preloaded."""

    name = "forkserver"
    summary = "fork each child from a warm server with the program preloaded (fast)"

    def run(self, job: ChildJob, timeout: float) -> ChildExit:
        started = time.monotonic()
        self._admit()
        server = _server(self.preload, job.env)
        try:
            ticket = server.start(job)
        except _ServerGone:  # stopped between our lookup and the request: once more
            server = _server(self.preload, job.env)
            ticket = server.start(job)
        self._track(ticket.pid)
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
                    f"crashkit's fork server died while this child ran ({server.ending()}; "
                    "its children die with it): did the program kill its parent?"
                )
        finally:
            self._untrack(ticket.pid)
        self._stopping()
        return ChildExit(status, timed_out, time.monotonic() - started)


#: Seconds a server may take to fork a child, its start (importing the program) included.
_FORK_TIMEOUT = 120.0


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

    def __init__(self, preload: Sequence[str], env: dict[str, str]) -> None:
        requests_read, self._requests = os.pipe()
        self._responses, responses_write = os.pipe()
        self.process = subprocess.Popen(
            [*bootstrap("forkserver"), str(requests_read), str(responses_write), *preload],
            pass_fds=(requests_read, responses_write),
            stdin=subprocess.DEVNULL,
            env=child_environment(env),
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

    def start(self, job: ChildJob) -> _Ticket:
        """Fork a child running ``job``; returns once it has a pid."""
        ticket = _Ticket()
        job_id = next(self._ids)
        data = dill.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        with self._write_lock:
            if self._dead:
                raise _ServerGone(f"crashkit's fork server stopped ({self.ending()})")
            self._tickets[job_id] = ticket
            try:
                # The variant's environment is in force while the job is unpickled, which
                # may import the program (a scenario passed as an object).
                write_message(self._out, (job_id, data, {**os.environ, **job.env}))
            except (BrokenPipeError, ValueError) as error:
                del self._tickets[job_id]
                raise _ServerGone(f"crashkit's fork server is gone ({error})") from None
        if not ticket.forked.wait(_FORK_TIMEOUT):
            raise ChildError(
                f"crashkit's fork server forked nothing within {_FORK_TIMEOUT}s (it is still "
                "importing the program's modules: does importing them hang?)"
            )
        if not ticket.pid:
            raise ChildError(f"crashkit's fork server stopped ({self.ending()})")
        return ticket

    def _read(self) -> None:
        try:
            with os.fdopen(self._responses, "rb", buffering=0) as source:
                while (message := read_message(source)) is not None:
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

    def ending(self) -> str:
        """How the server process ended, for messages."""
        try:
            status = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if status < 0:
            return f"killed by {signal.Signals(-status).name}"
        return f"exit status {status}; its own errors are on crashkit's standard error"

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


_Key = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]
_SERVERS: dict[_Key, _Server] = {}
_SERVERS_LOCK = threading.Lock()

#: Idle servers beyond this many are stopped when a new one starts. A sweep needs one per
#: variant environment at once (a server is about 45 MB, mostly shared with its children).
_KEEP_SERVERS = 16


def _server(preload: tuple[str, ...], env: dict[str, str]) -> _Server:
    key: _Key = (preload, tuple(sys.path), tuple(sorted(env.items())))
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is not None and server.alive:
            return server
        retired = [server] if server is not None else []  # it died: close our pipe ends
        idle = [k for k, s in _SERVERS.items() if s.idle and k != key]
        retired += [_SERVERS.pop(k) for k in idle[: max(0, len(_SERVERS) - _KEEP_SERVERS + 1)]]
        server = _SERVERS[key] = _Server(preload, env)
    for old in retired:  # outside the lock: a stop may take seconds
        old.stop()
    return server


@atexit.register
def _stop_servers() -> None:
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.stop()
