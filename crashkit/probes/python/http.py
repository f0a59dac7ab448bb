"""The HTTP patch: ``httpx.Client.send`` and ``AsyncClient.send`` record every request
that changes the remote (POST/PATCH/PUT/DELETE), and let a fault answer it
(:class:`~crashkit.probes.python.core.InjectedResponse`) or lose its answer
(:class:`~crashkit.probes.python.core.LoseResponse`)."""

from __future__ import annotations

from typing import Any

import httpx

from crashkit.probes.python.core import InjectedResponse, LoseResponse, Payload, _Real, active

_MUTATING_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def _record_request(request: httpx.Request) -> None:
    probe = active()
    if probe is not None and request.method in _MUTATING_METHODS:
        probe.record(
            f"http.{request.method.lower()}",
            f"{request.method} {request.url.path}",
            {"url": str(request.url)},
            Payload(request=request),
        )


def _lost(request: httpx.Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(
        "crashkit: the response was lost (the remote applied the request)", request=request
    )


def probed_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
    try:
        _record_request(request)
    except InjectedResponse as injected:
        return injected.response
    except LoseResponse:
        _Real.send(self, request, **kwargs).close()
        raise _lost(request) from None
    return _Real.send(self, request, **kwargs)


async def probed_async_send(
    self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
) -> httpx.Response:
    try:
        _record_request(request)
    except InjectedResponse as injected:
        return injected.response
    except LoseResponse:
        await (await _Real.async_send(self, request, **kwargs)).aclose()
        raise _lost(request) from None
    return await _Real.async_send(self, request, **kwargs)
