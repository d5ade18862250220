"""A small HTTP/1.1 server on asyncio and httptools, for the edge and the Runtime API.

Why our own: the invoke path crosses HTTP twice per call (client -> edge, then the Runtime API's
`/next` and `/response`), so every microsecond counts, and every execution environment needs its
own listener on its own address (the official runtime clients accept only `host:port`). A protocol
object per connection on the one event loop gives both with no framework overhead.

Behaviour: keep-alive and pipelined requests answered in order, `Expect: 100-continue`, chunked
request bodies (decoded by httptools), a body size cap (413 before reading it all), TCP_NODELAY on
every connection, and each response written with one `write` call (headers and body together) so
Nagle and delayed ACKs never add 40 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import cast

import httptools

from fireside.http.types import Handler, Request, Response

log = logging.getLogger(__name__)

_REASONS = {status.value: status.phrase for status in HTTPStatus}


def _head(response: Response, keep_alive: bool) -> bytes:
    reason = _REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    has_length = False
    for name, value in response.headers:
        if name.lower() == "content-length":
            has_length = True
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def encode_response(response: Response, keep_alive: bool = True) -> bytes:
    """The full wire bytes of a response: head and body in one buffer."""
    return _head(response, keep_alive) + response.body


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, runs the handler, writes responses in order."""

    def __init__(self, handler: Handler, max_body: int, connections: set[_Connection]) -> None:
        self._handler = handler
        self._max_body = max_body
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client: tuple[str, int] | None = None
        # Per-request parse state.
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._too_large = False
        # Requests are handled one at a time per connection, in arrival order.
        self._pending: deque[Request | Response] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same API.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._client = (str(peer[0]), int(peer[1]))
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._closing = True
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "upgrade not supported here")
        except httptools.HttpParserError:
            self._reject(400, "malformed HTTP request")

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous},{text}"

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            # Answer at once and hang up rather than read (and discard) a huge body.
            self._too_large = True
            self._reject(413, "Request entity too large")
        elif self._headers.get("expect", "").lower() == "100-continue" and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._body_size += len(body)
        if self._body_size > self._max_body:
            self._too_large = True
            self._body = []
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._too_large:
            item: Request | Response = Response(
                413,
                [("Content-Type", "application/json")],
                b'{"message": "Request entity too large"}',
            )
        else:
            raw = self._url.decode("latin-1")
            path, _, query = raw.partition("?")
            item = Request(
                method=self._parser.get_method().decode("latin-1"),
                path=path,
                query=query,
                headers=self._headers,
                body=b"".join(self._body),
                client=self._client,
            )
        self._pending.append(item)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._serve_pending())

    # -- request handling -------------------------------------------------------------------
    async def _serve_pending(self) -> None:
        while self._pending and not self._closing:
            item = self._pending.popleft()
            keep_alive = self._parser.should_keep_alive() or bool(self._pending)
            if isinstance(item, Response):
                response = item
            else:
                try:
                    response = await self._handler(item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The edge turns every error into a response; reaching here is a bug.
                    log.exception("unhandled error serving %s %s", item.method, item.path)
                    response = Response(
                        500,
                        [("Content-Type", "application/json")],
                        b'{"message": "Internal server error"}',
                    )
            if self._transport is None or self._transport.is_closing():
                return
            if isinstance(item, Request) and item.method == "HEAD":
                # A HEAD answer carries the headers a GET would (Content-Length included)
                # and never a body: the client reads none, so one would corrupt the stream.
                self._transport.write(_head(response, keep_alive))
            else:
                self._transport.write(encode_response(response, keep_alive))
            if not keep_alive:
                self._transport.close()
                return

    def _reject(self, status: int, message: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            body = json.dumps({"message": message}).encode()
            response = Response(status, [("Content-Type", "application/json")], body)
            self._transport.write(encode_response(response, keep_alive=False))
            self._transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class HttpServer:
    """Serves one handler on one or more listening sockets; `close()` ends every connection."""

    def __init__(self, handler: Handler, *, max_body: int = 80 * 1024 * 1024) -> None:
        self._handler = handler
        self._max_body = max_body
        self._connections: set[_Connection] = set()
        self._servers: list[asyncio.Server] = []

    async def listen(self, host: str, port: int, *, sock: socket.socket | None = None) -> int:
        """Start listening; returns the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()

        def factory() -> _Connection:
            return _Connection(self._handler, self._max_body, self._connections)

        if sock is not None:
            server = await loop.create_server(factory, sock=sock, backlog=1024)
        else:
            server = await loop.create_server(factory, host, port, backlog=1024, reuse_address=True)
        self._servers.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        return bound

    async def adopt(self, sock: socket.socket) -> Callable[[], Awaitable[None]]:
        """Serve an already listening socket too; returns a function that stops serving it."""
        loop = asyncio.get_running_loop()

        def factory() -> _Connection:
            return _Connection(self._handler, self._max_body, self._connections)

        server = await loop.create_server(factory, sock=sock)
        self._servers.append(server)

        async def stop() -> None:
            if server in self._servers:
                self._servers.remove(server)
            server.close()

        return stop

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
