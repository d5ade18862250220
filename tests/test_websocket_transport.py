"""WebSocket transport: the HTTP upgrade hand-over, our RFC 6455 codec and the connection
registry, driven in-process by real clients (the `websockets` library and raw sockets).

One `HttpServer` on a loop in a background thread serves the whole module, with a test-only
`ConnectionHandler` (the door that the WebSocket API door will be): `/ws` accepts with
API Gateway's limits, `/short` with idle and lifetime deadlines shrunk to fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fireside.config import ConfigError, load_settings
from fireside.gateway.websocket_connections import (
    BusyError,
    ConnectionInfo,
    GoneError,
    WebSocketConnections,
)
from fireside.http.server import HttpServer
from fireside.http.types import Request, Response
from fireside.http.websocket import unmask

T = TypeVar("T")
ACCOUNT = "111111111111"


class Door:
    """A test ConnectionHandler: records everything, echoes every message but `quiet`."""

    def __init__(self, registry: WebSocketConnections) -> None:
        self.registry = registry
        self.messages: list[tuple[str, bytes, bool]] = []
        self.disconnects: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.changed = threading.Condition()

    async def on_message(self, info: ConnectionInfo, data: bytes, text: bool) -> None:
        with self.changed:
            self.messages.append((info.connection_id, data, text))
            self.changed.notify_all()
        if data != b"quiet":
            with contextlib.suppress(GoneError):
                await self.registry.send(info.connection_id, data, text)

    async def on_disconnect(self, info: ConnectionInfo, code: int, reason: str) -> None:
        with self.changed:
            self.disconnects[info.connection_id].append((code, reason))
            self.changed.notify_all()

    def wait(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, timeout), "condition not reached in time"


class Harness:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.doors: dict[str, Door] = {}
        self.http = HttpServer(self.handle)
        self.port = 0
        self.sweepers: list[asyncio.Task[None]] = []

    def stop(self) -> None:
        async def stop() -> None:
            for task in self.sweepers:
                task.cancel()
            await asyncio.gather(*self.sweepers, return_exceptions=True)
            await self.http.close()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def add(self, path: str, registry: WebSocketConnections) -> Door:
        door = self.doors[path] = Door(registry)

        async def start() -> None:
            self.sweepers.append(asyncio.get_running_loop().create_task(registry.run()))

        self.run(start())
        return door

    async def handle(self, request: Request) -> Response:
        door = self.doors.get(request.path)
        if door is None:
            return Response(200, [("Content-Type", "text/plain")], b"plain http")
        registry = door.registry
        now = int(time.time() * 1000)
        info = ConnectionInfo(
            registry.new_id(), "api123", "prod", ACCOUNT, "us-east-1",
            "api123.execute-api.us-east-1.amazonaws.com", now, now,
            request.client[0] if request.client else "", request.headers.get("user-agent", ""),
        )  # fmt: skip
        response = registry.accept(request, info, door)
        if response.upgrade is not None:
            response.headers.append(("X-Connection-Id", info.connection_id))
        return response


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    h.port = h.run(h.http.listen("127.0.0.1", 0))
    h.add("/ws", WebSocketConnections())
    h.add("/short", WebSocketConnections(idle_timeout=0.4, lifetime=1.5, close_timeout=0.5))
    yield h
    h.stop()


def ws(h: Harness, path: str = "/ws") -> ClientConnection:
    return connect(f"ws://127.0.0.1:{h.port}{path}")


def cid(client: ClientConnection) -> str:
    assert client.response is not None
    return str(client.response.headers["X-Connection-Id"])


async def count(registry: WebSocketConnections) -> int:
    """The registry's size, read on its loop (after every hand-over already under way)."""
    return len(registry)


