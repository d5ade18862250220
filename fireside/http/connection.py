"""One client connection of `HttpServer`: parse requests, run the handler, answer in order.

Everything a client sends is bounded (`HttpLimits`): the request target (414), the head's bytes
and field count (431, counted while the head is still arriving, because httptools buffers a
header until it ends), the body (413, with a per-service bound from the edge), and the time a
head, a body or an idle keep-alive connection may take. Times are deadlines on the server's
coarse clock (`Shared.now`), checked by one sweep per server rather than a timer per request.
Reading pauses while `max_pipelined` requests wait, and answering pauses while the transport's
write buffer is full, so a client that sends without reading holds a bounded amount of memory.

Streaming (`fireside.http.streams`): a request the `stream_body` predicate selects is handed to
the handler at headers-complete with a `BodyStream` fed from here (reading pauses while its
reader is behind); a response with `stream` set is written chunked as its chunks come. The
whole-body paths stay as they were: one attribute test each is all streaming costs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
from collections import deque
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import cast

import httptools

from fireside.http.limits import HttpLimits
from fireside.http.streams import BodyError, BodyStream, chunk_frame, last_chunk
from fireside.http.types import Handler, Request, Response

log = logging.getLogger(__name__)

#: The largest body the edge accepts for a request, given its path and headers.
BodyLimit = Callable[[str, Mapping[str, str]], int | None]
#: Whether a request (method, target, headers) is handed over with its body still arriving.
StreamBody = Callable[[str, str, Mapping[str, str]], bool]

_REASONS = {status.value: status.phrase for status in HTTPStatus}

#: The lower-case names of the header fields most requests carry, as they are usually
#: spelled: each request's every field name would otherwise be decoded and lower-cased.
_FIELD_NAMES = {
    spelling.encode(): spelling.lower()
    for name in (
        "Host",
        "User-Agent",
        "Accept",
        "Accept-Encoding",
        "Connection",
        "Content-Type",
        "Content-Length",
        "Authorization",
        "X-Amz-Date",
        "X-Amz-Target",
        "X-Amz-Content-SHA256",
        "X-Amz-Security-Token",
        "X-Amz-User-Agent",
        "Amz-Sdk-Invocation-Id",
        "Amz-Sdk-Request",
        "X-Amz-Invocation-Type",
        "X-Amz-Log-Type",
        "Expect",
        "Transfer-Encoding",
        "Lambda-Runtime-Function-Error-Type",
    )
    for spelling in (name, name.lower())
}


def error_response(status: int, message: str) -> Response:
    body = json.dumps({"message": message}).encode()
    return Response(status, [("Content-Type", "application/json")], body)


class Shared:
    """What every connection of one server shares: its bounds, clock and connection sets."""

    __slots__ = (
        "body_limit",
        "coalesce",
        "connections",
        "handler",
        "idle",
        "limits",
        "now",
        "stream_body",
        "upgraded",
        "upgraded_pruned",
    )

    def __init__(
        self,
        handler: Handler,
        limits: HttpLimits,
        body_limit: BodyLimit | None,
        stream_body: StreamBody | None = None,
        coalesce: bool = False,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.body_limit = body_limit
        self.stream_body = stream_body
        #: Hold an answer while the client's next request is already read, and write it with
        #: that request's answer: one write (one wake-up of the client) for the two. For a
        #: client that pipelines a request it knows will wait (the runtime's `/response` then
        #: `/next`); a client that waits for each answer before sending the next never has an
        #: answer held.
        self.coalesce = coalesce
        #: loop.time() as of the last sweep: deadlines need no fresher clock than the sweep.
        self.now = 0.0
        #: Insertion-ordered sets (dicts), so the longest-idle connection is the first key.
        self.connections: dict[Connection, None] = {}
        self.idle: dict[Connection, None] = {}
        #: Transports handed over to another protocol (WebSockets): out of the HTTP
        #: accounting, but still closed with the server. Closed ones are pruned as it grows.
        self.upgraded: dict[asyncio.Transport, None] = {}
        self.upgraded_pruned = 0

    def hand_over(self, transport: asyncio.Transport) -> None:
        upgraded = self.upgraded
        if len(upgraded) >= 2 * self.upgraded_pruned + 64:
            for gone in [t for t in upgraded if t.is_closing()]:
                del upgraded[gone]
            self.upgraded_pruned = len(upgraded)
        upgraded[transport] = None


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that broke a limit."""


