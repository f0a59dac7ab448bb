"""The entry point of a child started as a fresh interpreter (the ``spawn`` launcher):
its job arrives as a dill pickle on standard input."""

from __future__ import annotations

import os
import sys

import crashkit.child.worker  # noqa: F401  (patches first: see crashkit.child.worker)
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
    _child.run(job)  # never returns