# -- raw-socket helpers -------------------------------------------------------------------
HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def raw(h: Harness, path: str = "/ws", request: str | None = None) -> tuple[socket.socket, str]:
    sock = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    sock.sendall((request or HANDSHAKE.format(path=path)).encode())
    status, headers, rest = read_head(sock)
    assert status == 101, (status, headers)
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert not rest
    return sock, headers["x-connection-id"]


def masked(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None) -> bytes:
    key = mask if mask is not None else os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock: socket.socket) -> tuple[int, bool, bytes]:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "connection closed mid-frame"
            data += chunk
        return data

    first, second = exactly(2)
    assert not second & 0x80, "server frames are never masked"
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", exactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", exactly(8))[0]
    return first & 0x0F, bool(first & 0x80), exactly(size)


def close_code(sock: socket.socket) -> int:
    """The code of the close frame the server sends next (skipping data frames)."""
    while True:
        opcode, _, payload = read_frame(sock)
        if opcode == 0x8:
            return int(struct.unpack("!H", payload[:2])[0])


# -- the codec ----------------------------------------------------------------------------
def test_unmask_matches_the_bytewise_definition() -> None:
    for size in (0, 1, 3, 4, 5, 125, 126, 1000, 65537):
        payload, key = os.urandom(size), os.urandom(4)
        expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        assert unmask(payload, key) == expected


def test_text_and_binary_echo_and_ids(harness: Harness) -> None:
    with ws(harness) as client:
        connection_id = cid(client)
        assert len(connection_id) == 16 and connection_id.endswith("=")
        assert "/" not in connection_id and "+" not in connection_id
        client.send("héllo")
        assert client.recv() == "héllo"
        client.send(b"\x00\xffbinary")
        assert client.recv() == b"\x00\xffbinary"
        info = harness.doors["/ws"].registry.get(connection_id)
        assert info is not None and info.source_ip == "127.0.0.1"
        assert "websockets" in info.user_agent
    door = harness.doors["/ws"]
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id] == [(1000, "")]
    assert harness.doors["/ws"].registry.get(connection_id) is None


def test_fragmented_messages_and_control_frames_between_fragments(harness: Harness) -> None:
    sock, connection_id = raw(harness)
    with sock:
        sock.sendall(masked(0x1, b"frag", fin=False))
        sock.sendall(masked(0x9, b"ping-in-between"))  # a control frame between fragments
        sock.sendall(masked(0x0, b"ment", fin=False) + masked(0x0, "ed ✓".encode()))
        assert read_frame(sock) == (0xA, True, b"ping-in-between")
        assert read_frame(sock) == (0x1, True, "fragmented ✓".encode())
        sock.sendall(masked(0x2, b"\x01", fin=False) + masked(0x0, b"\x02"))
        assert read_frame(sock) == (0x2, True, b"\x01\x02")
        sock.sendall(masked(0x8, struct.pack("!H", 4000) + b"bye"))
        assert read_frame(sock) == (0x8, True, struct.pack("!H", 4000))
        assert sock.recv(10) == b""  # the server ends TCP after the close handshake
    door = harness.doors["/ws"]
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id] == [(4000, "bye")]


def test_ping_pong_with_the_library(harness: Harness) -> None:
    with ws(harness) as client:
        pong = client.ping(b"are you there")
        assert pong.wait(10)


