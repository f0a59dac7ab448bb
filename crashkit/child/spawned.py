"""The entry point of a child started as a fresh interpreter (the ``spawn`` launcher):
its job arrives as a dill pickle on standard input.

The interpreter the launcher started is a small supervisor: it leads the process
group the launcher kills, adopts what the program leaves outside it (see
:mod:`crashkit.child.orphans`), forks the child that runs the job, and once that
child has ended kills what it left and ends the same way it did.
"""

from __future__ import annotations

import os
import signal
import sys

import crashkit.child.worker  # noqa: F401  (patches first: see crashkit.child.worker)
from crashkit.child import orphans
from crashkit.child import run as _child
from crashkit.model.process import EXIT_BAD_JOB


def main(argv: list[str]) -> None:
    try:
        import dill

        job = dill.loads(sys.stdin.buffer.read())
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(EXIT_BAD_JOB)
    # Its input is spent: a program reading it sees an empty one, as under a fork server.
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    _child.die_with_parent()
    orphans.become_subreaper()
    _child.expected_parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child.own_group = False
        os.environ[orphans.TAG] = "job"
        _child.run(job)  # never returns
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher decides what stops
    # The launcher stops a hung child with SIGTERM: kill it, then bury what it left while
    # this process, their subreaper, is still there to adopt them.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status = os.waitpid(pid, 0)
    _bury()
    _end_as(status)


def _bury() -> None:
    """Kill and reap everything the job left (adopted here), until nothing is left."""
    while True:
        orphans.kill_orphans((), ())
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _end_as(status: int) -> None:
    """Exit with the status the job's child ended with (by the same signal, if killed)."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)
