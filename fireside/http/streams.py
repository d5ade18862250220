"""Bodies that are not whole: a request body read as it arrives, a response written as made.

Most requests and answers are small and whole (`Request.body`, `Response.body`), the fast path.
Two kinds are not, and only those pay for streaming:

- a request the server's `stream_body` predicate selects (the Runtime API's streamed response
  POST) reaches its handler when its head is complete, with `Request.stream`, a `BodyStream`
  the connection feeds as bytes arrive. The connection stops reading the socket while more
  than `high_water` bytes wait unread (the sender is held back by TCP), and the usual bounds
  apply: a body over the size cap or silent past the body timeout fails the stream with a
  `BodyError` carrying the status the client gets.
- a `Response` with `stream` set (an async iterator of byte chunks) is written with
  `Transfer-Encoding: chunked`, each chunk as soon as it is produced, waiting while the
  client does not read. A client that hangs up mid-stream cancels the iteration where it
  waits (the iterator's `finally` runs), so the producer can let go. The server calls the
  stream's `aclose` whenever it stops, even before the first chunk; an async generator that
  was never started runs no `finally` then, so a producer that must be told (a function
  still writing) hands the server a `ClosingStream`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["BodyError", "BodyStream", "ClosingStream", "chunk_frame", "last_chunk"]

T = TypeVar("T")


class BodyError(Exception):
    """A streamed request body that cannot be read to its end: too large, too slow, cut off.

    `status` and `message` are what the client is answered (when it is still there)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyStream:
    """One request body, read by the handler while the connection still receives it."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_error",
        "_on_drain",
        "_over",
        "_waiter",
        "complete",
        "high_water",
        "trailers",
    )

    def __init__(self, on_drain: Callable[[], None], high_water: int = 256 * 1024) -> None:
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BodyError | None = None
        #: Called when the reader has taken enough that the connection may read again.
        self._on_drain = on_drain
        #: More than `high_water` bytes waited (the connection paused reading) and the reader
        #: has not yet caught up to half of it.
        self._over = False
        self.high_water = high_water
        #: Set when the last chunk arrived: the body is all there (in `trailers`, any sent).
        self.complete = False
        #: Trailer fields sent after a chunked body (names in lower case).
        self.trailers: dict[str, str] = {}

    # -- the connection's side -------------------------------------------------------------
    def feed(self, data: bytes) -> bool:
        """Queue bytes received; True when the reader is behind and reading should pause."""
        self._chunks.append(data)
        self._buffered += len(data)
        self._wake()
        if self._buffered > self.high_water:
            self._over = True
        return self._over

    def end(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, error: BodyError) -> None:
        if not self.complete and self._error is None:
            self._error = error
            self._wake()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the handler's side ----------------------------------------------------------------
    async def read(self) -> bytes:
        """The next bytes of the body; b"" once it has all been read. Raises `BodyError`."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self.complete:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._over and self._buffered <= self.high_water // 2:
            self._over = False
            self._on_drain()
        return data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while data := await self.read():
            yield data


def chunk_frame(data: bytes) -> bytes:
    """One chunk of a chunked body (an empty one would end the body: callers skip them)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def last_chunk(trailers: list[tuple[str, str]] | None = None) -> bytes:
    """The terminating zero-size chunk, with trailer fields if any."""
    fields = "".join(f"{name}: {value}\r\n" for name, value in trailers or ())
    return b"0\r\n" + fields.encode("latin-1") + b"\r\n"


class ClosingStream(Generic[T]):
    """An async iterator whose `aclose` always runs `on_close`, whether or not iteration
    began: the producer learns that nobody will read the rest (a Function URL's or an
    InvokeWithResponseStream client that left before the first chunk was written)."""

    __slots__ = ("_items", "_on_close")

    def __init__(
        self, items: AsyncIterator[T], on_close: Callable[[], Awaitable[None] | None]
    ) -> None:
        self._items = items
        self._on_close: Callable[[], Awaitable[None] | None] | None = on_close

    def __aiter__(self) -> ClosingStream[T]:
        return self

    async def __anext__(self) -> T:
        return await anext(self._items)

    async def aclose(self) -> None:
        on_close, self._on_close = self._on_close, None
        try:
            aclose = getattr(self._items, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if on_close is not None:
                done = on_close()
                if done is not None:
                    await done