def test_limits_32k_frames_and_128k_messages(harness: Harness) -> None:
    door = harness.doors["/ws"]
    # A message of 128 KB in four 32 KB frames is taken; the echo comes back split likewise.
    sock, connection_id = raw(harness)
    with sock:
        chunk = b"x" * 32768
        sock.sendall(b"".join(masked(0x2 if i == 0 else 0x0, chunk, fin=i == 3) for i in range(4)))
        frames = [read_frame(sock) for _ in range(4)]
        assert [(op, fin, len(p)) for op, fin, p in frames] == [
            (0x2, False, 32768), (0x0, False, 32768), (0x0, False, 32768), (0x0, True, 32768),
        ]  # fmt: skip
        # One byte more, across frames: 1009.
        sock.sendall(b"".join(masked(0x2 if i == 0 else 0x0, chunk, fin=False) for i in range(4)))
        sock.sendall(masked(0x0, b"y"))
        assert close_code(sock) == 1009
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id][0][0] == 1009
    # A single frame over 32 KB is refused from its header alone.
    with ws(harness) as client:
        client.send(b"z" * 32769)
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (masked(0x1, b"\xff\xfe not utf-8"), 1007),
        (bytes((0x81, 0x02)) + b"hi", 1002),  # unmasked client frame
        (masked(0x1, b"x")[:0] + bytes((0xC1, 0x80)) + b"\0\0\0\0", 1002),  # RSV1 set
        (masked(0x3, b"?"), 1002),  # reserved opcode
        (masked(0x0, b"orphan"), 1002),  # continuation with nothing to continue
        (masked(0x9, b"p" * 126), 1002),  # control frame over 125 bytes
        (masked(0x8, struct.pack("!H", 1005)), 1002),  # a code no endpoint may send
        (masked(0x8, b"\x03"), 1002),  # close frame of one byte
    ],
    ids=["bad-utf8", "unmasked", "rsv", "opcode", "continuation", "long-ping", "code", "close1"],
)
def test_protocol_errors_close_with_their_code(harness: Harness, frame: bytes, code: int) -> None:
    sock, connection_id = raw(harness)
    with sock:
        sock.sendall(frame)
        assert close_code(sock) == code
    door = harness.doors["/ws"]
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id] == [(code, door.disconnects[connection_id][0][1])]


@pytest.mark.parametrize(
    ("request_text", "status"),
    [
        (HANDSHAKE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), 400),
        (HANDSHAKE.replace("dGhlIHNhbXBsZSBub25jZQ==", "not-base64!"), 400),
        (HANDSHAKE.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), 400),  # not 16 bytes
        (HANDSHAKE.replace("Version: 13", "Version: 8"), 426),
        (HANDSHAKE.replace("Upgrade: websocket", "Upgrade: h2c"), 400),
        (HANDSHAKE.replace("Connection: Upgrade", "Connection: keep-alive"), 400),
        (HANDSHAKE.replace("GET", "POST"), 400),
    ],
    ids=["no-key", "bad-key", "short-key", "version", "h2c", "no-connection-upgrade", "post"],
)
def test_malformed_handshakes_are_refused(harness: Harness, request_text: str, status: int) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(request_text.format(path="/ws").encode())
        got, headers, _ = read_head(sock)
        assert got == status
        if status == 426:
            assert headers["sec-websocket-version"] == "13"


