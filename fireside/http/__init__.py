"""A small HTTP/1.1 server on asyncio, and the request/response types every layer shares."""

from fireside.http.types import Handler, Request, Response

__all__ = ["Handler", "Request", "Response"]
