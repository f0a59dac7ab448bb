"""``error``: operation k fails as it would for real, and the program keeps running.

File operations raise OSError (ENOSPC for writes, EIO otherwise), SQLite raises
OperationalError (``database is locked`` for a statement, ``disk I/O error`` for a
commit), HTTP requests get, in turn by point, a 503, a 429 with Retry-After, or a
connect timeout before anything was sent. The choice is deterministic, so reruns
of the same point agree.
"""

from __future__ import annotations

import errno
import os
import sqlite3

import httpx

from crashkit.faults.base import ChildFault, FaultKind
from crashkit.model.operation import Operation
from crashkit.probes import python as _probe

__all__ = ["Error", "injected_error"]


class Error(FaultKind):
    name = "error"
    summary = "each durable operation fails (ENOSPC/EIO, database is locked, HTTP 503/429)"
    crashes = False

    def describe(self, op: Operation) -> str:
        error = injected_error(op)
        if isinstance(error, _probe.InjectedResponse):
            return f"HTTP {error.response.status_code} answered to {op.target}"
        return f"{type(error).__name__}: {error}"

    def strike(self, op: Operation, payload: _probe.Payload | None, child: ChildFault) -> None:
        raise injected_error(op, payload.request if payload else None)


def injected_error(op: Operation, request: httpx.Request | None = None) -> BaseException:
    """The failure the ``error`` fault injects at ``op``."""
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
    return _probe.InjectedOSError(code, os.strerror(code), op.target)


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
