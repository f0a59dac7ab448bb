"""``lost-response``: HTTP request k is applied by the remote but its answer is lost;
the client sees a read timeout, and the program keeps running."""

from __future__ import annotations

from crashkit.faults.base import ChildFault, FaultKind
from crashkit.model.operation import REMOTE_MUTATIONS, Operation
from crashkit.probes import python as _probe

__all__ = ["LostResponse"]


class LostResponse(FaultKind):
    name = "lost-response"
    summary = "each mutating HTTP request is applied, but its answer is lost (a read timeout)"
    injection = "the remote applied it; the client saw a read timeout"
    crashes = False
    kinds = REMOTE_MUTATIONS

    def strike(self, op: Operation, payload: _probe.Payload | None, child: ChildFault) -> None:
        raise _probe.LoseResponse()
