"""A bounded load on a fake remote's loopback server, shared by its test and its benchmark.

127.0.0.1 only; at most 20 client threads; a fixed number of requests (5,000 by default)
drawn from a seeded mix: valid page creates, retrieves and block appends, and requests the
server must refuse (a wrong token, an unsupported or missing Notion-Version, a body that
is not JSON or is too large, an unknown route), mixed with slow clients (a request sent
byte by byte with pauses), silent ones (a connection that sends nothing) and garbage
bytes. Each client writes only to the pages it created, so the store's expected contents
are known exactly afterwards. Used by ``tests/integration/test_remote_load.py`` (which
asserts) and ``benchmarks/bench_remote.py`` (which prints figures).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The token and version every valid request carries.
TOKEN = "secret_crashkit"
VERSION = "2025-09-03"

#: Each kind of request, its weight in the mix, and the status the server must answer
#: (None: the connection must be closed by the server without an answer).
MIX: dict[str, tuple[int, int | None]] = {
    "create": (30, 200),
    "retrieve": (18, 200),
    "append": (20, 200),
    "bad_token": (6, 401),
    "bad_version": (5, 400),
    "no_version": (3, 400),
    "bad_json": (6, 400),
    "unknown_route": (3, 400),
    "too_large": (2, 413),
    "garbage": (4, 400),
    "slow": (2, 200),
    "slowloris": (1, None),
    "silent": (1, None),
}

#: Seconds a trickling client waits for the server to close its connection.
GIVE_UP = 10.0

#: The Notion error code each refused kind must carry.
CODES = {
    "bad_token": "unauthorized",
    "bad_version": "validation_error",
    "no_version": "missing_version",
    "bad_json": "invalid_json",
    "unknown_route": "invalid_request_url",
    "too_large": "validation_error",
    "garbage": "validation_error",
}


@dataclass
class Outcome:
    """What one request got."""

    kind: str
    #: The HTTP status; None if the connection closed without an answer.
    status: int | None
    #: The JSON body; None if there was none or it was not JSON.
    body: Any
    seconds: float
    #: Why the client failed (a timeout, a reset), if it did.
    error: str | None = None


@dataclass
class LoadResult:
    outcomes: list[Outcome]
    seconds: float
    #: The most threads the process had at once, and the most the server owned.
    max_threads: int
    max_server_threads: int
    threads_before: int
    #: Per client: {page id: blocks it must have}, for every page whose create was answered.
    pages: dict[str, int] = field(default_factory=dict)


@dataclass
class _Client:
    """One client thread: its schedule, its pages, and what it saw."""

    address: tuple[str, int]
    root: str
    rng: random.Random
    pages: dict[str, int] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)

    def run(self, count: int) -> None:
        kinds = list(MIX)
        weights = [MIX[kind][0] for kind in kinds]
        for kind in self.rng.choices(kinds, weights, k=count):
            started = time.perf_counter()
            try:
                status, body = getattr(self, f"_{kind}")()
                error = None
            except OSError as failure:  # a timeout or a reset: recorded, asserted on later
                status, body, error = None, None, repr(failure)
            self.outcomes.append(Outcome(kind, status, body, time.perf_counter() - started, error))

    # -- valid requests ----------------------------------------------------------------

    def _create(self) -> tuple[int | None, Any]:
        body = {
            "parent": {"page_id": self.root},
            "properties": {"title": {"title": [{"text": {"content": "load"}}]}},
            "children": [_paragraph("first")],
        }
        status, answer = self._send("POST", "/v1/pages", body)
        if status == 200:
            self.pages[answer["id"]] = 1
        return status, answer

    def _retrieve(self) -> tuple[int | None, Any]:
        page = self._own_page()
        return self._send("GET", f"/v1/pages/{page}")

    def _append(self) -> tuple[int | None, Any]:
        page = self._own_page()
        status, answer = self._send(
            "PATCH", f"/v1/blocks/{page}/children", {"children": [_paragraph("more")]}
        )
        if status == 200 and page in self.pages:
            self.pages[page] += 1
        return status, answer

    def _own_page(self) -> str:
        return self.rng.choice(list(self.pages)) if self.pages else self.root

    # -- refused requests ----------------------------------------------------------------

    def _bad_token(self) -> tuple[int | None, Any]:
        return self._send("GET", f"/v1/pages/{self.root}", token="secret_wrong")

    def _bad_version(self) -> tuple[int | None, Any]:
        return self._send("GET", f"/v1/pages/{self.root}", version="2021-05-13")

    def _no_version(self) -> tuple[int | None, Any]:
        return self._send("GET", f"/v1/pages/{self.root}", version=None)

    def _bad_json(self) -> tuple[int | None, Any]:
        return self._send("POST", "/v1/pages", raw=b'{"parent": {"page_id": ')

    def _unknown_route(self) -> tuple[int | None, Any]:
        return self._send("GET", "/v1/comments/nope")

    def _too_large(self) -> tuple[int | None, Any]:
        # Declares 2 MiB but sends 1 KiB of it: the server refuses on the header, and a
        # client still pushing the rest would have the refusal reset away by its own bytes.
        head = _head("POST", "/v1/pages", TOKEN, VERSION, b" " * (2 << 20))
        return self._exchange(head + b" " * 1024)

    # -- misbehaving clients -------------------------------------------------------------

    def _garbage(self) -> tuple[int | None, Any]:
        noise = bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(8, 200)))
        return self._exchange(noise.replace(b"\n", b"") + b"\r\n\r\n")

    def _slow(self) -> tuple[int | None, Any]:
        """A valid request sent a few bytes at a time, with pauses (within the limits)."""
        request = _head("GET", f"/v1/pages/{self.root}", TOKEN, VERSION, b"")
        pieces = [request[i : i + 8] for i in range(0, len(request), 8)]
        return self._exchange(*pieces, pause=0.2 / len(pieces))

    def _slowloris(self) -> tuple[int | None, Any]:
        """A request trickling in a byte every 20 ms, past the server's request timeout."""
        request = _head("GET", f"/v1/pages/{self.root}", TOKEN, VERSION, b"") * 100
        return self._trickle(request, 0.02)

    def _silent(self) -> tuple[int | None, Any]:
        """A connection that sends nothing at all."""
        return self._trickle(b"", 0.02)

    def _trickle(self, data: bytes, pause: float) -> tuple[int | None, Any]:
        """Send ``data`` a byte per ``pause`` until the server closes the connection (at
        most :data:`GIVE_UP` seconds)."""
        deadline = time.monotonic() + GIVE_UP
        with socket.create_connection(self.address, timeout=10) as conn:
            conn.settimeout(pause)
            for i in range(len(data) or 10**9):
                if time.monotonic() > deadline:
                    break
                try:
                    if data:
                        conn.sendall(data[i : i + 1])
                    first = conn.recv(65536)
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    return None, None
                if not first:
                    return None, None  # closed without an answer, as it must be
                conn.settimeout(10)
                return _parse(first + _read_all(conn))
        raise TimeoutError(f"the server kept a trickling connection open for {GIVE_UP} s")

    # -- the wire ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str = TOKEN,
        version: str | None = VERSION,
    ) -> tuple[int | None, Any]:
        content = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
        return self._exchange(_head(method, path, token, version, content) + content)

    def _exchange(self, *pieces: bytes, pause: float = 0.0) -> tuple[int | None, Any]:
        """Send the pieces, read to the end; (status, JSON body), or (None, None) if the
        server closed the connection without answering."""
        with socket.create_connection(self.address, timeout=10) as conn:
            for piece in pieces:
                try:
                    conn.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):  # refused early: read why
                    break
                time.sleep(pause)
            with contextlib.suppress(OSError):  # closed by the server after a refusal
                conn.shutdown(socket.SHUT_WR)
            answer = _read_all(conn)
        return _parse(answer)


