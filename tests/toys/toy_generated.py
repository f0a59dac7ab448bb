"""A toy generated scenario: a list of strings saved to ``items.txt``, then a ``done`` mark.

The world is the list. The correct program writes the items atomically (temp file,
rename), then the mark; a restart redoes the save unless the mark is there. The
``early-done`` variant writes the mark first when there are two items or more: a crash
between the mark and the items leaves them unwritten for good. Only worlds of two
items or more reach that window; the smallest is ``["", ""]`` at the point of the
items' temp file.
"""

from __future__ import annotations

import os

from hypothesis import strategies as st

import crashkit


def save(world: crashkit.World, items: list[str]) -> None:
    early = os.environ.get("TOY_BUG") == "early-done" and len(items) >= 2
    if early:
        world.path("done").write_text("")
    temp = world.path("items.txt.tmp")
    temp.write_text("".join(f"{item}\n" for item in items))
    os.replace(temp, world.path("items.txt"))
    if not early:
        world.path("done").write_text("")


def build(items: list[str]) -> crashkit.Scenario:
    def setup(world: crashkit.World) -> None:
        world.path("items.txt").write_text("")

    def restart(world: crashkit.World) -> None:
        if not world.path("done").exists():
            save(world, items)

    def observe(world: crashkit.World) -> dict[str, object]:
        return {
            "items": world.path("items.txt").read_text(),
            "done": world.path("done").exists(),
        }

    return crashkit.Scenario(
        name="items",
        setup=setup,
        workload=lambda world: save(world, items),
        restart=restart,
        observe=observe,
    )


items = crashkit.Generated(
    name="items",
    world=st.lists(st.text(alphabet="ab", max_size=4), max_size=5),
    build=build,
    variants={"correct": {}, "early-done": {"TOY_BUG": "early-done"}},
    expect_findings=["early-done"],
)