class Connection(asyncio.Protocol):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._limits = shared.limits
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client: tuple[str, int] | None = None
        # Per-request parse state.
        self._url = b""
        self._headers: dict[str, str] = {}
        #: Header fields merged into an earlier one of the same name (not in `_headers`' size).
        self._repeats = 0
        #: Each value of a repeated header, apart (None while no header repeats).
        self._repeated: dict[str, list[str]] | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_cap = 0
        #: Bytes received while a head was incomplete (bounds what httptools buffers), and
        #: the size of the last chunk received while not in a body.
        self._head_bytes = 0
        self._chunk = 0
        self._in_body = False
        #: Between a request's first byte and its last.
        self._started = False
        #: Set by a callback that refuses the request: (status, message).
        self._problem: tuple[int, str] | None = None
        #: When the connection is closed unless it makes progress (inf: a request is being
        #: answered, which may take as long as a Lambda timeout).
        self.deadline = math.inf
        #: When the connection is aborted unless the client reads some of its answers.
        self.write_deadline = math.inf
        # Requests are handled one at a time per connection, in arrival order.
        self._pending: deque[Request | Response] = deque()
        self._worker: asyncio.Task[None] | None = None
        #: The answer after which the connection closes (a refusal).
        self._last: Response | None = None
        #: The request after whose answer the connection closes (`Connection: close`, or
        #: HTTP/1.0 without keep-alive): read when it completes, because llhttp forgets it
        #: once the message is parsed (`should_keep_alive()` is True again afterwards, and the
        #: connection stayed open until the keep-alive timeout, holding a client that reads
        #: to the end of the stream).
        self._close_after: Request | None = None
        self._read_paused = False
        #: The body of the request being received, when it is streamed to its handler.
        self._stream: BodyStream | None = None
        #: Reading paused because the stream's reader is behind (`_read_paused`: pipelining).
        self._stream_paused = False
        self._writable: asyncio.Future[None] | None = None
        #: Answers held back to go out with the next one (`Shared.coalesce`).
        self._held = b""
        self._closing = False
        #: The bytes read past an upgrade request's head, once one is read: the connection
        #: reads no more HTTP, and after that request's answer is handed over or closed.
        self._upgrading: bytes | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same API.
        self._transport = cast(asyncio.Transport, transport)
        shared = self._shared
        if len(shared.connections) >= self._limits.max_connections and not self._make_room():
            self._transport.write(
                _encode(error_response(503, "Too many connections; try again later"), False)
            )
            self._transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._client = (str(peer[0]), int(peer[1]))
        shared.connections[self] = None
        # A new connection is evictable like an idle one, but must send its head in time.
        shared.idle[self] = None
        self.deadline = shared.now + self._limits.header_timeout

    def _make_room(self) -> bool:
        """Close the longest-idle connection; False when every connection is mid-request."""
        victim = next(iter(self._shared.idle), None)
        if victim is None:
            return False
        victim.drop()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        self._closing = True
        if self._stream is not None:
            self._stream.fail(BodyError(400, "the client closed the connection"))
            self._stream = None
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()
        self.write_deadline = self._shared.now + self._limits.send_timeout

    def resume_writing(self) -> None:
        self.write_deadline = math.inf
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        if (
            self._last is not None
            or self._transport is None
            or self._transport.is_closing()
            or self._upgrading is not None
        ):
            return
        if self._in_body:
            self.deadline = self._shared.now + self._limits.body_timeout
        else:
            # Only chunks that continue a head already begun count: the chunk a head starts
            # in may also hold whole requests before it (pipelining), so it is not counted,
            # which lets httptools buffer at most one read more than `max_head`.
            self._chunk = len(data)
            if self._started:
                self._head_bytes += self._chunk
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgrade(data, upgrade)
            return
        except httptools.HttpParserError:
            # A callback's refusal surfaces as HttpParserCallbackError, which parsing stops at.
            status, message = self._problem or (400, "malformed HTTP request")
            self._refuse(status, message)
            return
        if self._started and not self._in_body and self._head_bytes > self._limits.max_head:
            # The head is still arriving: refuse before httptools buffers any more of it.
            if len(self._url) > self._limits.max_url:
                self._refuse(414, "URI too long")
            else:
                self._refuse(431, "Request header fields too large")

    def _upgrade(self, data: bytes, upgrade: httptools.HttpParserUpgrade) -> None:
        """An upgrade request was read (httptools completed it, then stopped): its handler
        answers it; a 101 with `upgrade` hands the connection over, any other answer ends it."""
        request = self._pending[-1] if self._pending else None
        if not isinstance(request, Request) or self._transport is None:
            self._refuse(400, "malformed upgrade request")
            return
        offset = upgrade.args[0] if upgrade.args and isinstance(upgrade.args[0], int) else 0
        request.upgrade = True
        self._upgrading = data[offset:] if 0 < offset <= len(data) else b""
        self._close_after = request
        self._transport.pause_reading()
        self._read_paused = True
        self.deadline = math.inf

    def _hand_over(self, request: Request, response: Response) -> None:
        """Write the 101 head and give the transport to the response's protocol. The head
        names the protocol the request asked for (layers above may drop framing headers)."""
        transport, upgrade = self._transport, response.upgrade
        assert transport is not None and upgrade is not None
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            f"Upgrade: {request.headers.get('upgrade', '')}",
            "Connection: Upgrade",
        ]
        lines += [
            f"{name}: {value}"
            for name, value in response.headers
            if name.lower() not in ("upgrade", "connection", "content-length")
        ]
        lines.append("\r\n")
        transport.write("\r\n".join(lines).encode("latin-1"))
        self._forget()
        self._closing = True
        self._shared.hand_over(transport)
        rest, self._upgrading = self._upgrading or b"", None
        try:
            protocol = upgrade(transport, rest)
        except Exception:
            log.exception("taking over an upgraded connection failed")
            transport.abort()
            return
        transport.set_protocol(protocol)
        transport.resume_reading()

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._repeats = 0
        self._repeated = None
        self._body = []
        self._body_size = 0
        self._started = True
        self._shared.idle.pop(self, None)
        if not self._read_paused:  # while we hold the client back, its head cannot finish
            self.deadline = self._shared.now + self._limits.header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_url:
            self._problem = (414, "URI too long")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        # Sizes are checked once the head is complete (or while it is still arriving, in
        # data_received); only the field count is checked here, cheaply, as fields arrive.
        headers = self._headers
        if len(headers) + self._repeats >= self._limits.max_headers:
            self._problem = (431, "Request header fields too large")
            raise _Refused
        key = _FIELD_NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if self._stream is not None:  # a trailer field, after a streamed chunked body
            self._repeats += 1
            self._stream.trailers[key] = text
            return
        previous = headers.get(key)
        if previous is None:
            headers[key] = text
        else:
            self._repeats += 1
            headers[key] = f"{previous},{text}"
            if self._repeated is None:
                self._repeated = {}
            self._repeated.setdefault(key, [previous]).append(text)

    def on_headers_complete(self) -> None:
        self._in_body = True
        if self._head_bytes + self._chunk > self._limits.max_head:
            # The head may have outgrown the bound within one read: measure it exactly.
            size = len(self._url) + sum(len(k) + len(v) + 4 for k, v in self._headers.items())
            if size > self._limits.max_head:
                self._problem = (431, "Request header fields too large")
                raise _Refused
        self._head_bytes = 0
        if not self._read_paused:
            self.deadline = self._shared.now + self._limits.body_timeout
        body_limit = self._shared.body_limit
        cap = self._limits.max_body
        if body_limit is not None:
            bound = body_limit(self._url.decode("latin-1"), self._headers)
            if bound is not None and bound < cap:
                cap = bound
        self._body_cap = cap
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            # Answer at once and hang up rather than read (and discard) a huge body.
            self._problem = (413, "Request entity too large")
            raise _Refused
        if self._headers.get("expect", "").lower() == "100-continue" and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        stream_body = self._shared.stream_body
        if stream_body is not None:
            method = self._parser.get_method().decode("latin-1")
            if stream_body(method, self._url.decode("latin-1"), self._headers):
                self._enqueue_streamed(method)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._body_cap:  # a chunked body announces no length
            self._problem = (413, "Request entity too large")
            raise _Refused
        if self._stream is not None:
            if self._stream.feed(body) and not self._stream_paused:
                self._pause_for_stream()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        self._started = False
        self.deadline = math.inf
        if self._stream is not None:  # its handler has the request already
            self._stream.end()
            self._stream = None
            return
        # The whole-body path, inline (no helper calls: it is every request's).
        raw = self._url.decode("latin-1")
        path, _, query = raw.partition("?")
        request = Request(
            method=self._parser.get_method().decode("latin-1"),
            path=path,
            query=query,
            headers=self._headers,
            body=b"".join(self._body),
            client=self._client,
            repeated=self._repeated,
        )
        self._pending.append(request)
        if not self._parser.should_keep_alive() and self._close_after is None:
            self._close_after = request
        if (
            len(self._pending) >= self._limits.max_pipelined
            and not self._read_paused
            and self._transport is not None
        ):
            self._transport.pause_reading()
            self._read_paused = True
            self.deadline = math.inf
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._serve_pending())

    def _enqueue_streamed(self, method: str) -> None:
        """Hand the request whose head just ended to its handler, its body to follow."""
        path, _, query = self._url.decode("latin-1").partition("?")
        self._stream = BodyStream(self._stream_drained)
        request = Request(
            method=method,
            path=path,
            query=query,
            headers=self._headers,
            client=self._client,
            stream=self._stream,
        )
        self._pending.append(request)
        if not self._parser.should_keep_alive() and self._close_after is None:
            self._close_after = request  # read now: llhttp forgets it (see `_close_after`)
        if (
            len(self._pending) >= self._limits.max_pipelined
            and not self._read_paused
            and self._transport is not None
        ):
            self._transport.pause_reading()
            self._read_paused = True
            self.deadline = math.inf
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._serve_pending())

    def _pause_for_stream(self) -> None:
        self._stream_paused = True
        if not self._read_paused and self._transport is not None:
            self._transport.pause_reading()
        self.deadline = math.inf  # the reader is slow, not the client

    def _stream_drained(self) -> None:
        if not self._stream_paused:
            return
        self._stream_paused = False
        if self._read_paused or self._transport is None or self._last is not None:
            return
        self._transport.resume_reading()
        if self._started:
            self.deadline = self._shared.now + self._limits.body_timeout

    # -- answering ------------------------------------------------------------------------
    async def _serve_pending(self) -> None:
        pending = self._pending
        while pending and not self._closing:
            if self._writable is not None:
                await self._writable  # the client is not reading: produce no more for now
            item = pending.popleft()
            if self._read_paused and len(pending) <= self._limits.max_pipelined // 2:
                self._resume_reading()
            if isinstance(item, Response):
                response = item
                keep_alive = item is not self._last
            else:
                keep_alive = item is not self._close_after
                # Inline rather than a helper coroutine: one frame less per request.
                try:
                    response = await self._shared.handler(item)
                except asyncio.CancelledError:
                    raise
                except BodyError as exc:  # a streamed body that broke a bound, unhandled
                    response = error_response(exc.status, exc.message)
                except Exception:
                    # The edge turns every error into a response; reaching here is a bug.
                    log.exception("unhandled error serving %s %s", item.method, item.path)
                    response = error_response(500, "Internal server error")
                if item.upgrade:
                    if response.upgrade is not None and response.status == 101:
                        if self._transport is not None and not self._transport.is_closing():
                            self._hand_over(item, response)
                        return
                    # Refused (or answered as plain HTTP): the connection ends with it.
                    keep_alive = False
                elif response.upgrade is not None:
                    log.error("an upgrade answer to a request that asked none: sending 500")
                    response = error_response(500, "Internal server error")
                if item.stream is not None and not item.stream.complete:
                    # Answered before its body was all read: the rest cannot be skipped
                    # safely (it may never end), so the connection ends with this answer.
                    keep_alive = False
            if self._transport is None or self._transport.is_closing():
                if response.stream is not None:  # the client left before its first chunk
                    await _close(response.stream)
                return
            if response.status < 200:
                # An interim (1xx) status as the final answer: the client would take it as
                # interim and wait for ever for the real one (or, for 101, switch protocols).
                log.error("a %d answer to %s: sending 500", response.status, item)
                if response.stream is not None:
                    await _close(response.stream)
                response = error_response(500, "Internal server error")
            if response.status in (204, 304) and response.body:
                # A 204 or 304 has no body (RFC 9110 15.3.5, 15.4.5), whatever a handler (a
                # function's answer) put in it: the client reads none, and the bytes would be
                # taken for the start of the next answer on the connection.
                response = Response(response.status, response.headers, b"")
            if response.stream is not None:
                head_only = isinstance(item, Request) and item.method == "HEAD"
                if self._held:
                    self._transport.write(self._held)
                    self._held = b""
                if not await self._write_stream(response, keep_alive, head_only):
                    return
            else:
                try:
                    if isinstance(item, Request) and item.method == "HEAD":
                        # A HEAD answer carries the headers a GET would (Content-Length
                        # included) and never a body: the client reads none, so one would
                        # corrupt the stream.
                        data = head_bytes(response, keep_alive)
                    else:
                        data = _encode(response, keep_alive)
                except UnicodeEncodeError:
                    # A header a handler let through that HTTP cannot carry (text outside
                    # Latin-1): a bug upstream, but this task answering nothing would leave
                    # the client, and every request behind it on the connection, waiting
                    # for ever.
                    log.exception("unencodable response to %s", getattr(item, "path", "?"))
                    data = _encode(error_response(500, "Internal server error"), keep_alive)
                if self._held:
                    data, self._held = self._held + data, b""
                if (
                    keep_alive
                    and response.status < 300
                    and pending
                    and self._shared.coalesce
                    and isinstance(pending[0], Request)
                    and pending[0].stream is None
                    and not pending[0].upgrade
                ):
                    self._held = data  # the next request is read: its answer takes this along
                    continue
                self._transport.write(data)
            if not keep_alive:
                self.drop()
                return
        if not self._started and not self._closing and self._last is None:
            # Nothing is arriving or waiting: the keep-alive clock starts.
            self._shared.idle[self] = None
            self.deadline = self._shared.now + self._limits.keepalive_timeout

    async def _write_stream(self, response: Response, keep_alive: bool, head_only: bool) -> bool:
        """Write a streamed response chunked, each chunk as it comes; False if the connection
        cannot go on (the client left, or the producer failed mid-body and the connection was
        aborted so that the client cannot take a cut body for a whole one)."""
        transport = self._transport
        stream = response.stream
        assert transport is not None and stream is not None
        try:
            transport.write(_stream_head(response, keep_alive))
            if head_only:
                return True
            async for chunk in stream:
                if not chunk:
                    continue  # an empty chunk would end the body
                if self._writable is not None:
                    await self._writable
                if transport.is_closing():
                    return False
                transport.write(chunk_frame(chunk))
            transport.write(last_chunk())
            return True
        except Exception:
            log.exception("a streamed response failed mid-body; aborting its connection")
            self._forget()
            transport.abort()
            return False
        finally:
            # Ends the producer's iteration wherever it stopped (cancelled: the client left).
            await _close(stream)

    def _resume_reading(self) -> None:
        self._read_paused = False
        if (
            self._transport is None
            or self._last is not None
            or self._stream_paused
            or self._upgrading is not None
        ):
            return
        self._transport.resume_reading()
        if self._started:  # a request cut off by the pause: its clock starts again
            timeout = self._limits.body_timeout if self._in_body else self._limits.header_timeout
            self.deadline = self._shared.now + timeout

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` after the requests already read, then close; read nothing more."""
        if self._transport is None or self._transport.is_closing() or self._last is not None:
            return
        self._in_body = self._started = False
        self._body = []
        self.deadline = math.inf
        self._shared.idle.pop(self, None)
        self._transport.pause_reading()
        self._last = error_response(status, message)
        if self._stream is not None:
            # Its handler is reading it: it learns why and answers, then the connection ends.
            self._stream.fail(BodyError(status, message))
            self._stream = None
            return
        self._pending.append(self._last)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._serve_pending())

    def expire(self, now: float) -> None:
        """A deadline passed: abort if the client left its answers unread; else 408 if a
        request was partly sent, or close quietly."""
        if self.write_deadline <= now:
            self._forget()
            if self._transport is not None:
                self._transport.abort()  # close() would wait for the client to read
        elif self._started:
            self._refuse(408, "Request timeout")
        else:
            self.drop()

    def drop(self) -> None:
        """Close now (buffered answers are still flushed by the transport)."""
        self._forget()
        if self._transport is not None:
            self._transport.close()

    def _forget(self) -> None:
        self._shared.connections.pop(self, None)
        self._shared.idle.pop(self, None)
        self.deadline = self.write_deadline = math.inf


async def _close(stream: object) -> None:
    """Tell a streamed body's producer that nobody reads on (`ClosingStream`)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def head_bytes(response: Response, keep_alive: bool) -> bytes:
    reason = response.reason or _REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    has_length = False
    for name, value in response.headers:
        # Lower-cased only when it could be Content-Length: every answer's every header
        # passes here.
        if len(name) == 14 and name.lower() == "content-length":
            has_length = True
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _stream_head(response: Response, keep_alive: bool) -> bytes:
    reason = response.reason or _REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    for name, value in response.headers:
        if name.lower() not in ("content-length", "transfer-encoding"):
            lines.append(f"{name}: {value}")
    lines.append("Transfer-Encoding: chunked")
    if not keep_alive:
        lines.append("Connection: close")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _encode(response: Response, keep_alive: bool) -> bytes:
    return head_bytes(response, keep_alive) + response.body