def test_an_upgrade_request_to_plain_http_is_answered_and_closed(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(HANDSHAKE.format(path="/not-a-websocket").encode() + b"\x81\x80junk")
        status, _, _rest = read_head(sock)
        assert status == 200
        while sock.recv(4096):
            pass  # the server closes: the bytes after the head are never taken for HTTP


def test_bytes_sent_with_the_handshake_are_not_lost(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(HANDSHAKE.format(path="/ws").encode() + masked(0x1, b"early"))
        status, _, rest = read_head(sock)
        assert status == 101
        data = rest
        while len(data) < 7:
            data += sock.recv(100)
        assert data[:7] == b"\x81\x05early"


def test_a_client_vanishing_mid_message(harness: Harness) -> None:
    door = harness.doors["/ws"]
    sock, first = raw(harness)
    sock.sendall(masked(0x1, b"half of a", fin=False) + masked(0x0, b"message")[:5])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST, mid-frame
    second_sock, second = raw(harness)
    second_sock.sendall(masked(0x1, b"x" * 1000)[:300])
    second_sock.close()  # FIN, mid-frame
    door.wait(lambda: first in door.disconnects and second in door.disconnects)
    assert door.disconnects[first] == [(1006, "")]
    assert door.disconnects[second] == [(1006, "")]


def test_a_thousand_connections_dropped_at_once(harness: Harness) -> None:
    door = harness.doors["/ws"]
    registry = door.registry
    before = len(registry)
    sockets = []
    for _ in range(1000):
        sockets.append(raw(harness))
    assert harness.run(count(registry)) == before + 1000
    for i, (sock, _) in enumerate(sockets):
        if i % 2:  # half reset, half closed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    ids = [connection_id for _, connection_id in sockets]
    door.wait(lambda: all(i in door.disconnects for i in ids), timeout=30)
    assert all(door.disconnects[i] == [(1006, "")] for i in ids)
    assert harness.run(count(registry)) == before
    # Still serving, both kinds.
    with ws(harness) as client:
        client.send("after")
        assert client.recv(timeout=10) == "after"
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_head(sock)[0] == 200


def test_idle_timeout_closes_with_1001(harness: Harness) -> None:
    door = harness.doors["/short"]
    with ws(harness, "/short") as client:
        connection_id = cid(client)
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id] == [(1001, "Going away")]


def test_lifetime_ends_even_a_busy_connection(harness: Harness) -> None:
    door = harness.doors["/short"]
    started = time.monotonic()
    with ws(harness, "/short") as client:
        connection_id = cid(client)
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # busier than the idle timeout allows to expire
                client.send("keepalive")
                assert client.recv(timeout=10) == "keepalive"
                with pytest.raises(TimeoutError):
                    client.recv(timeout=0.1)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert time.monotonic() - started >= 1.4  # outlived the 0.4 s idle timeout
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id] == [(1001, "Going away")]


def test_server_side_close_send_and_gone(harness: Harness) -> None:
    door = harness.doors["/ws"]
    registry = door.registry
    with ws(harness) as client:
        connection_id = cid(client)
        harness.run(registry.send(connection_id, b"y" * 70000, False))  # split in frames
        assert client.recv(timeout=10) == b"y" * 70000
        harness.run(registry.close(connection_id, 1000, ""))
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    door.wait(lambda: connection_id in door.disconnects)
    assert door.disconnects[connection_id] == [(1000, "")]
    with pytest.raises(GoneError):
        harness.run(registry.send(connection_id, b"late"))
    with pytest.raises(GoneError):
        harness.run(registry.close(connection_id))
    with pytest.raises(GoneError):
        harness.run(registry.send("nonexistent00000", b"x"))


def test_admission_rate_per_account() -> None:
    registry = WebSocketConnections(connect_rate=3)
    assert [registry.admit("a") for _ in range(4)] == [True, True, True, False]
    assert registry.admit("b")  # another account has its own budget


def test_close_all_and_server_close_deliver_every_disconnect_once() -> None:
    h = Harness()
    with contextlib.ExitStack() as stack:
        stack.callback(h.stop)
        h.port = h.run(h.http.listen("127.0.0.1", 0))
        door = h.add("/ws", WebSocketConnections())
        other = h.add("/other", WebSocketConnections())
        clients = [stack.enter_context(ws(h)) for _ in range(5)]
        ids = [cid(c) for c in clients]
        h.run(door.registry.close_all())
        assert all(door.disconnects[i] == [(1001, "Going away")] for i in ids)
        for client in clients:
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        with socket.create_connection(("127.0.0.1", h.port), timeout=10) as sock:
            sock.sendall(HANDSHAKE.format(path="/ws").encode())
            assert read_head(sock)[0] == 503  # no new connections once closing
        # The HTTP server's close reaches connections it handed over (a registry not
        # closed first): the client is disconnected and on_disconnect runs.
        sock, orphan = raw(h, "/other")
        stack.enter_context(contextlib.closing(sock))
        h.run(h.http.close())
        assert sock.recv(10) == b""
        other.wait(lambda: orphan in other.disconnects)
        assert other.disconnects[orphan] == [(1006, "")]


