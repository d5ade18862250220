"""One HTTP/1.1 POST to a subscriber's endpoint, on asyncio: all SNS needs of a client.

Fireside's dependencies have an HTTP parser (httptools) but no asyncio client, and SNS's
needs are narrow: send one request, learn the status code, never follow a redirect (AWS
does not), give up after a deadline (AWS's 15 s). So each delivery opens a connection, sends
the request with `Connection: close` (and, as AWS does, a URL's `user:password@` as basic
authentication), reads the response head (bounded, like the server's)
and closes; the response body is not needed and is not read.

`https` endpoints are checked against the system's trusted roots unless the caller passes a
context that does not verify (`FIRESIDE_SNS_HTTPS_VERIFY=off`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools

__all__ = ["PostError", "post"]

#: Bytes of a response head read before the endpoint is judged broken.
MAX_HEAD = 64 * 1024


class PostError(Exception):
    """The endpoint could not be reached, or did not answer HTTP in time."""


class _Head:
    """httptools callbacks: the final answer's status, once its head is complete (an interim
    1xx answer, such as `100 Continue`, is passed over)."""

    def __init__(self) -> None:
        self.parser: Any = None
        self.status: int | None = None

    def on_headers_complete(self) -> None:
        status = int(self.parser.get_status_code())
        if not 100 <= status < 200 or status == 101:
            self.status = status


async def post(
    url: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> int:
    """POST `body` to `url` and return the response's status code (a 3xx is returned, not
    followed). Raises `PostError` on a connection failure, a malformed answer or no answer
    within `timeout` seconds."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PostError(f"not an http(s) URL: {url}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise PostError(f"bad port in {url}") from exc
    host_header = parts.netloc.rpartition("@")[2]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
    if parts.username is not None:  # AWS sends a URL's user:password as basic auth
        userinfo = unquote(parts.username) + ":" + unquote(parts.password or "")
        lines.append(f"Authorization: Basic {base64.b64encode(userinfo.encode()).decode()}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    request = "\r\n".join(lines).encode("latin-1", "replace") + body
    context = None
    if parts.scheme == "https":
        context = tls if tls is not None else ssl.create_default_context()
    try:
        async with asyncio.timeout(timeout):
            return await _exchange(parts.hostname, port, context, request)
    except TimeoutError as exc:
        raise PostError(f"no response within {timeout:g} s") from exc
    except (OSError, ssl.SSLError, httptools.HttpParserError) as exc:
        raise PostError(f"{type(exc).__name__}: {exc}") from exc


async def _exchange(host: str, port: int, context: ssl.SSLContext | None, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(
        host, port, ssl=context, server_hostname=host if context else None
    )
    try:
        writer.write(request)
        await writer.drain()
        head = _Head()
        parser = head.parser = httptools.HttpResponseParser(head)
        received = 0
        while head.status is None:
            chunk = await reader.read(16 * 1024)
            if not chunk:
                raise PostError("the endpoint closed the connection without an answer")
            received += len(chunk)
            with contextlib.suppress(httptools.HttpParserUpgrade):
                parser.feed_data(chunk)
            if head.status is None and received > MAX_HEAD:
                raise PostError(f"response head over {MAX_HEAD} bytes")
        return head.status
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
