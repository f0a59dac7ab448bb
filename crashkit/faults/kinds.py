"""Fault kinds: what happens at a crash point.

Each kind has two halves. In the child (:class:`ChildFault`): what happens right
before operation k, and, for the power-loss model, what every operation before
it did. In the runner (:class:`FaultKind`): which operations of a trace are
points for this kind, and whether the child is expected to die there.

=================  ====================================================================
kill               SIGKILL right before operation k (k = N+1: after the last one).
error              operation k fails as it would for real and the program keeps running:
                   file operations raise OSError (ENOSPC for writes, EIO otherwise), SQLite
                   raises OperationalError (``database is locked`` for a statement,
                   ``disk I/O error`` for a commit), HTTP requests get, in turn by point,
                   a 503, a 429 with Retry-After, or a connect timeout before anything
                   was sent.
lost-response      HTTP request k is applied by the remote but its answer is lost: the
                   client sees a read timeout.
torn               write k (of more than one sector) persists only its sectors but the
                   last, then the process is killed.
powerloss          the process is killed before operation k and the disk then loses what
                   the power-loss model (:mod:`crashkit.faults.disk`) says was not durable:
                   the harshest state and a bounded sample of in-between ones.
recovery-crash     a kill before operation k, then the first restart is killed too, at each
                   of its own durable operations (sampled by seed when there are many):
                   nested points ``p07/r03``.
=================  ====================================================================
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from crashkit.probes import python as _probe
from crashkit.model.operation import REMOTE_MUTATIONS, Operation
from crashkit.faults.disk import PowerCut, PowerLossModel

__all__ = ["FAULTS", "FAULT_KINDS", "ChildFault", "FaultKind", "injected_error"]

#: A disk sector: the unit a torn write keeps or loses.
SECTOR = 512
#: How many power-cut states are tried per point (the harshest first).
POWER_CUT_STATES = 4
#: How many nested points of the first restart are crashed per point (sampled beyond it).
NESTED_BUDGET = 6

_POWERCUTS = "powercuts.pkl"


@dataclass(frozen=True)
class FaultKind:
    """The runner's view of a fault kind."""

    name: str
    #: Whether the child dies at the point (kill-like), or keeps running after the failure.
    crashes: bool
    #: Whether point N+1 (after the last operation) exists for this kind.
    after_last: bool
    #: The operation kinds it applies to (None: all but explicit markers).
    kinds: frozenset[str] | None = None

    def points(self, trace: Sequence[Operation]) -> list[int]:
        """The crash points this kind offers on ``trace`` (1-based operation indices)."""
        chosen = [op.index for op in trace if self.applies(op)]
        return [*chosen, len(trace) + 1] if self.after_last else chosen

    def applies(self, op: Operation) -> bool:
        if self.name == "torn":  # a write with its bytes in hand, over one sector
            return (
                op.kind == "fs.write"
                and int(op.detail.get("bytes", 0)) > SECTOR
                and "via" not in op.detail
            )
        if self.kinds is not None:
            return op.kind in self.kinds
        return self.crashes or op.kind != "mark"


FAULTS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind("kill", crashes=True, after_last=True),
        FaultKind("error", crashes=False, after_last=False),
        FaultKind("lost-response", crashes=False, after_last=False, kinds=REMOTE_MUTATIONS),
        FaultKind("torn", crashes=True, after_last=False),
        FaultKind("powerloss", crashes=True, after_last=True),
        FaultKind("recovery-crash", crashes=True, after_last=True),
    )
}
FAULT_KINDS = tuple(FAULTS)


def injected_error(op: Operation, request: httpx.Request | None = None) -> BaseException:
    """The failure the ``error`` fault injects at ``op`` (deterministic, so reruns agree)."""
    if op.kind.startswith("http."):
        return _http_error(op, request or httpx.Request(op.target.split(" ", 1)[0], "http://x"))
    if op.kind.startswith("sql."):
        return sqlite3.OperationalError(
            "database is locked" if op.kind == "sql.exec" else "disk I/O error"
        )
    code = (
        errno.ENOSPC
        if op.kind in {"fs.write", "fs.create", "fs.trunc", "fs.truncate"}
        else errno.EIO
    )
    return OSError(code, os.strerror(code), op.target)


def _http_error(op: Operation, request: httpx.Request) -> BaseException:
    choice = op.index % 3
    if choice == 2:
        return httpx.ConnectTimeout("crashkit: connect timeout (nothing was sent)", request=request)
    status, code, headers = (
        (503, "service_unavailable", {})
        if choice == 0
        else (429, "rate_limited", {"Retry-After": "1"})
    )
    body = {
        "object": "error",
        "status": status,
        "code": code,
        "message": f"crashkit injected {status} {code}",
    }
    return _probe.InjectedResponse(
        httpx.Response(status, json=body, headers=headers, request=request)
    )


