"""A small HTTP/1.1 server on asyncio and httptools, for the edge and the Runtime API.

Why our own: the invoke path crosses HTTP twice per call (client -> edge, then the Runtime API's
`/next` and `/response`), so every microsecond counts, and every execution environment needs its
own listener on its own address (the official runtime clients accept only `host:port`). A protocol
object per connection on the one event loop gives both with no framework overhead.

Behaviour: keep-alive and pipelined requests answered in order, `Expect: 100-continue`, chunked
request bodies (decoded by httptools; streamed to the handler for the requests `stream_body`
selects), streamed responses written chunked (`fireside.http.streams`), TCP_NODELAY on every connection, and each response written
with one `write` call (headers and body together) so Nagle and delayed ACKs never add 40 ms.
What a client may make the server hold is bounded by `HttpLimits` (see `connection.py`); the
deadlines those limits set are checked here, by one sweep over the connections per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable

from fireside.http.connection import BodyLimit, Connection, Shared, StreamBody, head_bytes
from fireside.http.limits import HttpLimits
from fireside.http.types import Handler, Response

__all__ = ["HttpLimits", "HttpServer", "StreamBody", "encode_response"]


def encode_response(response: Response, keep_alive: bool = True) -> bytes:
    """The full wire bytes of a response: head and body in one buffer."""
    return head_bytes(response, keep_alive) + response.body


class HttpServer:
    """Serves one handler on one or more listening sockets; `close()` ends every connection.

    `body_limit(path, headers)`, when given, may lower `limits.max_body` per request (the
    edge's per-service bounds); it runs once per request, when its head is complete.
    `stream_body(method, target, headers)`, when given, selects the requests whose handler
    starts at headers-complete and reads the body as it arrives (`Request.stream`).
    `coalesce`: an answer whose client's next request is already read goes out with that
    request's answer, in one write (see `Shared.coalesce`).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        limits: HttpLimits | None = None,
        max_body: int | None = None,
        body_limit: BodyLimit | None = None,
        stream_body: StreamBody | None = None,
        coalesce: bool = False,
    ) -> None:
        limits = limits or HttpLimits()
        if max_body is not None:
            limits = HttpLimits.from_mapping({"max_body": max_body}, limits)
        self._shared = Shared(handler, limits, body_limit, stream_body, coalesce)
        self._servers: list[asyncio.Server] = []
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def limits(self) -> HttpLimits:
        return self._shared.limits

    @property
    def connection_count(self) -> int:
        return len(self._shared.connections)

    @property
    def upgraded_count(self) -> int:
        """Connections handed over to another protocol and still open."""
        return sum(1 for t in self._shared.upgraded if not t.is_closing())

    def _factory(self) -> Connection:
        return Connection(self._shared)

    def _start_sweeping(self) -> None:
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self._shared.now = loop.time()
            self._sweeper = loop.create_task(self._sweep())

    async def _sweep(self) -> None:
        """Close connections whose deadline passed. One pass per tick over every connection
        costs far less than arming and cancelling a timer per request on the hot path."""
        loop = asyncio.get_running_loop()
        shared = self._shared
        tick = shared.limits.tick
        while True:
            await asyncio.sleep(tick)
            now = shared.now = loop.time()
            for connection in [
                c for c in shared.connections if c.deadline <= now or c.write_deadline <= now
            ]:
                connection.expire(now)

    async def listen(self, host: str, port: int, *, sock: socket.socket | None = None) -> int:
        """Start listening; returns the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._start_sweeping()
        if sock is not None:
            server = await loop.create_server(self._factory, sock=sock, backlog=1024)
        else:
            server = await loop.create_server(
                self._factory, host, port, backlog=1024, reuse_address=True
            )
        self._servers.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        return bound

    async def adopt(
        self, sock: socket.socket, tls: ssl.SSLContext | None = None
    ) -> Callable[[], Awaitable[None]]:
        """Serve an already listening socket too (over TLS with `tls`); returns a function that
        stops serving it."""
        loop = asyncio.get_running_loop()
        self._start_sweeping()
        server = await loop.create_server(self._factory, sock=sock, ssl=tls)
        self._servers.append(server)

        async def stop() -> None:
            if server in self._servers:
                self._servers.remove(server)
            server.close()

        return stop

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for server in self._servers:
            server.close()
        for connection in list(self._shared.connections):
            connection.drop()
        for transport in list(self._shared.upgraded):
            transport.close()  # its protocol learns it in connection_lost
        self._shared.upgraded.clear()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
