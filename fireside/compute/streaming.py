"""Response streaming: a function's response on its way out while the function still runs.

A runtime streams by POSTing its `/response` with `Lambda-Runtime-Function-Response-Mode:
streaming` and a chunked body (`fireside.compute.runtime_api`); each chunk goes into the
invocation's `ResponseStream`, a small bounded pipe, and from there to whoever asked:

- a streaming caller (InvokeWithResponseStream, a Function URL in RESPONSE_STREAM mode) reads
  the pipe through `Invoker.invoke_stream` (or `Invoker.call_stream` for a front door), which
  hands back a `StreamedInvocation`;
- a plain Invoke of a streaming function gets the chunks collected into one payload (as on
  AWS, where such an Invoke answers buffered, within the 6 MB sync limit).

The pipe holds at most `max_buffered` bytes: past that, the Runtime API stops reading the
runtime's body, and TCP holds the function back until the caller reads. A caller that leaves
`detach`es: the rest of the response is read and dropped, so the function finishes and its
environment is free again. Limits: AWS's streamed-response soft limit (20 MB, `MAX_STREAMED`).

`Content-Type: application/vnd.awslambda.http-integration-response` (Node's
`awslambda.HttpResponseStream.from`) begins the body with a JSON prelude (statusCode, headers,
cookies) and 8 NUL bytes; `PreludeSplitter` takes it apart for the HTTP front doors.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from fireside.compute.invocation import MAX_SYNC_PAYLOAD, Outcome, error_payload

MAX_STREAMED = 20 * 1024 * 1024
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
_DELIMITER = b"\0" * 8
#: A body with no delimiter within its first 64 KB is taken to have no prelude (a prelude is
#: a status, a few headers and cookies).
_MAX_PRELUDE = 64 * 1024


class ResponseStream:
    """The chunks of one streamed response, between the Runtime API and the caller."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_collected",
        "_reader",
        "_writer",
        "collect",
        "content_type",
        "detached",
        "ended",
        "max_buffered",
        "size",
    )

    def __init__(self, content_type: str, *, collect: bool, max_buffered: int = 256 * 1024):
        self.content_type = content_type
        #: No streaming caller: keep every chunk for a buffered payload.
        self.collect = collect
        self.max_buffered = max_buffered
        self._chunks: deque[bytes] = deque()
        self._collected: list[bytes] = []
        self._buffered = 0
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        #: Bytes the runtime has sent so far.
        self.size = 0
        self.ended = False
        self.detached = False

    # -- the runtime's side (the Runtime API) ------------------------------------------------
    async def put(self, chunk: bytes) -> bool:
        """Pass a chunk on; waits while the caller is `max_buffered` bytes behind. False (and
        the chunk dropped) when it would take the response past `limit`."""
        self.size += len(chunk)
        if self.size > self.limit:
            return False
        if self.ended or self.detached:
            return True
        if self.collect:
            self._collected.append(chunk)
            return True
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        _wake(self._reader)
        while self._buffered > self.max_buffered and not (self.ended or self.detached):
            self._writer = asyncio.get_running_loop().create_future()
            await self._writer
        return True

    @property
    def limit(self) -> int:
        """Bytes the response may have: a collected one is a sync payload."""
        return MAX_SYNC_PAYLOAD if self.collect else MAX_STREAMED

    def payload(self) -> bytes:
        """Everything collected (a buffered caller's payload)."""
        return b"".join(self._collected)

    def end(self) -> None:
        """No more chunks: the response is complete, failed or abandoned."""
        self.ended = True
        _wake(self._reader)
        _wake(self._writer)

    # -- the caller's side -------------------------------------------------------------------
    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks as they come, until the end."""
        while True:
            while not self._chunks:
                if self.ended:
                    return
                self._reader = asyncio.get_running_loop().create_future()
                await self._reader
            chunk = self._chunks.popleft()
            self._buffered -= len(chunk)
            if self._buffered <= self.max_buffered:
                _wake(self._writer)
            yield chunk

    def detach(self) -> None:
        """The caller is gone: drop what waits and whatever else comes."""
        self.detached = True
        self._chunks.clear()
        self._buffered = 0
        _wake(self._writer)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def streamed_too_large_outcome() -> Outcome:
    message = f"Response payload size exceeded maximum allowed payload size ({MAX_STREAMED} bytes)."
    return Outcome(error_payload("Function.ResponseSizeTooLarge", message), "Unhandled")


@dataclass(slots=True)
class Completion:
    """How a streamed invocation ended, known once its last chunk is out.

    `error_code`/`error_details` are what InvokeWithResponseStream's `InvokeComplete` event
    carries: the error type (the runtime's `Lambda-Runtime-Function-Error-Type` trailer, or
    the error body's `errorType`) and the error body (JSON text)."""

    error_code: str | None = None
    error_details: str | None = None
    #: Base64 of the log's tail (when asked for with LogType=Tail), else None.
    log_result: str | None = None


def completion_of(payload: bytes, function_error: str | None, log_result: str | None) -> Completion:
    if function_error is None:
        return Completion(log_result=log_result)
    code = function_error
    try:
        error = json.loads(payload)
        if isinstance(error, dict) and isinstance(error.get("errorType"), str):
            code = error["errorType"]
    except (ValueError, RecursionError):
        pass
    return Completion(code, payload.decode(errors="replace"), log_result)


class PreludeSplitter:
    """Takes an http-integration response apart: the metadata JSON, then the body bytes.

    Fed chunk by chunk; `feed` returns (metadata or None, body bytes). The metadata comes out
    once, when the delimiter has arrived; a body with no delimiter within `_MAX_PRELUDE` (or at
    its end) has no metadata, and its bytes are all body."""

    __slots__ = ("_head", "done")

    def __init__(self) -> None:
        self._head = b""
        self.done = False

    def feed(self, chunk: bytes) -> tuple[dict[str, Any] | None, bytes]:
        if self.done:
            return None, chunk
        self._head += chunk
        at = self._head.find(_DELIMITER)
        if at < 0:
            if len(self._head) <= _MAX_PRELUDE:
                return None, b""
            return self.finish()
        self.done = True
        prelude, body = self._head[:at], self._head[at + len(_DELIMITER) :]
        self._head = b""
        try:
            metadata = json.loads(prelude)
        except (ValueError, RecursionError):
            metadata = None
        if not isinstance(metadata, dict):
            return None, prelude + _DELIMITER + body
        return metadata, body

    def finish(self) -> tuple[dict[str, Any] | None, bytes]:
        """The end of the body: whatever was held back is body."""
        self.done = True
        rest, self._head = self._head, b""
        return None, rest


class StreamedInvocation:
    """A running invocation whose response is read as the function produces it.

    What `Invoker.invoke_stream` returns once the function has begun answering (its first
    streamed byte, or its whole buffered response). Read it once, with `raw()` or `parts()`;
    then `completion` tells how it ended. Leaving early (closing the iterator, or the task
    reading it being cancelled) detaches: the function runs on to its end, its further output
    dropped, and its environment goes back to the pool.
    """

    def __init__(
        self,
        executed_version: str,
        stream: ResponseStream | None,
        result: asyncio.Future[tuple[Outcome, str]],
        log_tail: bool,
    ) -> None:
        self.executed_version = executed_version
        self._stream = stream
        self._result = result
        self._log_tail = log_tail
        #: The runtime's Content-Type: `HTTP_INTEGRATION` when the function wrote an HTTP
        #: prelude (Node's `awslambda.HttpResponseStream.from`).
        self.content_type = (
            stream.content_type if stream is not None else result.result()[0].content_type
        )
        #: How it ended; set when the iteration has read the last chunk.
        self.completion: Completion | None = None

    @property
    def streamed(self) -> bool:
        """False when the function answered whole (not written to stream)."""
        return self._stream is not None

    async def raw(self) -> AsyncGenerator[bytes]:
        """The response bytes exactly as the runtime sent them, chunk by chunk."""
        try:
            if self._stream is not None:
                async for chunk in self._stream.chunks():
                    yield chunk
                outcome, tail = await self._result
            else:
                outcome, tail = self._result.result()
                if outcome.function_error is None:
                    yield outcome.payload
            self.completion = completion_of(
                outcome.payload, outcome.function_error, tail if self._log_tail else None
            )
        finally:
            if self.completion is None:
                self.detach()

    async def parts(self) -> AsyncGenerator[dict[str, Any] | bytes]:
        """The response for an HTTP front door: with an HTTP prelude, its metadata first (a
        dict: statusCode, headers, cookies), then body bytes; else only body bytes."""
        source = self.raw()
        try:
            if self.content_type != HTTP_INTEGRATION:
                async for chunk in source:
                    yield chunk
                return
            splitter = PreludeSplitter()
            async for chunk in source:
                metadata, body = splitter.feed(chunk)
                if metadata is not None:
                    yield metadata
                if body:
                    yield body
            _, rest = splitter.finish()
            if rest:
                yield rest
        finally:
            await source.aclose()

    def detach(self) -> None:
        """Stop reading: the function runs to its end with nobody listening."""
        if self._stream is not None:
            self._stream.detach()
        if self._result.done() and not self._result.cancelled():
            self._result.exception()  # retrieved: nobody will read it now
        else:
            self._result.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[tuple[Outcome, str]]) -> None:
    if not future.cancelled():
        future.exception()


async def invoke_events(streamed: StreamedInvocation) -> AsyncIterator[dict[str, Any]]:
    """InvokeWithResponseStream's events: a PayloadChunk per chunk, then InvokeComplete."""
    source = streamed.raw()
    try:
        async for chunk in source:
            yield {"PayloadChunk": {"Payload": chunk}}
    finally:
        await source.aclose()
    completion = streamed.completion or Completion()
    fields = {
        "ErrorCode": completion.error_code,
        "ErrorDetails": completion.error_details,
        "LogResult": completion.log_result,
    }
    yield {"InvokeComplete": {name: value for name, value in fields.items() if value is not None}}
