"""One request to a fake remote and its answer, whichever way the request arrived.

In-process mounting and the loopback server both turn what they receive into a
:class:`Request` and write a :class:`Response` back, so a remote answers them alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTENT_TYPE", "Handle", "Request", "Response"]

#: Every answer is JSON, as from the web APIs the fakes stand for.
CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One HTTP request to a fake remote."""

    method: str
    #: The path below the remote's base URL (``/v1/...`` for Notion), without the query string.
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    #: Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    """A fake remote's answer to one request."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    #: The request was applied but its answer must never reach the client.
    lost: bool = False

    def content(self) -> bytes:
        """The body as the JSON bytes sent to the client."""
        return json.dumps(self.body).encode()


#: Answers one request; what the in-process mount and the loopback server dispatch to.
Handle = Callable[[Request], Response]
