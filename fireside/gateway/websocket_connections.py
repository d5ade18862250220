"""STAND-IN for the WebSocket connection registry (issue 17's contract, /work/ws-plan.md).

This file holds only the contract's names so that the WebSocket door (`websocket_door`)
type-checks on its own branch; the real module (transport, lifecycle, limits) replaces it
whole when the branches are merged. Nothing here serves a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fireside.http.types import Request, Response

__all__ = [
    "BusyError",
    "ConnectionHandler",
    "ConnectionInfo",
    "GoneError",
    "WebSocketConnections",
]


@dataclass(slots=True)
class ConnectionInfo:
    connection_id: str
    api_id: str
    stage: str
    account: str
    region: str
    #: `<api-id>.execute-api.<region>.amazonaws.com` (the event's `domainName`).
    domain_name: str
    #: Epoch milliseconds.
    connected_at: int
    #: Epoch milliseconds, updated on every message in or out.
    last_active_at: int
    source_ip: str
    user_agent: str


class ConnectionHandler(Protocol):
    async def on_message(self, info: ConnectionInfo, data: bytes, text: bool) -> None: ...

    async def on_disconnect(self, info: ConnectionInfo, code: int, reason: str) -> None: ...


class GoneError(Exception):
    """An unknown or closed connection id."""


class BusyError(Exception):
    """The client does not read what is sent to it (h-wsconn's `send` raises it)."""


class WebSocketConnections:
    """The contract's registry; every method of this stand-in raises NotImplementedError."""

    def new_id(self) -> str:
        raise NotImplementedError

    def admit(self, account: str) -> bool:
        raise NotImplementedError

    def accept(
        self,
        request: Request,
        info: ConnectionInfo,
        handler: ConnectionHandler,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        raise NotImplementedError

    def get(self, connection_id: str) -> ConnectionInfo | None:
        raise NotImplementedError

    async def send(self, connection_id: str, data: bytes, text: bool = True) -> None:
        raise NotImplementedError

    async def close(self, connection_id: str, code: int = 1000, reason: str = "") -> None:
        raise NotImplementedError

    async def close_all(self, code: int = 1001, reason: str = "Going away") -> None:
        raise NotImplementedError