def _head(method: str, path: str, token: str, version: str | None, content: bytes) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(content)}",
        "Content-Type: application/json",
    ]
    if version is not None:
        lines.append(f"Notion-Version: {version}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:  # the server closed with our unread bytes still queued
        pass
    return b"".join(chunks)


def _parse(answer: bytes) -> tuple[int | None, Any]:
    if not answer:
        return None, None
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": text}}]}}


def server_threads() -> int:
    """The threads a fake's loopback server runs (they are named ``crashkit-fake-...``)."""
    return sum(t.name.startswith("crashkit-fake-") for t in threading.enumerate())


def run_load(
    address: tuple[str, int],
    root: str,
    *,
    clients: int = 20,
    requests: int = 5000,
    seed: int = 0,
    sample: Callable[[], int] = threading.active_count,
) -> LoadResult:
    """Send ``requests`` requests from ``clients`` threads to the server at ``address``.

    Args:
        address: the loopback server's host and port.
        root: a page id to create pages under.
        clients: client threads (at most 20).
        requests: requests in all, shared evenly among the clients.
        seed: seeds each client's schedule, so a run can be repeated.
        sample: counts the process's threads; sampled every 5 ms during the load.
    """
    if not 1 <= clients <= 20 or address[0] != "127.0.0.1":
        raise ValueError(f"run_load({address}, clients={clients}): 127.0.0.1 and 1-20 clients")
    before = sample()
    load = [_Client(address, root, random.Random(seed * 1000 + n)) for n in range(clients)]
    share = [requests // clients + (n < requests % clients) for n in range(clients)]
    threads = [
        threading.Thread(target=c.run, args=(k,), name=f"load-client-{n}")
        for n, (c, k) in enumerate(zip(load, share, strict=True))
    ]
    peaks = [before, server_threads()]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.005):
            peaks[0], peaks[1] = max(peaks[0], sample()), max(peaks[1], server_threads())

    watcher = threading.Thread(target=watch, name="load-watcher")
    started = time.perf_counter()
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    outcomes = [outcome for client in load for outcome in client.outcomes]
    pages = {page: blocks for client in load for page, blocks in client.pages.items()}
    return LoadResult(outcomes, seconds, peaks[0], peaks[1], before, pages)
