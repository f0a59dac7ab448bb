"""crashkit crashes itself: its results file and ``--resume``, swept like any program.

The workload is a sweep writing its point lines with crashkit's own
:class:`~crashkit.output.results.ResultsWriter`; the restart is ``--resume``: it reads
what survived, repairs a torn or damaged tail, and writes the points not yet done. After
any crash, under any fault, the file must read back with every point exactly once.

The ``no-repair`` variant resumes without cutting a torn tail (what ``--resume`` did
before it repaired files): a torn write then leaves a line no reader can get past.
"""

from __future__ import annotations

import os

from crashkit import ResultsError, Scenario, read_results
from crashkit.model.outcome import PointId
from crashkit.output import results as results_module
from crashkit.output.results import ResultsWriter

#: Points the pretend sweep writes; their output is long enough to tear (over a sector).
POINTS = 4
OUTPUT = "a line of program output \u2028 with a line separator in it\n" * 12


def _record(point: int) -> dict[str, object]:
    return {
        "type": "point",
        "scenario": "pretend",
        "scenario_id": "pretend.py::pretend",
        "variant": "correct",
        "fault": "kill",
        "point": point,
        "outcome": "pass",
        "findings": [],
        "op": {"index": point, "kind": "fs.write", "target": "notes.md"},
        "output": OUTPUT,
    }


def setup(world):
    world.path("reports").mkdir()


def sweep(world):
    with ResultsWriter(world.path("reports", "results.jsonl")) as writer:
        for point in range(POINTS):
            writer.write(_record(point))


def resume(world):
    if os.environ.get("CRASHKIT_SELF_BUG") == "no-repair":
        results_module._truncate = lambda path, end: None  # the old --resume
    with ResultsWriter(world.path("reports", "results.jsonl"), resume=True) as writer:
        for point in range(POINTS):
            if PointId.of(_record(point)) not in writer.done:
                writer.write(_record(point))


def observe(world):
    try:
        records = read_results(world.path("reports", "results.jsonl"))
    except ResultsError as error:
        return {"unreadable": str(error).split(":", 1)[-1].strip()[:80]}
    return {"points": sorted(r["point"] for r in records if r["type"] == "point")}


def every_point_once(world):
    state = observe(world)
    assert "unreadable" not in state, state["unreadable"]
    assert state["points"] == list(range(POINTS))


results_file = Scenario(
    name="results_file",
    setup=setup,
    workload=sweep,
    restart=resume,
    observe=observe,
    invariants=[every_point_once],
    variants={"correct": {}, "no-repair": {"CRASHKIT_SELF_BUG": "no-repair"}},
    expect_findings={"no-repair": ["torn"]},
)
