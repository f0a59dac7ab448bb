"""A fresh interpreter per child: slow (a hundred milliseconds and more each), but it
forks nothing. The benchmark's baseline, and for programs that cannot be forked."""

from __future__ import annotations

import pickle
import subprocess
import time

import dill

from crashkit.launch.base import LauncherBase, bootstrap, child_environment, kill_group
from crashkit.model.process import ChildExit, ChildJob

__all__ = ["SpawnLauncher"]


class SpawnLauncher(LauncherBase):
    """Starts a new interpreter for every child (:mod:`crashkit.child.spawned`), the job
    on its standard input."""

    name = "spawn"
    summary = "start a fresh interpreter for every child (slow; the baseline)"

    def run(self, job: ChildJob, timeout: float) -> ChildExit:
        started = time.monotonic()
        data = dill.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self._admit()
        process = subprocess.Popen(
            bootstrap("spawned"),
            stdin=subprocess.PIPE,
            env=child_environment(job.env),
            process_group=0,  # the group the launcher kills, from the first instant
        )
        self._track(process.pid)
        try:
            if self.closed:  # close() ran while the child was being started
                kill_group(process.pid)
            try:
                process.communicate(data, timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop(process)
            kill_group(process.pid, leader=timed_out)  # a hang, or what the program left
            status = process.wait()
        finally:
            self._untrack(process.pid)
        self._stopping()
        return ChildExit(status, timed_out, time.monotonic() - started)


#: Seconds a hung child's supervisor gets to kill it and what it left, before SIGKILL.
_BURIAL = 5.0


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a hung child through its supervisor (:mod:`crashkit.child.spawned`), which
    kills it and then what it started outside its process group; SIGKILL if it cannot."""
    process.terminate()
    try:
        process.wait(_BURIAL)
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
