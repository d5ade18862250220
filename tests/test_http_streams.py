"""The HTTP server's streaming paths, in-process (fireside/http/streams.py, connection.py).

Each test runs an `HttpServer` on the test's own event loop with a handler it controls and
talks to it over a real socket, so it can see the order of events on both sides: a streamed
request body reaching the handler before the client has sent all of it, a streamed response
reaching the client before the handler has produced all of it, and each side held back (not
buffered without bound) when the other does not keep up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from fireside.http.limits import HttpLimits
from fireside.http.server import HttpServer
from fireside.http.streams import BodyError
from fireside.http.types import Request, Response

Handler = Callable[[Request], Awaitable[Response]]


def streamed(method: str, target: str, headers: Mapping[str, str]) -> bool:
    return target.startswith("/stream")


async def serve(handler: Handler, **limits: Any) -> tuple[HttpServer, int]:
    server = HttpServer(handler, limits=HttpLimits(**limits), stream_body=streamed)
    port = await server.listen("127.0.0.1", 0)
    return server, port


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    size = int((await asyncio.wait_for(reader.readline(), 5)).strip(), 16)
    data = await reader.readexactly(size + 2)
    return data[:-2]


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


HEAD = b"POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: X-Error\r\n\r\n"


def test_a_streamed_request_reaches_its_handler_before_its_body_ends() -> None:
    async def test() -> None:
        first_read = asyncio.Event()
        seen: list[bytes] = []

        async def handler(request: Request) -> Response:
            if request.path == "/plain":
                assert request.stream is None
                return Response(200, [], request.body)
            assert request.stream is not None and request.body == b""
            async for chunk in request.stream:
                seen.append(chunk)
                first_read.set()
            body = b"".join(seen) + b"|" + request.stream.trailers.get("x-error", "").encode()
            return Response(200, [], body)

        server, port = await serve(handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD + b"5\r\nhello\r\n")
        # The handler has the first chunk while the rest is not even sent.
        await asyncio.wait_for(first_read.wait(), 5)
        writer.write(b"6\r\n world\r\n0\r\nX-Error: boom\r\n\r\n")
        head = await read_head(reader)
        assert head.startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(16) == b"hello world|boom"
        # The connection stays usable: a plain request after the streamed one.
        writer.write(b"POST /plain HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
        assert (await read_head(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
        await server.close()

    run(test)


def test_a_streamed_body_over_the_cap_fails_with_413() -> None:
    async def test() -> None:
        failures: list[int] = []

        async def handler(request: Request) -> Response:
            assert request.stream is not None
            try:
                async for _ in request.stream:
                    pass
            except BodyError as exc:
                failures.append(exc.status)
                raise
            return Response(200)

        server, port = await serve(handler, max_body=1000)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD + b"400\r\n" + b"x" * 1024 + b"\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)  # answered, then closed
        assert answer.startswith(b"HTTP/1.1 413")
        assert failures == [413]
        writer.close()
        await server.close()

    run(test)


def test_a_stalled_streamed_body_fails_with_408() -> None:
    async def test() -> None:
        async def handler(request: Request) -> Response:
            assert request.stream is not None
            try:
                await request.stream.read()
                await request.stream.read()
            except BodyError as exc:
                return Response(exc.status, [], exc.message.encode())
            return Response(200)

        server, port = await serve(handler, body_timeout=0.4)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD + b"1\r\na\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 408")
        writer.close()
        await server.close()

    run(test)


def test_a_handler_that_does_not_read_holds_the_client_back() -> None:
    """Reading pauses while the handler is behind: the client's sends block (TCP) rather
    than the server buffering the body; it all arrives once the handler reads."""

    async def test() -> None:
        go = asyncio.Event()
        total = 0

        async def handler(request: Request) -> Response:
            nonlocal total
            assert request.stream is not None
            await go.wait()
            async for chunk in request.stream:
                total += len(chunk)
            return Response(200, [], str(total).encode())

        server, port = await serve(handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.set_write_buffer_limits(high=64 * 1024)
        block = b"x" * 65536
        frame = b"%x\r\n%b\r\n" % (len(block), block)
        writer.write(HEAD)
        sent = 0
        blocked = False
        while sent < 64 * 1024 * 1024:
            writer.write(frame)
            sent += len(block)
            try:
                await asyncio.wait_for(writer.drain(), 0.3)
            except TimeoutError:
                blocked = True
                break
        assert blocked, "the server read 64 MB for a handler that read nothing"
        assert sent < 32 * 1024 * 1024
        go.set()
        await asyncio.wait_for(writer.drain(), 10)
        writer.write(b"0\r\n\r\n")
        await read_head(reader)
        assert int(await reader.read(20)) == sent
        writer.close()
        await server.close()

    run(test)


def test_a_streamed_response_reaches_the_client_chunk_by_chunk() -> None:
    async def test() -> None:
        release = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await release.wait()  # the client must have the first chunk by now
            yield b""  # skipped: an empty chunk would end the body
            yield b"second"

        async def handler(request: Request) -> Response:
            return Response(200, [("Content-Type", "text/plain")], stream=body())

        server, port = await serve(handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await read_head(reader)
        assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
        assert await read_chunk(reader) == b"first"
        release.set()
        assert await read_chunk(reader) == b"second"
        assert await read_chunk(reader) == b""  # the last chunk (no trailers)
        # Keep-alive: the next request on the same connection.
        writer.write(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in await read_head(reader)
        writer.write(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        await read_head(reader)
        assert await read_chunk(reader) == b"first"
        writer.close()
        await server.close()

    run(test)


def test_a_streamed_response_waits_for_a_client_that_does_not_read() -> None:
    async def test() -> None:
        produced = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal produced
            block = b"y" * 65536
            while produced < 256 * 1024 * 1024:
                produced += len(block)
                yield block

        async def handler(request: Request) -> Response:
            return Response(200, [], stream=body())

        server, port = await serve(handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=65536)
        writer.write(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        await read_head(reader)
        await asyncio.sleep(0.5)  # not reading: the producer must be held back
        assert produced < 32 * 1024 * 1024
        writer.close()
        await server.close()

    run(test)


def test_a_client_leaving_mid_stream_ends_the_producer() -> None:
    async def test() -> None:
        ended = asyncio.Event()
        forever = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            try:
                yield b"only"
                await forever.wait()
                yield b"never"
            finally:
                ended.set()

        async def handler(request: Request) -> Response:
            if request.path == "/ok":
                return Response(200, [], b"ok")
            return Response(200, [], stream=body())

        server, port = await serve(handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        await read_head(reader)
        assert await read_chunk(reader) == b"only"
        writer.close()
        await asyncio.wait_for(ended.wait(), 5)
        # The server keeps serving.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (await read_head(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
        await server.close()

    run(test)


def test_a_producer_failing_mid_stream_aborts_the_connection() -> None:
    """The status line is gone already: the client must see a cut body, not a whole one."""

    async def test() -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"part"
            raise RuntimeError("producer bug")

        async def handler(request: Request) -> Response:
            return Response(200, [], stream=body())

        server, port = await serve(handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        await read_head(reader)
        rest = await asyncio.wait_for(reader.read(), 5)
        assert b"part" in rest and not rest.endswith(b"0\r\n\r\n")
        writer.close()
        await server.close()

    run(test)