def describe_injection(fault: str, op: Operation) -> str:
    """One line saying what the fault did at ``op``."""
    if fault == "error":
        error = injected_error(op)
        if isinstance(error, _probe.InjectedResponse):
            return f"HTTP {error.response.status_code} answered to {op.target}"
        return f"{type(error).__name__}: {error}"
    return {
        "kill": "killed right before it",
        "lost-response": "the remote applied it; the client saw a read timeout",
        "torn": "only its first sectors reached the disk, then killed",
        "powerloss": "power cut right before it: unsynced data and folder entries lost",
        "recovery-crash": "killed right before it, then killed again inside recovery",
    }.get(fault, fault)


class ChildFault:
    """The child's half: acts at the crash point, feeds the power-loss model before it."""

    def __init__(self, fault: str, crash_at: int | None, run_dir: Path, world: Path) -> None:
        self.fault = fault
        self.crash_at = crash_at
        self.run_dir = run_dir
        self.model = PowerLossModel(world) if fault == "powerloss" and crash_at else None
        #: Whether the probe must capture written bytes.
        self.want_data = crash_at is not None and fault in ("torn", "powerloss")

    def before(self, op: Operation, payload: _probe.Payload | None) -> None:
        """Called before every operation."""
        if op.index == self.crash_at:
            self.strike(op, payload)
        elif self.model is not None:
            _feed(self.model, op, payload)

    def strike(self, op: Operation, payload: _probe.Payload | None) -> None:
        if self.fault == "error":
            raise injected_error(op, payload.request if payload else None)
        if self.fault == "lost-response":
            raise _probe.LoseResponse()
        if self.fault == "torn" and payload is not None and payload.data is not None:
            _write_prefix(payload)
        if self.fault == "powerloss":
            self._save_power_cuts()
        _probe.kill_self()

    def at_end(self, count: int) -> None:
        """The workload finished: strike now if the point is the one after the last operation."""
        if self.crash_at == count + 1:
            if self.fault == "powerloss":
                self._save_power_cuts()
            _probe.kill_self()

    def _save_power_cuts(self) -> None:
        assert self.model is not None
        states = self.model.states(limit=POWER_CUT_STATES, seed=self.crash_at or 0)
        with _probe._Real.open(self.run_dir / _POWERCUTS, "wb") as out:
            pickle.dump(states, out)


def read_power_cuts(run_dir: Path) -> list[PowerCut]:
    """The power-cut states a child computed at its crash point."""
    path = run_dir / _POWERCUTS
    if not path.exists():
        return []
    with path.open("rb") as file:
        states: list[PowerCut] = pickle.load(file)
    return states


def _write_prefix(payload: _probe.Payload) -> None:
    """Persist all whole sectors of the write but the last (the torn write)."""
    assert payload.fd is not None and payload.data is not None
    keep = SECTOR * ((len(payload.data) - 1) // SECTOR)
    if payload.offset is None:
        _probe._Real.write(payload.fd, payload.data[:keep])
    else:
        _probe._Real.pwrite(payload.fd, payload.data[:keep], payload.offset)


def _feed(model: PowerLossModel, op: Operation, payload: _probe.Payload | None) -> None:
    """Tell the model what a file operation is about to do (others do not concern it)."""
    # A path outside the world (a rename across its edge) raises ValueError: not modelled.
    with contextlib.suppress(ValueError):
        _FEEDERS.get(op.kind, _ignore)(model, op, payload)


def _ignore(model: PowerLossModel, op: Operation, payload: Any) -> None:
    """Operations the model does not need (SQLite statements, HTTP, markers)."""


def _write(model: PowerLossModel, op: Operation, payload: _probe.Payload | None) -> None:
    if payload is not None and payload.data is not None:
        model.write(op.target, payload.offset, payload.data)


def _rename(model: PowerLossModel, op: Operation, payload: Any) -> None:
    source, _, dest = op.target.partition(" -> ")
    model.rename(source, dest)


_FEEDERS: dict[str, Any] = {
    "fs.create": lambda m, op, p: m.create(op.target),
    "fs.trunc": lambda m, op, p: m.truncate(op.target, 0),
    "fs.write": _write,
    "fs.truncate": lambda m, op, p: m.truncate(op.target, int(op.detail.get("size") or 0)),
    "fs.rename": _rename,
    "fs.unlink": lambda m, op, p: m.unlink(op.target),
    "fs.mkdir": lambda m, op, p: m.mkdir(op.target),
    "fs.rmdir": lambda m, op, p: m.rmdir(op.target),
    "fs.fsync": lambda m, op, p: m.fsync(op.target),
    "fs.fdatasync": lambda m, op, p: m.fsync(op.target),
}
