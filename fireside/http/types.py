"""The request and response values passed between the server, the edge and the wire layer.

Every layer of Fireside takes a `Request` and returns a `Response` (the same shape at every
level, so layers compose); none of them touches sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fireside.http.streams import BodyStream


@dataclass(slots=True)
class Request:
    method: str
    #: The path exactly as sent (still percent-encoded), without the query string.
    path: str
    #: The raw query string, without the leading "?" ("" when absent).
    query: str
    #: Header names in lower case; a repeated header's values are joined with ",".
    headers: dict[str, str]
    body: bytes = b""
    client: tuple[str, int] | None = None
    #: The body as it arrives, for requests the server was told to stream (`body` stays b"").
    stream: BodyStream | None = None
    #: Each value of a header sent on several lines, apart, by lower-case name (None when no
    #: header repeats; `headers` holds them joined): an ALB's multi-value headers need them.
    repeated: dict[str, list[str]] | None = None
    #: The client asked to switch protocols (`Upgrade:`, e.g. a WebSocket handshake).
    upgrade: bool = False


#: Takes over a connection after a 101 answer: given the transport and the bytes already read
#: past the handshake, returns the protocol that now owns the transport.
Upgrade = Callable[[asyncio.Transport, bytes], asyncio.Protocol]


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: A body produced over time: written chunked, each chunk as it comes (`body` unused).
    stream: AsyncIterator[bytes] | None = None
    #: The status line's reason phrase, when not the standard one for `status` (an ALB
    #: target's `statusDescription`); printable text without CR or LF.
    reason: str | None = None
    #: Set on a 101 answer to an upgrade request: the connection is handed over to it.
    upgrade: Upgrade | None = None


Handler = Callable[[Request], Awaitable[Response]]
