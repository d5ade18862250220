"""The `@connections` management API with boto3 against a live server: PostToConnection,
GetConnection and DeleteConnection, GoneException, PayloadTooLargeException, another account's
connection (ForbiddenException), the stage prefix at Fireside's endpoint and on an API's
`execute-api.localhost` host, and `$disconnect`'s code on every close, shutdown included.

Connections are opened through the bench echo door (`FIRESIDE_BENCH_ECHO=1`), which accepts
them straight through the connection registry (no WebSocket API needed)."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ROLE, Server, python_zip

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}
ENV = {
    "FIRESIDE_BENCH_ECHO": "1",
    "FIRESIDE_CREDENTIALS": ",".join(f"{k}:{v}" for k, v in SECRETS.items()),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("ws-connections"), env=ENV).start()
    yield server
    server.stop()


def management(server: Server, account: str = A, endpoint: str | None = None) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint or server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key=SECRETS[account],
        config=Config(retries={"max_attempts": 1}),
    )


@contextlib.contextmanager
def opened(
    server: Server, account: str = A, api: str = "abc123", stage: str = "prod"
) -> Iterator[tuple[ClientConnection, str]]:
    """A connection to the echo door, as one of API `api`'s, on `stage`."""
    url = (
        f"ws://127.0.0.1:{server.port}/_fireside/websocket-echo"
        f"?account={account}&api={api}&stage={stage}"
    )
    with connect(url) as client:
        assert client.response is not None
        yield client, str(client.response.headers["X-Connection-Id"])


def disconnects(server: Server) -> dict[str, list[int]]:
    with urllib.request.urlopen(f"{server.endpoint}/_fireside/websocket-echo/disconnects") as r:
        found: dict[str, list[int]] = json.loads(r.read())
    return found


def code_of(call: Callable[[], object]) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_post_get_delete_and_gone(srv: Server) -> None:
    api = management(srv)
    with opened(srv) as (client, connection_id):
        api.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": "world"}')
        assert client.recv(timeout=10) == '{"hello": "world"}'  # text: it is UTF-8
        api.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert client.recv(timeout=10) == b"\xff\x00"  # not text: a binary message
        got = api.get_connection(ConnectionId=connection_id)
        assert got["Identity"]["SourceIp"] == "127.0.0.1"
        assert "websockets" in got["Identity"]["UserAgent"]
        assert got["LastActiveAt"] >= got["ConnectedAt"]
        deleted = api.delete_connection(ConnectionId=connection_id)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert disconnects(srv)[connection_id] == [1000]  # once, with DeleteConnection's code
    for call in (
        lambda: api.post_to_connection(ConnectionId=connection_id, Data=b"late"),
        lambda: api.get_connection(ConnectionId=connection_id),
        lambda: api.delete_connection(ConnectionId=connection_id),
        lambda: api.get_connection(ConnectionId="Tm9TdWNoQ29ubg="),
    ):
        assert code_of(call) == ("GoneException", 410)


def test_a_client_closing_is_gone_too(srv: Server) -> None:
    api = management(srv)
    with opened(srv) as (client, connection_id):
        client.send("ping")
        assert client.recv(timeout=10) == "ping"
    # The server took the connection out before it answered the client's close frame.
    assert code_of(lambda: api.get_connection(ConnectionId=connection_id)) == ("GoneException", 410)
    assert disconnects(srv)[connection_id] == [1000]


def test_payload_limit(srv: Server) -> None:
    api = management(srv)
    with opened(srv) as (client, connection_id):
        api.post_to_connection(ConnectionId=connection_id, Data=b"a" * 131072)
        assert client.recv(timeout=10) == "a" * 131072
        too_big = lambda: api.post_to_connection(ConnectionId=connection_id, Data=b"a" * 131073)  # noqa: E731
        assert code_of(too_big) == ("PayloadTooLargeException", 413)


def test_another_accounts_connection_is_forbidden(srv: Server) -> None:
    api_b = management(srv, B)
    with opened(srv, A) as (client, connection_id):
        for call in (
            lambda: api_b.post_to_connection(ConnectionId=connection_id, Data=b"intruder"),
            lambda: api_b.get_connection(ConnectionId=connection_id),
            lambda: api_b.delete_connection(ConnectionId=connection_id),
        ):
            assert code_of(call) == ("ForbiddenException", 403)
        # Untouched: still open, and nothing of B's reached it.
        management(srv, A).post_to_connection(ConnectionId=connection_id, Data=b"mine")
        assert client.recv(timeout=10) == "mine"
    with opened(srv, B) as (client, connection_id):
        api_b.post_to_connection(ConnectionId=connection_id, Data=b"own account")
        assert client.recv(timeout=10) == "own account"


