"""``torn``: write k (of more than one sector) persists only its sectors but the last,
then the process is killed."""

from __future__ import annotations

from crashkit.faults.base import ChildFault, FaultKind
from crashkit.model.operation import Operation
from crashkit.probes import python as _probe

__all__ = ["SECTOR", "Torn"]

#: A disk sector: the unit a torn write keeps or loses.
SECTOR = 512


class Torn(FaultKind):
    name = "torn"
    summary = "each write over one sector keeps all its sectors but the last, then a kill"
    injection = "only its first sectors reached the disk, then killed"
    wants_data = True

    def applies(self, op: Operation) -> bool:
        """A write with its bytes in hand (not a sendfile), of more than one sector."""
        return (
            op.kind == "fs.write"
            and int(op.detail.get("bytes", 0)) > SECTOR
            and "via" not in op.detail
        )

    def strike(self, op: Operation, payload: _probe.Payload | None, child: ChildFault) -> None:
        if payload is not None and payload.data is not None:
            _write_prefix(payload)
        _probe.kill_self()


def _write_prefix(payload: _probe.Payload) -> None:
    """Persist all whole sectors of the write but the last (the torn write)."""
    assert payload.fd is not None and payload.data is not None
    keep = SECTOR * ((len(payload.data) - 1) // SECTOR)
    if payload.offset is None:
        _probe._Real.write(payload.fd, payload.data[:keep])
    else:
        _probe._Real.pwrite(payload.fd, payload.data[:keep], payload.offset)
