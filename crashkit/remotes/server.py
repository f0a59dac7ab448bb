"""A fake remote as a real HTTP server on the loopback interface.

For programs in other languages (and any client that cannot be patched in-process): a
waitress server (https://docs.pylonsproject.org/projects/waitress/) bound to 127.0.0.1 only,
serving from one thread, that hands every request to one
:data:`~crashkit.remotes.exchange.Handle`.

Why waitress and not the standard library's ``http.server`` (whose documentation says it
is not for production): ``ThreadingHTTPServer`` starts a thread per connection, so slow or
silent clients pin any number of threads, and it has no timeouts or size limits. waitress
reads each request whole in its one I/O thread before a fixed pool of workers sees it, so a
slow client costs a connection slot, never a worker; and it bounds connections, idle time,
header and body sizes (:class:`Limits`).

Every refusal is the remote's own error answer (for Notion, ``{"object": "error", ...}``),
including those waitress makes at the protocol level (a malformed request, a header or body
too large). A request whose response is to be lost is applied, then the connection is closed
without an answer, as when the network drops a reply. A connection that stays silent, or
takes too long to send one request, is closed without an answer.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from crashkit.probes import syscall as _syscall_vars
from crashkit.probes.python import core as _probe
from crashkit.probes.syscall import session as _syscall
from crashkit.remotes.exchange import CONTENT_TYPE, Handle, Request, Response

__all__ = ["HOST", "Limits", "LoopbackServer", "Refuse"]

#: Only this interface is ever bound: the fake must not be reachable from the network.
HOST = "127.0.0.1"

#: How long the serving loop waits for network events before checking for close (seconds).
POLL_INTERVAL = 0.05

#: The remote's error answer for a status and a message; used for refusals made before a
#: request reaches the remote (``FakeRemote.error``).
Refuse = Callable[[int, str], Response]

_SILENT = logging.getLogger("crashkit.remotes.server.queue")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False

#: WSGI's start_response and environ, as waitress passes them.
_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class Limits:
    """How much one loopback server may take, whatever its clients do."""

    #: Worker threads answering requests; with the I/O thread, all the threads it runs.
    threads: int = 4
    #: Open connections; further clients wait in the listen backlog until one closes.
    connections: int = 64
    #: Seconds a connection may stay silent (before a request, or between two) before it
    #: is closed.
    idle_timeout: float = 10.0
    #: Seconds from a request's first byte to its last before the connection is closed,
    #: however steadily the bytes trickle in.
    request_timeout: float = 10.0
    #: The largest request body in bytes (Notion caps payloads at 500 KB); larger is a 413.
    max_body: int = 1 << 20
    #: The largest request head (request line and headers) in bytes; larger is a 431.
    max_header: int = 64 << 10


class _Lost(Exception):
    """Raised by the application: close the connection without writing an answer."""


class _AnswerTask(WSGITask):  # type: ignore[misc]  # waitress has no type hints
    def build_response_header(self) -> bytes:
        # One request per connection (``Connection: close``): a client never reuses a
        # connection the server is closing for idleness, which it could not tell from a
        # lost response; the fake loses answers only when a test arms it to.
        self.set_close_on_finish()
        return bytes(super().build_response_header())

    def service(self) -> None:
        try:
            super().service()
        except _Lost:  # nothing has been written: the client sees a closed connection
            self.close_on_finish = True


class _RefusalTask(ErrorTask):  # type: ignore[misc]
    """waitress's own refusal (malformed request, too large) as the remote's error answer."""

    def execute(self) -> None:
        error = self.request.error
        server: _Server = self.channel.server
        response = server.refuse(error.code, f"{error.reason}: {error.body.rstrip('.')}.")
        content = response.content()
        self.status = f"{response.status} {error.reason}"
        self.response_headers.extend(_headers(response, content))
        self.set_close_on_finish()
        self.content_length = len(content)
        self.write(content)


class _Channel(HTTPChannel):  # type: ignore[misc]
    task_class = _AnswerTask
    error_task_class = _RefusalTask
    #: When the request being received sent its first byte (``time.time()``).
    request_started = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.time()
        return bool(super().received(data))


class _Dispatcher(ThreadedTaskDispatcher):  # type: ignore[misc]
    """waitress's worker pool, with threads named after the remote."""

    #: waitress warns on every request that waits for a worker; with a fixed pool that is
    #: the design, and the warnings would flood the output of the program under test.
    queue_logger = _SILENT

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def start_new_thread(self, target: Callable[[int], None], thread_no: int) -> None:
        name = f"crashkit-fake-{self.name}-worker-{thread_no}"
        threading.Thread(target=target, name=name, args=(thread_no,), daemon=True).start()