def test_stage_prefix_and_api_host(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # `*.localhost` is loopback (RFC 6761; browsers and systemd-resolved do so); this host's
    # resolver does not, so the test's own lookups are pointed there.
    resolve = socket.getaddrinfo

    def loopback(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)
    endpoints = [
        f"{srv.endpoint}/prod",
        f"http://abc123.execute-api.localhost:{srv.port}/prod",
        f"http://abc123.execute-api.us-east-1.localhost:{srv.port}/prod",
        srv.endpoint,  # Fireside's own endpoint, no stage: any of the account's connections
        f"{srv.endpoint}/_aws/execute-api/abc123/prod",  # the path-based fallback
    ]
    with opened(srv) as (client, connection_id):
        for endpoint in endpoints:
            api = management(srv, endpoint=endpoint)
            api.post_to_connection(ConnectionId=connection_id, Data=endpoint.encode())
            assert client.recv(timeout=10) == endpoint
            assert api.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"]
        management(srv, endpoint=endpoints[1]).delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=10)


def test_another_apis_or_stages_connection_is_gone(
    srv: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection id is an API's and a stage's: addressed through another, it is unknown."""
    resolve = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: resolve(
            "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *a, **k
        ),
    )
    elsewhere = [
        f"http://other1.execute-api.localhost:{srv.port}/prod",  # another API, same stage
        f"http://abc123.execute-api.localhost:{srv.port}/dev",  # the API, another stage
        f"{srv.endpoint}/_aws/execute-api/other1/prod",
        f"{srv.endpoint}/dev",
    ]
    with opened(srv) as (client, connection_id):
        for endpoint in elsewhere:
            api = management(srv, endpoint=endpoint)
            post = functools.partial(api.post_to_connection, ConnectionId=connection_id, Data=b"x")
            assert code_of(post) == ("GoneException", 410), endpoint
            get = functools.partial(api.get_connection, ConnectionId=connection_id)
            assert code_of(get) == ("GoneException", 410), endpoint
            delete = functools.partial(api.delete_connection, ConnectionId=connection_id)
            assert code_of(delete) == ("GoneException", 410), endpoint
        # Still open, and its own API's address still reaches it.
        own = management(srv, endpoint=f"http://abc123.execute-api.localhost:{srv.port}/prod")
        own.post_to_connection(ConnectionId=connection_id, Data=b"still here")
        assert client.recv(timeout=10) == "still here"


BROADCASTER = """
import os, boto3

def handler(event, context):
    sent = []
    # As AWS's documentation builds it (an AWS host name, over TLS), then at AWS_ENDPOINT_URL.
    for endpoint in ("https://abc123.execute-api.us-east-1.amazonaws.com/prod", None):
        api = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
        api.post_to_connection(ConnectionId=event["id"], Data=f"via {endpoint}".encode())
        sent.append(api.get_connection(ConnectionId=event["id"])["Identity"]["SourceIp"])
    return sent
"""


def test_a_function_posts_to_its_accounts_connection(srv: Server) -> None:
    lam = srv.client("lambda", aws_access_key_id=A, aws_secret_access_key=SECRETS[A])
    lam.create_function(
        FunctionName="broadcaster",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE.replace("000000000000", A),
        Code={"ZipFile": python_zip(BROADCASTER)},
        Timeout=60,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="broadcaster")
    with opened(srv, A) as (client, connection_id):
        out = lam.invoke(FunctionName="broadcaster", Payload=json.dumps({"id": connection_id}))
        payload = json.loads(out["Payload"].read())
        assert "FunctionError" not in out, payload
        assert payload == ["127.0.0.1", "127.0.0.1"]
        assert (
            client.recv(timeout=10) == "via https://abc123.execute-api.us-east-1.amazonaws.com/prod"
        )
        assert client.recv(timeout=10) == "via None"


def test_unsigned_calls_are_refused(srv: Server) -> None:
    with opened(srv) as (_, connection_id):
        request = urllib.request.Request(
            f"{srv.endpoint}/prod/@connections/{connection_id}", data=b"x", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        refused.value.close()
        assert refused.value.code == 403


def test_shutdown_closes_every_connection_with_1001(
    fresh_server: Callable[..., Server],
) -> None:
    server = fresh_server(**ENV)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(opened(server))[0] for _ in range(3)]
        for client in clients:
            client.send("up")
            assert client.recv(timeout=10) == "up"
        assert server.stop(signal.SIGTERM) == 0
        for client in clients:
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_frames_in_the_handshakes_packet_under_the_real_server(srv: Server) -> None:
    """The server's own loop (uvloop): a frame sent with the handshake is echoed, in order
    before the frame sent after it."""
    key = b"\x01\x02\x03\x04"

    def frame(payload: bytes) -> bytes:
        return (
            bytes((0x81, 0x80 | len(payload)))
            + key
            + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        )

    handshake = (
        b"GET /_fireside/websocket-echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(handshake + frame(b"first"))
        sock.sendall(frame(b"second"))
        data = b""
        while b"second" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        head, _, frames = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        assert frames == b"\x81\x05first\x81\x06second"
