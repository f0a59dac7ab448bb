"""Length-prefixed pickles on a pipe: how the parent and a fork server talk.

Parent to server: ``(job_id, job_bytes, environment)``; server to parent:
``("started", job_id, pid)`` then ``("exited", job_id, status)``, where status is an
exit code, or minus the signal number. Jobs themselves are dill pickles inside
``job_bytes``; the envelope is a plain pickle.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

__all__ = ["read_message", "write_message"]

_HEADER = struct.Struct("!I")


def write_message(out: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def read_message(source: BinaryIO) -> Any:
    """The next message, or None at the end of the stream."""
    header = _read_exactly(source, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    data = _read_exactly(source, size)
    if data is None:
        return None
    return pickle.loads(data)


def _read_exactly(source: BinaryIO, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = source.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
