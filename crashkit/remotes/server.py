"""A fake remote as a real HTTP server on the loopback interface.

For programs in other languages (and any client that cannot be patched in-process): a
``ThreadingHTTPServer`` bound to 127.0.0.1 only, on a free port, serving from a daemon
thread, that hands every request to one :data:`~crashkit.remotes.exchange.Handle`. A
request whose response is to be lost is applied, then the connection is closed without an
answer, as when the network drops a reply.
"""

from __future__ import annotations

import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from crashkit.remotes.exchange import CONTENT_TYPE, Handle, Request

__all__ = ["HOST", "LoopbackServer"]

#: Only this interface is ever bound: the fake must not be reachable from the network.
HOST = "127.0.0.1"

#: How often the serving loop checks for :meth:`LoopbackServer.close`; closing waits this long.
POLL_INTERVAL = 0.02


class _Handler(BaseHTTPRequestHandler):
    """Turns one HTTP exchange into a :class:`Request` and writes the answer back."""

    # HTTP/1.0: one request per connection, so a lost answer is a plain closed connection.
    protocol_version = "HTTP/1.0"
    respond: Handle  # set on the subclass made for each server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        """Stay silent: the request log lives in the store."""

    def _request(self) -> Request | None:
        """The request, or None when the client went away before sending all of it."""
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            return None
        return Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )

    def _serve(self) -> None:
        request = self._request()
        if request is None:  # a truncated request never reaches the remote: apply nothing
            self.close_connection = True
            return
        response = self.respond(request)
        if response.lost:
            self.close_connection = True
            return
        content = response.content()
        self.send_response(response.status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(content)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's full name (socket.getfqdn), which
        # can take long and is of no use on the loopback interface.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]


class LoopbackServer:
    """A running loopback server; use as a context manager or call :meth:`close`.

    Args:
        respond: answers one request (the fake's request handler); it must not raise, since
            the client would get a closed connection instead of the remote's error.
        port: the port to bind on 127.0.0.1; 0 picks a free one.
        name: names the serving thread (``crashkit-fake-<name>``), to tell remotes apart.
    """

    def __init__(self, respond: Handle, port: int = 0, name: str = "remote") -> None:
        handler = type("Handler", (_Handler,), {"respond": staticmethod(respond)})
        self._server = _LoopbackServer((HOST, port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"crashkit-fake-{name}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL to give a client, like ``http://127.0.0.1:PORT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LoopbackServer {self.url}>"