class _Server(TcpWSGIServer):  # type: ignore[misc]
    channel_class = _Channel

    def __init__(self, app: Any, sock: socket.socket, limits: Limits, refuse: Refuse,
                 dispatcher: _Dispatcher) -> None:  # fmt: skip
        self.limits = limits
        self.refuse = refuse
        adjustments = Adjustments(
            host=HOST,
            port=sock.getsockname()[1],
            threads=limits.threads,
            connection_limit=limits.connections,
            # Both timeouts are enforced by maintenance() below, which the serving loop runs
            # at every poll (waitress's own check takes whole seconds).
            channel_timeout=max(1, int(limits.idle_timeout)),
            max_request_body_size=limits.max_body,
            max_request_header_size=limits.max_header,
            ident=None,  # no Server header: the fake stands for the remote, not waitress
            expose_tracebacks=False,
        )
        super().__init__(app, map={}, _sock=sock, dispatcher=dispatcher, adj=adjustments,
                         sockinfo=(socket.AF_INET, socket.SOCK_STREAM, None, None),
                         bind_socket=False)  # fmt: skip

    def maintenance(self, now: float) -> None:
        """Close silent connections and those taking too long to send one request.

        A connection with a request queued or being answered is left alone: the remote's
        handler bounds its own time (the store's busy timeout).
        """
        for channel in list(self.active_channels.values()):
            if channel.requests:
                continue
            idle = now - channel.last_activity > self.limits.idle_timeout
            receiving = channel.request is not None
            slow = receiving and now - channel.request_started > self.limits.request_timeout
            if idle or slow:
                channel.will_close = True


