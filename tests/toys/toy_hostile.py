"""Scenarios whose programs misbehave in ways crashkit must name rightly."""

import os
import random

from crashkit import Scenario


def setup(world):
    world.path("rows").mkdir()


def observe(world):
    return {"rows": sorted(p.name for p in world.path("rows").iterdir())}


def nothing(world):
    """Nothing to recover."""


def exits_half_way(world):
    world.path("rows", "a").write_text("a")
    os._exit(0)  # the rest is never done, and the status says all is well


def shuffles(world):
    rows = ["a", "b", "c", "d", "e", "f"]
    random.Random().shuffle(rows)  # a new order in every process
    for name in rows:
        world.path("rows", name).write_text(name)


def _scenario(name, workload, restart=nothing):
    return Scenario(name=name, setup=setup, workload=workload, restart=restart, observe=observe)


exits = _scenario("exits", exits_half_way)
shuffled = _scenario("shuffled", shuffles)
restart_exits = _scenario("restart_exits", lambda world: None, restart=exits_half_way)


def logs_outside(world):
    """Appends to a file outside its world: every point sees the line of the one before."""
    with open(os.environ["TOY_OUTSIDE_LOG"], "a") as log:
        log.write("ran\n")
    world.path("rows", "a").write_text("a")


outside = _scenario("outside", logs_outside)


def observe_objects(world):
    return {"rows": set(observe(world)["rows"]), "stamp": b"\x00"}


odd_observe = Scenario(
    name="odd_observe",
    setup=setup,
    workload=nothing,
    restart=nothing,
    observe=observe_objects,
)


def setup_raises(world):
    raise ValueError("the fixture file is missing")


def restart_hangs(world):
    import time

    time.sleep(300)


def invariant_raises(world):
    return {}["no such key"]


def writes_a_row(world):
    world.path("rows", "a").write_text("a")


broken_setup = Scenario(
    name="broken_setup", setup=setup_raises, workload=nothing, restart=nothing, observe=observe
)
hung_restart = Scenario(
    name="hung_restart",
    setup=setup,
    workload=writes_a_row,
    restart=restart_hangs,
    observe=observe,
    timeout=2,
)
raising_invariant = Scenario(
    name="raising_invariant",
    setup=setup,
    workload=writes_a_row,
    restart=nothing,
    observe=observe,
    invariants=[invariant_raises],
)
