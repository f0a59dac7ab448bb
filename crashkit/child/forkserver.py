"""crashkit's fork server: one warm process that forks every child.

The server is a fresh interpreter that imports the probe's patches and the
program's modules once, then waits on a pipe. For each job it forks; the child
runs :func:`crashkit.child.run.run` and never returns. The server reaps its
children and reports how each ended. Forking a warm process costs about a
millisecond; the general-purpose fork server of ``multiprocess`` costs several
per child (a socket connection per child, descriptor passing, its own bootstrap),
and a fresh interpreter a hundred or more.

Jobs travel as dill pickles (a scenario may be a closure) inside the messages of
:mod:`crashkit.model.wire`:

* parent to server: ``(job_id, job_bytes, environment)``;
* server to parent: ``("started", job_id, pid)`` then ``("exited", job_id, status)``,
  where status is an exit code, or minus the signal number.

Nothing is left behind: the server exits when its request pipe closes (the parent
exited or died), killing whatever its children left running; children ask Linux to
kill them when the server dies (``PR_SET_PDEATHSIG``, in :mod:`crashkit.child.run`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import selectors
import signal

import crashkit.child.worker  # noqa: F401  (patches first: see crashkit.child.worker)
from crashkit.child import orphans
from crashkit.child import run as _child
from crashkit.model.process import EXIT_BAD_JOB
from crashkit.model.wire import read_message, write_message


class _Server:
    def __init__(self, requests: int, responses: int) -> None:
        self.requests = os.fdopen(requests, "rb", buffering=0)
        self.responses = os.fdopen(responses, "wb")
        self.children: dict[int, int] = {}  # pid -> job id
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        # Ctrl-C reaches the whole foreground group: the parent decides what stops, and
        # kills the children it wants gone; the server only dies with its request pipe.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.selector = selectors.DefaultSelector()

    def serve(self) -> None:
        selector = self.selector
        selector.register(self.requests, selectors.EVENT_READ, "request")
        selector.register(self.wake_read, selectors.EVENT_READ, "child")
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "child":
                        with contextlib.suppress(BlockingIOError):
                            os.read(self.wake_read, 4096)
                        self.reap()
                    else:
                        message = read_message(self.requests)
                        if message is None:
                            return  # the parent is gone
                        self.fork(*message)
        finally:
            self.kill_children()

    def fork(self, job_id: int, job_bytes: bytes, environ: dict[str, str]) -> None:
        _child.expected_parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self.become_child(job_id, job_bytes, environ)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # the child does it too: whoever runs first
        self.children[pid] = job_id
        write_message(self.responses, ("started", job_id, pid))
        self.reap()  # a child may be gone before its SIGCHLD was counted

    def become_child(self, job_id: int, job_bytes: bytes, environ: dict[str, str]) -> None:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            for fd in (
                self.requests.fileno(),
                self.responses.fileno(),
                self.wake_read,
                self.wake_write,
            ):
                with contextlib.suppress(OSError):
                    os.close(fd)
            # The parent's environment now, as a freshly started child would get it (the
            # server's own is a copy from when it started; mostly the same, and then
            # rebuilding it would only cost the child time).
            if environ != os.environ:
                os.environ.clear()
                os.environ.update(environ)
            os.environ[orphans.TAG] = str(job_id)  # what it starts is this job's too
            import dill  # imported by main() already

            job = dill.loads(job_bytes)
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(EXIT_BAD_JOB)
        _child.run(job)  # never returns
        os._exit(EXIT_BAD_JOB)

    def reap(self) -> None:
        # Not only while jobs run: a process adopted after its job was reaped (a
        # grandchild of a command, orphaned when its parent died last) is reaped here too,
        # and so kills what it left.
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job_id = self.children.pop(pid, None)
            # What a job left outside its process group (adopted here) dies with it.
            orphans.kill_orphans(self.children, {str(j) for j in self.children.values()})
            if job_id is not None:
                code = os.waitstatus_to_exitcode(status)
                write_message(self.responses, ("exited", job_id, code))

    def kill_children(self) -> None:
        for pid in list(self.children):
            orphans.kill(pid)
        orphans.kill_orphans((), ())  # and whatever the server adopted


def main(argv: list[str]) -> None:
    requests, responses = int(argv[0]), int(argv[1])
    # Warm, after the probe's patches (crashkit.child.worker): every child unpickles its
    # job with it (importing it costs a child several milliseconds).
    import dill  # noqa: F401

    for module in argv[2:]:
        # As multiprocess's fork server does: a module that does not import here is
        # imported (and fails, with its traceback) in each child that needs it.
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    # What the server imported is shared with every child until written to. Frozen, the
    # collector in a child never walks those objects, so it never copies their pages.
    gc.collect()
    gc.freeze()
    orphans.become_subreaper()
    _Server(requests, responses).serve()
