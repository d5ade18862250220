"""The request and response values passed between the server, the edge and the wire layer.

Every layer of Fireside takes a `Request` and returns a `Response` (the same shape at every
level, so layers compose); none of them touches sockets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


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


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Handler = Callable[[Request], Awaitable[Response]]
