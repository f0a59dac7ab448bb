"""What exploring a variant yields: the golden run, and one result per crash point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crashkit.faults import KILL
from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding, PointId, Round
from crashkit.scenario.generated import encode_world, world_of
from crashkit.scenario.journal import Uncovered
from crashkit.scenario.scenario import Scenario

__all__ = ["Golden", "PointResult"]


@dataclass
class Golden:
    """The run without a crash: the trace of N operations and the reference final state."""

    trace: list[Operation]
    state: Mapping[str, Any]
    rounds: list[Round]
    findings: list[Finding]
    duration: float
    output: str = ""
    #: The journal audit: mutations of the dry run no open journal entry covered.
    uncovered: list[Uncovered] = field(default_factory=list)
    #: What the probe could not see in the dry run (a shared writable mapping of a world
    #: file, io_uring, no stable world path), one line each.
    warnings: list[str] = field(default_factory=list)


@dataclass
class PointResult:
    """The outcome of one crash point."""

    scenario: Scenario
    variant: str
    fault: str
    point: int
    points: int
    op: Operation
    findings: list[Finding]
    rounds: list[Round]
    duration: float
    output: str = ""
    #: For recovery-crash: the point of the first restart that was crashed too.
    nested: int | None = None
    #: For recovery-crash: one result per nested point (this result aggregates them).
    children: list[PointResult] = field(default_factory=list)
    #: What the fault did, in a line ("OSError: [Errno 28] ...", "power cut ...").
    injection: str = ""
    #: The world that failed, inside the point's run folder (a power-cut state, a nested
    #: crash); kept as an artifact when the point fails.
    failed_world: str = "world"
    #: Where that world was kept, relative to the report folder (None: not kept).
    artifacts: str | None = None

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def id(self) -> PointId:
        return PointId(self.scenario.id, self.variant, self.fault, self.point, self.nested)

    @property
    def label(self) -> str:
        """``p07`` or, nested, ``p07/r03``."""
        return f"p{self.point:02d}" + (f"/r{self.nested:02d}" if self.nested else "")

    @property
    def expected(self) -> bool:
        """Whether findings are expected here (a variant known to be buggy)."""
        return self.scenario.expects_findings(self.variant)

    @property
    def replay(self) -> str:
        fault = f" --fault {self.fault}" if self.fault != KILL else ""
        world = world_of(self.scenario)
        # A generated scenario's world goes along, inline (see crashkit.scenario.generated).
        inline = f" --world {encode_world(world)}" if world is not None else ""
        return (
            f"crashkit replay {self.scenario.id} --variant {self.variant}{fault} "
            f"--point {self.point}{inline}"
        )

    def records(self) -> list[dict[str, Any]]:
        """Its results lines: one, or one per nested point."""
        return [c.to_json() for c in self.children] if self.children else [self.to_json()]

    def to_json(self) -> dict[str, Any]:
        record = self._record()
        world = world_of(self.scenario)
        if world is not None and not self.passed:
            record["world"] = world  # the report and the replay need nothing else
        return record

    def _record(self) -> dict[str, Any]:
        return {
            "type": "point",
            "scenario": self.scenario.name,
            "scenario_id": self.scenario.id,
            "variant": self.variant,
            "fault": self.fault,
            "point": self.point,
            "points": self.points,
            "op": self.op.to_json(),
            "outcome": "pass" if self.passed else "fail",
            "expected_findings": self.expected,
            "expected_faults": sorted(self.scenario.catching_faults(self.variant)),
            "findings": [f.to_json() for f in self.findings],
            "rounds": [r.to_json() for r in self.rounds],
            "duration": round(self.duration, 4),
            "output": self.output,
            "replay": self.replay,
            "nested": self.nested,
            "injection": self.injection,
            "artifacts": self.artifacts,
        }
