"""A scenario that tells in which process its module was imported (the fork server preloads it)."""

import json
import os

from crashkit import Scenario

IMPORTED_IN = os.getpid()


def workload(world) -> None:
    world.path("pids.json").write_text(json.dumps([IMPORTED_IN, os.getpid()]))


preload = Scenario(
    name="preload",
    setup=lambda world: None,
    workload=workload,
    restart=lambda world: None,
    observe=lambda world: {},
    timeout=20,
)
