"""A scenario whose workload writes down every module its child process has loaded."""

import json
import sys

from crashkit import Scenario


def report_modules(world):
    world.path("modules.json").write_text(json.dumps(sorted(sys.modules)))


def nothing(world):
    """A phase that does nothing."""


def observe(world):
    return {}


boundary = Scenario(
    name="boundary", setup=nothing, workload=report_modules, restart=nothing, observe=observe
)
