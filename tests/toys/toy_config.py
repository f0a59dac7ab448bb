"""A scenario over a program that reads its bug switch at import time."""

import toy_config_program

from crashkit import Scenario

OLD, NEW = "old content", "hello world"


def setup(world):
    world.path("data.txt").write_text(OLD)


def workload(world):
    toy_config_program.save(str(world.root), NEW)


def restart(world):
    """No recovery: the file must be whole, old or new, whatever point the crash hit."""


def observe(world):
    return {}


def whole(world):
    assert world.path("data.txt").read_text() in (OLD, NEW)


config = Scenario(
    name="config",
    setup=setup,
    workload=workload,
    restart=restart,
    observe=observe,
    invariants=[whole],
    variants={"correct": {}, "inplace": {"TOY_CONFIG_BUGS": "inplace"}},
    expect_findings=["inplace"],
    program=["toy_config_program"],
    preload=["toy_config_program"],
)
