"""What every fake remote offers, and the machinery they share.

A remote subclasses :class:`FakeRemote` with a name, a one-line summary, its store and two
answers: to a request (:meth:`FakeRemote.answer`) and the error it gives
(:meth:`FakeRemote.error`). The base class runs each request in one store transaction
together with the fault trigger it sets off and its line in the request log, mounts the
remote in process (:meth:`FakeRemote.mock`), serves it on loopback
(:meth:`FakeRemote.serve`) and arms faults (:meth:`FakeRemote.fail_next`,
:meth:`FakeRemote.lose_next_response`).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, ClassVar, Generic

import httpx
import respx

from crashkit.remotes.exchange import Request, Response
from crashkit.remotes.mount import Mount
from crashkit.remotes.server import Limits, LoopbackServer
from crashkit.remotes.store import Store, Trigger, TxT

__all__ = ["DEFAULT_TOKEN", "FakeRemote"]

#: The bearer token clients must send unless the fake is given another.
DEFAULT_TOKEN = "secret_crashkit"


class FakeRemote(ABC, Generic[TxT]):
    """A fake web API kept in one SQLite file.

    Args:
        store_path: the store file; created if missing, reused (with its contents, clock,
            armed faults and request log) if present.
        token: the bearer token clients must send (``Authorization: Bearer <token>``).
        base_url: where clients send requests in :meth:`mock`; :attr:`default_base_url`
            if None.
    """

    #: The remote's key in :data:`crashkit.remotes.REMOTES` and on the command line.
    name: ClassVar[str]
    #: One line for help text: what the remote fakes.
    summary: ClassVar[str]
    #: The real remote's URL, which in-process clients keep using.
    default_base_url: ClassVar[str]

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        *,
        token: str = DEFAULT_TOKEN,
        base_url: str | None = None,
    ) -> None:
        self.store_path = os.fspath(store_path)
        self.token = token
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.store = self.open_store(self.store_path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store_path!r}, base_url={self.base_url!r})"

    # -- what a remote defines -------------------------------------------------------

    @abstractmethod
    def open_store(self, path: str) -> Store[TxT]:
        """The store file at ``path`` with the remote's tables (made if missing)."""

    @abstractmethod
    def answer(self, tx: TxT, request: Request) -> Response:
        """The remote's answer to a request no fault stopped, inside its transaction."""

    @abstractmethod
    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> Response:
        """The remote's error answer with this status (its usual code and message if None)."""

    def serving_notes(self) -> list[str]:
        """Lines a person serving the remote by hand needs besides its URL and token.

        May set the remote up for such use (the Notion fake makes a root page to name).
        """
        return []

    # -- serving ---------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request, in one store transaction with its fault and its log line."""
        with self.store.transaction() as tx:
            trigger = tx.take_trigger(request.method, request.path)
            response = self._respond(tx, request, trigger)
            fault = None if trigger is None else trigger.kind
            tx.log_request(request.method, request.path, response.status, fault)
        return response

    def mock(self) -> respx.MockRouter:
        """A respx router sending every request under :attr:`base_url` to this fake.

        Use it as a context manager (or decorator). Other requests are left alone: they go
        to any other active respx router, or to the network when there is none. A request
        whose response is armed to be lost raises ``httpx.ReadTimeout`` after being applied.
        """
        return self._mount().router()

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport answering every request from this fake.

        For ``httpx.Client(transport=fake.transport())``, e.g. as an SDK's ``client=``.
        """
        return self._mount().transport()

    def serve(self, port: int = 0, limits: Limits | None = None) -> LoopbackServer:
        """Start a real HTTP server for this fake on 127.0.0.1 (``with fake.serve() as server``).

        Every refusal, including the server's own (a malformed request, a body over
        ``limits.max_body``), is answered with :meth:`error`.

        Args:
            port: the port to bind; 0 picks a free one (read it from ``server.url``).
            limits: the server's threads, connections, timeouts and sizes; the defaults
                of :class:`~crashkit.remotes.server.Limits` if None.

        Raises:
            OSError: the port cannot be bound (e.g. it is in use).
        """
        return LoopbackServer(self._handle_or_fail, port, self.name, refuse=self.error,
                              limits=limits)  # fmt: skip

    def _respond(self, tx: TxT, request: Request, trigger: Trigger | None) -> Response:
        if trigger is None:
            return self.answer(tx, request)
        if trigger.kind == "fail":
            return self.error(trigger.status or 500, trigger.message, code=trigger.code,
                              retry_after=trigger.retry_after)  # fmt: skip
        return replace(self.answer(tx, request), lost=True)

    def _handle_or_fail(self, request: Request) -> Response:
        try:
            return self.handle(request)
        except Exception as error:  # a bug in the fake must still answer like the remote's 500
            return self.error(500, f"fake {self.name} failed: {error!r}")

    def _mount(self) -> Mount:
        return Mount(self.handle, self.base_url, self.name)

    # -- fault triggers --------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int = 1,
        retry_after: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``count`` matching requests fail with ``status``, applying nothing.

        The trigger fires before the request is looked at (as a failure in front of the
        remote would), so it also answers requests that would have failed otherwise.

        Args:
            status: the HTTP status, 400 to 599; the body is the remote's error for it.
            method: match only this HTTP method (``"PATCH"``); None matches any.
            path: match only paths (``/v1/...``) containing this text or matching this regex.
            count: how many requests fail before the trigger disarms.
            retry_after: seconds for a ``Retry-After`` header.
            code: the remote's error code; the usual one for ``status`` if None.
            message: the error message; the remote's usual one if None.

        Raises:
            ValueError: ``status`` is not an error status, or ``count`` is below 1.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next({status}): status must be 400-599, e.g. fail_next(503)")
        trigger = Trigger("fail", method, path, status, retry_after, code, message)
        self._arm(trigger, count)

    def lose_next_response(
        self, *, method: str | None = None, path: str | None = None, count: int = 1
    ) -> None:
        """Apply the next ``count`` matching requests but lose their responses.

        In-process the client gets ``httpx.ReadTimeout``; from :meth:`serve` the connection
        closes without an answer.

        Args:
            method: match only this HTTP method; None matches any.
            path: match only paths containing this text or matching this regex.
            count: how many responses are lost before the trigger disarms.

        Raises:
            ValueError: ``count`` is below 1.
        """
        self._arm(Trigger("lose", method, path), count)

    def disarm(self) -> None:
        """Forget every armed fault trigger."""
        with self.store.transaction() as tx:
            tx.disarm_all()

    def request_log(self) -> list[dict[str, Any]]:
        """Every request handled: ``method``, ``path``, ``status`` and ``fault`` (None,
        ``"fail"`` or ``"lose"``), oldest first."""
        with self.store.transaction(write=False) as tx:
            return tx.request_log()

    def _arm(self, trigger: Trigger, count: int) -> None:
        if count < 1:
            raise ValueError(f"count={count}: a trigger must fire at least once, e.g. count=1")
        with self.store.transaction() as tx:
            tx.arm(trigger, count)
