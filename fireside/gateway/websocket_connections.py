"""The open WebSocket connections of every WebSocket API, and their lifecycle.

A front door (the WebSocket API door) decides whether a handshake may proceed ($connect, its
authorizer, `admit`'s per-account rate) and then calls `accept`, which answers 101 and, once
the HTTP layer hands the transport over, registers the connection under its id. From then on
the registry owns it: messages go to the door's `ConnectionHandler.on_message` as tasks
(at most `max_inflight` at once per connection; reading pauses beyond), `send` and `close` serve
the `@connections` API, and every way a connection can end (the client's close frame, the
client vanishing, a protocol error, the idle timeout, the lifetime, DeleteConnection, server
shutdown) calls `on_disconnect` exactly once with the close code.

Deadlines (API Gateway's: 10 minutes idle, 2 hours in all) are checked by one sweep per tick
over the connections (`run`, under the app's supervisor), like the HTTP server's: an idle
connection holds no timer and no task. Connection ids live in memory only: they survive no
restart, as AWS's do not.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import string
import time
from dataclasses import dataclass
from typing import Protocol

from fireside.http.types import Request, Response
from fireside.http.websocket import CLOSED, CLOSING, GOING_AWAY, WebSocket, handshake

__all__ = [
    "BusyError",
    "ConnectionHandler",
    "ConnectionInfo",
    "GoneError",
    "WebSocketConnections",
]

log = logging.getLogger(__name__)

_ALNUM = string.ascii_letters + string.digits


@dataclass(slots=True)
class ConnectionInfo:
    connection_id: str
    api_id: str
    stage: str
    account: str
    region: str
    #: "<api-id>.execute-api.<region>.amazonaws.com" (the events' `domainName`).
    domain_name: str
    #: Epoch milliseconds.
    connected_at: int
    #: Epoch milliseconds, updated on every message in or out.
    last_active_at: int
    source_ip: str
    user_agent: str


class ConnectionHandler(Protocol):
    """What a WebSocket API does with its connections (implemented by its front door)."""

    async def on_message(self, info: ConnectionInfo, data: bytes, text: bool) -> None: ...

    async def on_disconnect(self, info: ConnectionInfo, code: int, reason: str) -> None: ...


class GoneError(Exception):
    """No open connection has this id (never had, or it closed)."""


class BusyError(Exception):
    """The client has not read what was sent to it (its buffer stayed full `send_timeout`)."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Connection(WebSocket):
    """A registered connection: the codec plus what the registry needs to run it."""

    __slots__ = ("deadline", "expires", "handler", "inflight", "info", "registry")

    def __init__(
        self,
        transport: asyncio.Transport,
        registry: WebSocketConnections,
        info: ConnectionInfo,
        handler: ConnectionHandler,
    ) -> None:
        super().__init__(transport, registry.max_frame, registry.max_message)
        self.registry = registry
        self.info = info
        self.handler = handler
        self.inflight = 0
        now = registry.now
        self.expires = now + registry.lifetime
        self.deadline = min(now + registry.idle_timeout, self.expires)

    def on_frame(self) -> None:
        registry = self.registry
        deadline = registry.now + registry.idle_timeout
        self.deadline = deadline if deadline < self.expires else self.expires

    def on_message(self, data: bytes, text: bool) -> None:
        self.info.last_active_at = _now_ms()
        self.registry._dispatch(self, data, text)

    def on_close(self, code: int, reason: str) -> None:
        self.registry._gone(self, code, reason)


