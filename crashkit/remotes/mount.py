"""A fake remote mounted in the client's process: httpx requests answered without a socket.

:meth:`Mount.router` is a respx router that takes every request under the remote's base
URL and leaves the rest alone, so it nests with a test's own respx routers;
:meth:`Mount.transport` is an httpx transport for a client built to talk to the fake only.
A request whose response is to be lost raises ``httpx.ReadTimeout`` after being applied,
as a client sees a reply the network dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import respx

from crashkit.remotes.exchange import CONTENT_TYPE, Handle, Request

__all__ = ["Mount"]


@dataclass(frozen=True)
class Mount:
    """The in-process ways to reach one fake remote."""

    #: Answers one request (the fake's request handler).
    handle: Handle
    #: Where clients send requests (``https://api.notion.com``); paths below it are the fake's.
    base_url: str
    #: The remote's name, for the message of a lost response.
    name: str

    def router(self) -> respx.MockRouter:
        """A respx router sending every request under :attr:`base_url` to the fake."""
        router = respx.MockRouter(assert_all_called=False)
        router.route().mock(side_effect=lambda request: self._routed(router, request))
        return router

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport answering every request from the fake, whatever its URL."""
        return httpx.MockTransport(lambda request: self._answer(request, self._path(request)))

    def _routed(self, router: respx.MockRouter, request: httpx.Request) -> Any:
        path = self._path(request, strict=True)
        if path is not None:
            return self._answer(request, path)
        # Not for the fake: defer to other routers (None means "no match"), else pass through.
        active = router.Mocker.routers if router.Mocker is not None else []
        others = [other for other in active if other is not router]
        return None if others else request

    def _path(self, request: httpx.Request, *, strict: bool = False) -> str | None:
        """The request's path below :attr:`base_url`; None when not under it (if strict)."""
        base = httpx.URL(self.base_url)
        url = request.url
        prefix = base.path.rstrip("/")
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        if same_origin and url.path.startswith(prefix + "/"):
            return url.path[len(prefix) :]
        return None if strict else url.path

    def _answer(self, request: httpx.Request, path: str | None) -> httpx.Response:
        response = self.handle(_request(request, path or request.url.path))
        if response.lost:
            raise httpx.ReadTimeout(f"fake {self.name}: response lost (the request was applied)",
                                    request=request)  # fmt: skip
        headers = {"Content-Type": CONTENT_TYPE, **response.headers}
        return httpx.Response(response.status, headers=headers, content=response.content())


def _request(request: httpx.Request, path: str) -> Request:
    return Request(
        method=request.method,
        path=path,
        query=dict(request.url.params),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.content,
    )
