"""Coalesced answers (`HttpServer(coalesce=True)`, the Runtime API's server): an answer whose
client's next request is already read waits for that request's answer and leaves with it, in
one write; a client that waits for each answer, or an error answer, is never held.

A real server on a real socket (its own event loop in a thread), driven with raw bytes, and a
live Fireside whose Python runtime pipelines `/next` behind each result.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from fireside.http.server import HttpServer
from fireside.http.types import Request, Response
from tests.conftest import ROLE, Server, make_zip


class Harness:
    """An HttpServer whose `/wait` requests are answered when the test releases them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.release: asyncio.Event | None = None
        self.port = 0
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.release = asyncio.Event()
            self.server = HttpServer(self.handle, coalesce=True)
            self.port = await self.server.listen("127.0.0.1", 0)
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()
        self.loop.close()

    async def handle(self, request: Request) -> Response:
        if request.path == "/wait":
            assert self.release is not None
            await self.release.wait()
            return Response(200, [], b"waited")
        if request.path == "/missing":
            return Response(404, [], b"missing")
        return Response(202, [], request.path.encode())

    def let_go(self) -> None:
        assert self.release is not None
        self.loop.call_soon_threadsafe(self.release.set)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def pending_bytes(sock: socket.socket, wait: float) -> bytes:
    """What arrives within `wait` seconds (b"" if nothing)."""
    sock.settimeout(wait)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""
    finally:
        sock.settimeout(10)


def read_answers(sock: socket.socket, count: int) -> tuple[bytes, int]:
    """`count` whole answers (bodies of Content-Length), and how many recv calls gave them."""
    data, calls = b"", 0
    while data.count(b"HTTP/1.1 ") < count or not data.endswith((b"waited", b"/first")):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data, calls = data + chunk, calls + 1
    return data, calls


def test_pipelined_answer_waits_for_the_next(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(get("/first") + get("/wait"))
        # /first is answered, but held: its client has already asked for /wait.
        assert pending_bytes(sock, 0.5) == b""
        harness.let_go()
        data = b""
        while not data.endswith(b"waited"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        first, _, second = data.partition(b"/first")
        assert first.startswith(b"HTTP/1.1 202 ") and second.startswith(b"HTTP/1.1 200 ")
        assert data.count(b"HTTP/1.1 ") == 2  # each answer once, in order


def test_unpipelined_answers_are_not_held(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        for _ in range(3):
            started = time.monotonic()
            sock.sendall(get("/first"))
            data, _ = read_answers(sock, 1)
            assert data.startswith(b"HTTP/1.1 202 ") and data.endswith(b"/first")
            assert time.monotonic() - started < 5


def test_an_error_answer_is_not_held(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(get("/missing") + get("/wait"))
        data = b""
        while not data.endswith(b"missing"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        assert data.startswith(b"HTTP/1.1 404 ") and b"HTTP/1.1 200" not in data
        harness.let_go()
        rest = b""
        while not rest.endswith(b"waited"):
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 ")


def test_python_runtime_serves_invokes_in_order(server: Server) -> None:
    """The Python runtime sends `/next` with each result: every invoke still gets its own
    answer (never its predecessor's), errors included, on one warm environment."""
    lam = server.client("lambda")
    source = (
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError(f\"no {event['n']}\")\n"
        "    return {'n': event['n'], 'id': context.aws_request_id}\n"
    )
    lam.create_function(
        FunctionName="pipelined", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": make_zip({"app.py": source})},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="pipelined")
    for n in range(30):
        fail = n % 7 == 3
        out = lam.invoke(FunctionName="pipelined", Payload=json.dumps({"n": n, "fail": fail}))
        body = json.loads(out["Payload"].read())
        if fail:
            assert out.get("FunctionError") == "Unhandled"
            assert body["errorMessage"] == f"no {n}"
        else:
            assert "FunctionError" not in out
            assert body["n"] == n
            assert body["id"] == out["ResponseMetadata"]["RequestId"]
