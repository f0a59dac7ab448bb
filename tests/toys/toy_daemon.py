"""A scenario whose workload starts a grandchild in a session of its own, then goes on:
killing the child's process group does not reach it."""

import os
import subprocess
import sys

from crashkit import Scenario

#: What the grandchild's command line holds, so a test can look for it.
MARK = os.environ.get("TOY_DAEMON_MARK", "crashkit-toy-daemon")


def setup(world):
    world.path("log").write_text("")


def workload(world):
    subprocess.Popen(
        [sys.executable, "-c", "import time, sys; time.sleep(300)", MARK],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(world.path("log"), "a") as log:
        log.write("started\n")


def restart(world):
    """Nothing to recover."""


def observe(world):
    return {}


daemon = Scenario(name="daemon", setup=setup, workload=workload, restart=restart, observe=observe)


def hangs(world):
    """Starts its daemon, then never ends: the child is stopped at its timeout."""
    workload(world)
    import time

    time.sleep(300)


hung = Scenario(
    name="hung", setup=setup, workload=hangs, restart=restart, observe=observe, timeout=2
)