class LoopbackServer:
    """A running loopback server; use as a context manager or call :meth:`close`.

    Args:
        respond: answers one request (the fake's request handler); it must not raise (if it
            does, the client still gets ``refuse``'s 500, without the traceback).
        port: the port to bind on 127.0.0.1; 0 picks a free one.
        name: names the serving threads (``crashkit-fake-<name>``), to tell remotes apart.
        refuse: the remote's error answer for requests refused before reaching ``respond``.
        limits: the server's bounds; :class:`Limits`' defaults if None.

    Raises:
        OSError: the port cannot be bound (e.g. it is in use).
    """

    def __init__(
        self,
        respond: Handle,
        port: int = 0,
        name: str = "remote",
        *,
        refuse: Refuse,
        limits: Limits | None = None,
    ) -> None:
        self._respond = respond
        self._refuse = refuse
        self.limits = limits or Limits()
        sock = _bound(port)  # first, so that a port in use leaves nothing behind
        dispatcher = _Dispatcher(name)
        self._server = _Server(self._application, sock, self.limits, refuse, dispatcher)
        dispatcher.set_thread_count(self.limits.threads)
        self._stopping = threading.Event()
        #: Held while the wake-up trigger is pulled or retired: once the serving loop has
        #: closed its sockets the trigger's descriptor number may belong to another file.
        self._trigger_lock = threading.Lock()
        self._trigger_retired = False
        self._previous_url: str | None = None
        self._thread = threading.Thread(target=self._serve, name=f"crashkit-fake-{name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port."""
        return self._server.effective_host, self._server.effective_port

    @property
    def url(self) -> str:
        """The base URL to give a client, like ``http://127.0.0.1:PORT``."""
        host, port = self.address
        return f"http://{host}:{port}"

    def close(self) -> None:
        """Stop serving, end the worker threads and free the port (idempotent)."""
        self._stopping.set()
        if self._thread.is_alive():
            with self._trigger_lock:
                if not self._trigger_retired:  # the loop may have ended at its own poll
                    self._server.pull_trigger()  # wake it now rather than at its next poll
            self._thread.join()

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=POLL_INTERVAL, map=self._server._map, count=1)
                self._server.maintenance(time.time())
        finally:
            with self._trigger_lock:
                self._trigger_retired = True
            self._server.task_dispatcher.shutdown(timeout=self.limits.request_timeout)
            wasyncore.close_all(self._server._map)

    def _application(self, environ: dict[str, Any], start: _StartResponse) -> Iterable[bytes]:
        """The WSGI application: the request to ``respond``, its answer back."""
        request = _request(environ)
        lose = False
        try:
            _probed(request, self.url)
        except _probe.InjectedResponse as injected:
            return _answer(injected.response.status_code, injected.response.json(),
                           dict(injected.response.headers), start)  # fmt: skip
        except _probe.LoseResponse:
            lose = True
        except httpx.TimeoutException:
            raise _Lost from None  # a connect timeout: nothing was applied
        except Exception as error:  # crashkit's own failure, not a fault: the sweep must say so
            session = _syscall.active()
            if session is not None:
                session.fail(error)
            raise _Lost from None
        try:
            response = self._respond(request)
        except Exception as error:  # a bug must still answer like the remote's 500
            response = self._refuse(500, f"the fake failed: {type(error).__name__}")
        if response.lost or lose:
            raise _Lost
        content = response.content()
        start(f"{response.status} {_phrase(response.status)}", _headers(response, content))
        return [content]

    def __enter__(self) -> LoopbackServer:
        # A command phase of a scenario whose context serves this fake finds it here
        # (``{remote}`` in its arguments and environment).
        self._previous_url = os.environ.get(_syscall_vars.REMOTE_VARIABLE)
        os.environ[_syscall_vars.REMOTE_VARIABLE] = self.url
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        if self._previous_url is None:
            os.environ.pop(_syscall_vars.REMOTE_VARIABLE, None)
        else:
            os.environ[_syscall_vars.REMOTE_VARIABLE] = self._previous_url

    def __repr__(self) -> str:
        return f"<LoopbackServer {self.url}>"


_MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_PASSED = ("content-length", "content-type")


def _probed(request: Request, base: str) -> None:
    """In black-box mode the fake is the probe of requests: a mutating request is a
    point, recorded (and struck at) before it is applied."""
    session = _syscall.active()
    if session is not None and request.method in _MUTATING:
        session.request(request.method, request.path, base + request.path)


def _answer(
    status: int, body: Any, headers: dict[str, str], start: _StartResponse
) -> Iterable[bytes]:
    """An answer a fault made up (an injected error) instead of the remote's."""
    response = Response(status, body, {k: v for k, v in headers.items() if k not in _PASSED})
    content = response.content()
    start(f"{status} {_phrase(status)}", _headers(response, content))
    return [content]


def _bound(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As http.server did: a port left in TIME_WAIT by an earlier serve can be reused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def _request(environ: dict[str, Any]) -> Request:
    # REQUEST_URI is the path as sent (PATH_INFO is percent-decoded), as http.server gave it.
    url = urlsplit(environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return Request(
        method=environ["REQUEST_METHOD"],
        path=url.path,
        query=dict(parse_qsl(environ.get("QUERY_STRING", ""))),
        headers=headers,
        body=environ["wsgi.input"].read(),
    )


def _headers(response: Response, content: bytes) -> list[tuple[str, str]]:
    fixed = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(content)))]
    return fixed + list(response.headers.items())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status armed by a test that HTTP names no phrase for
        return "Error"
