"""The HTTP layer bounds what one client can make the server hold (fireside/http/limits.py).

Raw sockets against a live server whose timeouts are short (FIRESIDE_HTTP_*), so each limit is
seen from the outside: the status a client gets, that the connection ends, that the server's
memory stays flat, and that the server still answers a normal request afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, wait_for

HEALTH = b"GET /_fireside/health HTTP/1.1\r\nHost: fireside\r\n\r\n"
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("http-limits"),
        env={
            "FIRESIDE_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "FIRESIDE_HTTP_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "FIRESIDE_HTTP_KEEPALIVE_TIMEOUT": str(KEEPALIVE_TIMEOUT),
        },
    ).start()
    yield srv
    srv.stop()


def connect(server: Server, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return sock


def read_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body[:length]


def serves(server: Server) -> bool:
    with connect(server) as sock:
        sock.sendall(HEALTH)
        return read_response(sock).startswith(b"HTTP/1.1 200")


def rss_kb(server: Server) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


# -- sizes -------------------------------------------------------------------------------------


def test_a_huge_header_is_refused_431_without_growing_the_server(server: Server) -> None:
    before = rss_kb(server)
    with connect(server) as sock:
        sock.sendall(b"GET /_fireside/health HTTP/1.1\r\nHost: fireside\r\nX-Big: ")
        sent = 0

        def flood() -> None:
            # 64 MB of one header value, unless the server hangs up first (as it should).
            nonlocal sent
            chunk = b"a" * 65536
            try:
                for _ in range(1024):
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        answer = read_until_closed(sock)
        sender.join(10)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"Connection: close" in answer
    assert sent < 16 * 1024 * 1024, f"the server read {sent} bytes of one header"
    assert rss_kb(server) - before < 16 * 1024, "the server grew while refusing a header"
    assert serves(server)


def test_too_many_header_fields_431(server: Server) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(150))
    with connect(server) as sock:
        sock.sendall(b"GET /_fireside/health HTTP/1.1\r\nHost: fireside\r\n" + fields + b"\r\n")
        assert read_until_closed(sock).startswith(b"HTTP/1.1 431 ")
    # 100 fields are fine.
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(98))
    with connect(server) as sock:
        sock.sendall(b"GET /_fireside/health HTTP/1.1\r\nHost: fireside\r\n" + fields + b"\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_long_url_is_refused_414(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: fireside\r\n\r\n")
        assert read_until_closed(sock).startswith(b"HTTP/1.1 414 ")
    assert serves(server)


def test_a_body_over_the_service_bound_is_refused_before_it_is_read(server: Server) -> None:
    """DynamoDB's bound (16 MB + slack) is lower than the server's; 413 comes from the head."""
    with connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: fireside\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
            b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 40000000\r\n\r\n"
        )
        assert read_until_closed(sock).startswith(b"HTTP/1.1 413 ")


# -- time --------------------------------------------------------------------------------------


def test_half_sent_requests_are_closed_after_the_header_timeout(server: Server) -> None:
    socks = [connect(server) for _ in range(300)]
    try:
        for sock in socks:
            sock.sendall(b"GET /_fireside/health HTTP/1.1\r\nHost: fire")
        started = time.monotonic()
        answers = [read_until_closed(sock) for sock in socks]
        elapsed = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:40] for a in answers}
    # Generous: the timeout is 1 s and deadlines are checked every 0.25 s.
    assert elapsed < HEADER_TIMEOUT + 5
    assert serves(server)


def test_a_connection_that_sends_nothing_is_closed_quietly(server: Server) -> None:
    with connect(server) as sock:
        assert read_until_closed(sock) == b""


def test_a_stalled_body_is_closed_after_the_body_timeout(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /_fireside/health HTTP/1.1\r\nHost: fireside\r\nContent-Length: 100\r\n\r\n"
            + b"x" * 10
        )
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    server: Server,
) -> None:
    with connect(server) as sock:
        sock.sendall(HEALTH)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        # Still open well within the timeout: a second request on it is answered.
        time.sleep(KEEPALIVE_TIMEOUT / 4)
        sock.sendall(HEALTH)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        assert time.monotonic() - started > KEEPALIVE_TIMEOUT / 2


# -- counts ------------------------------------------------------------------------------------


def test_a_client_that_pipelines_without_reading_is_paused(server: Server) -> None:
    """2,000 pipelined GETs of a 64 KB object (64 MB of requests, padded), none read: the
    server stops reading once its bounded queue and write buffer are full (so the client's send
    stalls), holds far less than the 128 MB of answers, and answers every request once the
    client reads."""
    s3 = server.client("s3")
    bucket = f"pipe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 65536)
    request = (
        f"GET /{bucket}/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Date: 20260101T000000Z\r\n"
        "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 "
        "Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=00\r\n" + "X-Pad: " + "p" * 32768 + "\r\n\r\n"
    ).encode()
    count = 2000
    before = rss_kb(server)
    with connect(server) as sock:
        sock.setblocking(False)
        data = request * count
        sent = 0
        stalled_since: float | None = None
        while sent < len(data):
            try:
                sent += sock.send(data[sent : sent + 65536])
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break
                time.sleep(0.01)
        assert sent < len(data), "the server read every request without any being answered"
        assert rss_kb(server) - before < 48 * 1024
        sock.settimeout(10)

        def send_rest() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(data[sent:])

        rest = threading.Thread(target=send_rest, daemon=True)
        rest.start()
        answered = 0
        buffer = b""
        while answered < count:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end >= 0 and len(buffer) >= head_end + 4 + 65536:
                assert buffer.startswith(b"HTTP/1.1 200 "), buffer[:100]
                buffer = buffer[head_end + 4 + 65536 :]
                answered += 1
                continue
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {answered} answers"
            buffer += chunk
        rest.join(10)
    assert answered == count


@pytest.fixture()
def capped(fresh_server: Callable[..., Server]) -> Server:
    return fresh_server(FIRESIDE_HTTP_MAX_CONNECTIONS="20", FIRESIDE_HTTP_HEADER_TIMEOUT="30")


def test_past_the_connection_cap_the_longest_idle_connection_makes_room(capped: Server) -> None:
    idle = [connect(capped) for _ in range(20)]
    try:
        for sock in idle:
            sock.sendall(HEALTH)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        # A 21st client is served; the connection idle longest is the one closed for it.
        assert serves(capped)
        idle[0].settimeout(5)
        assert read_until_closed(idle[0]) == b""
        idle[-1].sendall(HEALTH)
        assert read_response(idle[-1]).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in idle:
            sock.close()


def test_past_the_connection_cap_with_none_idle_a_new_connection_gets_503(
    capped: Server,
) -> None:
    busy = [connect(capped) for _ in range(20)]
    try:
        for sock in busy:
            # A whole request, then one cut mid-head: once the first is answered, the server
            # has read the second's start, and the connection is mid-request (not idle).
            sock.sendall(HEALTH + b"GET /_fireside/health HTTP/1.1\r\nHost: fire")
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        with connect(capped) as extra:
            assert read_until_closed(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in busy:
            sock.close()
    # Their slots come back as soon as they close.
    wait_for(lambda: serves(capped), 10, "a free connection slot")


def socket_count(server: Server) -> int:
    assert server.process is not None
    fds = Path(f"/proc/{server.process.pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def test_a_client_that_never_reads_its_answers_is_cut_off_after_the_send_timeout(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server(FIRESIDE_HTTP_SEND_TIMEOUT="1")
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="unread")
    s3.put_object(Bucket="unread", Key="k", Body=b"x" * (1 << 20))
    request = (
        b"GET /unread/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Date: 20260101T000000Z\r\n"
        b"X-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 "
        b"Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, "
        b"Signature=00\r\n\r\n"
    )
    baseline = socket_count(srv)
    with connect(srv) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request * 64)  # 64 MB of answers, none read
        wait_for(lambda: socket_count(srv) > baseline, 10, "the server to hold the connection")
        wait_for(lambda: socket_count(srv) == baseline, 15, "the unread connection to be cut")
    assert serves(srv)