class WebSocketConnections:
    """Every open WebSocket connection, by id. See the module docstring."""

    def __init__(
        self,
        *,
        idle_timeout: float = 600.0,
        lifetime: float = 7200.0,
        connect_rate: int = 500,
        max_frame: int = 32 * 1024,
        max_message: int = 128 * 1024,
        max_connections: int = 10_000,
        max_inflight: int = 10,
        close_timeout: float = 5.0,
        send_timeout: float = 5.0,
        disconnect_timeout: float = 10.0,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self.connect_rate = connect_rate
        self.max_frame = max_frame
        self.max_message = max_message
        self.max_connections = max_connections
        self.max_inflight = max_inflight
        self.close_timeout = close_timeout
        self.send_timeout = send_timeout
        self.disconnect_timeout = disconnect_timeout
        #: Seconds between sweeps: fine enough for the shortest deadline it checks.
        self.tick = max(0.01, min(1.0, idle_timeout / 10, lifetime / 10, close_timeout / 2))
        #: The loop's clock as of the last sweep or accept (deadlines need no finer one).
        self.now = 0.0
        self._open: dict[str, _Connection] = {}
        #: Connections that sent their close frame and wait for the client's: by deadline.
        self._closing: dict[_Connection, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._disconnects: set[asyncio.Task[None]] = set()
        #: Per account: (tokens, when) of the new-connection token bucket.
        self._buckets: dict[str, tuple[float, float]] = {}
        self._shut = False

    # -- the door's side -------------------------------------------------------------------
    @staticmethod
    def new_id() -> str:
        """An id shaped like API Gateway's ("R1kmxc2VNjMCFIA="): base64 of 11 bytes, with no
        `/` or `+`, so it needs no escaping in a URL path."""
        text = base64.b64encode(os.urandom(11)).decode()
        return "".join(c if c not in "+/" else secrets.choice(_ALNUM) for c in text)

    def admit(self, account: str) -> bool:
        """Whether `account` may open a connection now (a token bucket of `connect_rate` a
        second, as API Gateway's 500 new connections a second per account)."""
        rate = float(self.connect_rate)
        now = time.monotonic()
        tokens, when = self._buckets.get(account, (rate, now))
        tokens = min(rate, tokens + (now - when) * rate)
        if tokens < 1.0:
            self._buckets[account] = (tokens, now)
            return False
        self._buckets[account] = (tokens - 1.0, now)
        return True

    def accept(
        self,
        request: Request,
        info: ConnectionInfo,
        handler: ConnectionHandler,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        """The 101 answer that opens the connection (registered under `info.connection_id`
        once the HTTP layer hands the transport over), or the refusal of a bad handshake:
        400 (426 for an unsupported version), 429 over `max_connections`, 503 while closing."""
        outcome = handshake(request)
        if outcome[0] != "accept":
            status, reason = outcome
            extra = [("Sec-WebSocket-Version", "13")] if status == 426 else []
            return _refusal(int(status), str(reason), extra)
        if self._shut:
            return _refusal(503, "Service Unavailable")
        if len(self._open) >= self.max_connections:
            return _refusal(429, "Too Many Requests")
        loop = asyncio.get_running_loop()

        def take_over(transport: asyncio.Transport, rest: bytes) -> asyncio.Protocol:
            self.now = loop.time()
            connection = _Connection(transport, self, info, handler)
            if self._shut:
                connection.fail(GOING_AWAY, "Going away")
                return connection
            previous = self._open.get(info.connection_id)
            self._open[info.connection_id] = connection
            if previous is not None:  # an id reused by its door: the old one ends
                previous.fail(GOING_AWAY, "Going away")
            if rest:  # now, before any later read (a callback could run after one)
                connection.data_received(rest)
            return connection

        response_headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", str(outcome[1])),
            *(headers or []),
        ]
        return Response(101, response_headers, upgrade=take_over)

    # -- the @connections side -------------------------------------------------------------
    def get(self, connection_id: str) -> ConnectionInfo | None:
        connection = self._open.get(connection_id)
        return connection.info if connection is not None else None

    def __len__(self) -> int:
        return len(self._open)

    async def send(self, connection_id: str, data: bytes, text: bool = True) -> None:
        """Send one message (split into frames of `max_frame`). While the client's buffer
        is full (it does not read), waits up to `send_timeout` for room, then `BusyError`:
        what the server holds for a client stays bounded."""
        connection = self._open.get(connection_id)
        if connection is None:
            raise GoneError(connection_id)
        if not connection.writable:
            try:
                await asyncio.wait_for(connection.drained(), self.send_timeout)
            except TimeoutError:
                raise BusyError(connection_id) from None
        if not connection.send(data, text):
            raise GoneError(connection_id)
        connection.info.last_active_at = _now_ms()

    async def close(self, connection_id: str, code: int = 1000, reason: str = "") -> None:
        """Close a connection (DeleteConnection): its close frame is sent and `on_disconnect`
        runs, without waiting for the client's answer."""
        connection = self._open.get(connection_id)
        if connection is None:
            raise GoneError(connection_id)
        self.now = asyncio.get_running_loop().time()
        connection.close(code, reason)

    async def close_all(self, code: int = GOING_AWAY, reason: str = "Going away") -> None:
        """Server shutdown: refuse new connections, close every one (each client gets a close
        frame), and wait (up to `disconnect_timeout`) for every `on_disconnect`."""
        self._shut = True
        for connection in list(self._open.values()):
            connection.close(code, reason)
        for connection in list(self._closing):
            connection.transport.close()  # flushes the close frame, then ends TCP
        self._closing.clear()
        if self._disconnects:
            await asyncio.wait(set(self._disconnects), timeout=self.disconnect_timeout)

    # -- deadlines -------------------------------------------------------------------------
    async def run(self) -> None:
        """Close connections past their idle or lifetime deadline, and drop clients that
        leave our close frame unanswered; one pass per tick."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick)
            self.sweep(loop.time())

    def sweep(self, now: float) -> None:
        self.now = now
        for connection in [c for c in self._open.values() if c.deadline <= now]:
            # API Gateway closes both kinds with 1001 ("Going away").
            connection.close(GOING_AWAY, "Going away")
        if self._closing:
            for connection, deadline in list(self._closing.items()):
                if connection.state == CLOSED:
                    del self._closing[connection]
                elif deadline <= now:
                    del self._closing[connection]
                    connection.expire_close()

    # -- connections' callbacks ------------------------------------------------------------
    def _dispatch(self, connection: _Connection, data: bytes, text: bool) -> None:
        connection.inflight += 1
        if connection.inflight >= self.max_inflight:
            connection.pause_reading()
        task = asyncio.get_running_loop().create_task(self._message(connection, data, text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _message(self, connection: _Connection, data: bytes, text: bool) -> None:
        try:
            await connection.handler.on_message(connection.info, data, text)
        except Exception:
            log.exception("WebSocket message handler failed (%s)", connection.info.connection_id)
        finally:
            connection.inflight -= 1
            if connection.inflight <= self.max_inflight // 2:
                connection.resume_reading()

    def _gone(self, connection: _Connection, code: int, reason: str) -> None:
        """A connection stopped being open (called once per connection, by the codec)."""
        info = connection.info
        if self._open.get(info.connection_id) is connection:
            del self._open[info.connection_id]
        if connection.state == CLOSING:
            self._closing[connection] = self.now + self.close_timeout
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # closed outside the loop (interpreter exit): nothing to run
            return
        task = loop.create_task(self._disconnect(connection, code, reason))
        self._disconnects.add(task)
        task.add_done_callback(self._disconnects.discard)

    async def _disconnect(self, connection: _Connection, code: int, reason: str) -> None:
        try:
            await connection.handler.on_disconnect(connection.info, code, reason)
        except Exception:
            log.exception("WebSocket disconnect handler failed (%s)", connection.info.connection_id)


def _refusal(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps({"message": message}).encode()
    return Response(status, [("Content-Type", "application/json"), *(extra or [])], body)