class SlowDoor(Door):
    """Holds every message until `release` is set; tracks how many run at once."""

    def __init__(self, registry: WebSocketConnections) -> None:
        super().__init__(registry)
        self.release: asyncio.Event | None = None
        self.running = self.most = 0

    async def on_message(self, info: ConnectionInfo, data: bytes, text: bool) -> None:
        if self.release is None:
            self.release = asyncio.Event()
        self.running += 1
        self.most = max(self.most, self.running)
        with self.changed:
            self.messages.append((info.connection_id, data, text))
            self.changed.notify_all()
        await self.release.wait()
        self.running -= 1
        await self.registry.send(info.connection_id, data, text)


def test_reading_pauses_while_handlers_are_behind(harness: Harness) -> None:
    door = SlowDoor(WebSocketConnections(max_inflight=2))
    harness.doors["/slow"] = door
    sock, _ = raw(harness, "/slow")
    with sock:
        sock.sendall(b"".join(masked(0x1, f"m{i}".encode()) for i in range(10)))
        door.wait(lambda: len(door.messages) == 2)  # two handlers hold, the rest wait unread

        async def release() -> int:
            assert door.release is not None
            held = len(door.messages)
            door.release.set()
            return held

        assert harness.run(release()) == 2
        echoed = [read_frame(sock)[2] for _ in range(10)]
        assert sorted(echoed) == sorted(f"m{i}".encode() for i in range(10))
        assert door.most <= 2


def test_a_client_that_does_not_read_gets_busy_not_unbounded_memory(harness: Harness) -> None:
    registry = WebSocketConnections(send_timeout=0.2)
    harness.doors["/busy"] = Door(registry)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", harness.port))
    with sock:
        sock.sendall(HANDSHAKE.format(path="/busy").encode())
        status, headers, _ = read_head(sock)
        assert status == 101
        connection_id = headers["x-connection-id"]
        with pytest.raises(BusyError):
            for _ in range(1000):  # the kernel's buffers fill first, then ours
                harness.run(registry.send(connection_id, b"b" * 131072, False))
        assert registry.get(connection_id) is not None  # still open: it may read later


def test_a_pipelined_request_before_the_handshake_is_answered_first(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        plain = b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(plain + HANDSHAKE.format(path="/ws").encode() + masked(0x1, b"after"))
        data = b""
        while b"\x81\x05after" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 ")
        assert b"HTTP/1.1 101 Switching Protocols\r\n" in data


def test_connect_requests_are_refused(harness: Harness) -> None:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        status, _, _ = read_head(sock)
        assert status != 101
        while sock.recv(4096):
            pass  # then closed


def test_settings_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "FIRESIDE_WEBSOCKET_IDLE_TIMEOUT": "0.5",
            "FIRESIDE_WEBSOCKET_LIFETIME": "3",
            "FIRESIDE_WEBSOCKET_CONNECT_RATE": "7",
            "FIRESIDE_WEBSOCKET_MAX_FRAME": "1024",
            "FIRESIDE_WEBSOCKET_MAX_MESSAGE": "4096",
        },
        data_dir=tmp_path,
    )
    assert (settings.websocket_idle_timeout, settings.websocket_lifetime) == (0.5, 3.0)
    assert settings.websocket_connect_rate == 7
    assert (settings.websocket_max_frame, settings.websocket_max_message) == (1024, 4096)
    defaults = load_settings(environ={}, data_dir=tmp_path)
    assert (defaults.websocket_idle_timeout, defaults.websocket_lifetime) == (600.0, 7200.0)
    assert defaults.websocket_connect_rate == 500
    assert (defaults.websocket_max_frame, defaults.websocket_max_message) == (32768, 131072)
    for bad in ({"FIRESIDE_WEBSOCKET_LIFETIME": "0"}, {"FIRESIDE_WEBSOCKET_MAX_FRAME": "999999"}):
        with pytest.raises(ConfigError):
            load_settings(environ=bad, data_dir=tmp_path)
