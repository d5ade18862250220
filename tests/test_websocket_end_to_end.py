"""A WebSocket API end to end: the `websockets` client library against a live server, real
functions on every route, boto3 for the control plane and `@connections`.

The functions record what they are sent in a table (CONNECT and DISCONNECT events) or send it
back through `@connections` (MESSAGE events), so each test reads the events API Gateway's
functions get, as they got them. A second server, with room for two environments only, shows
that a thousand-strong burst of closes still delivers every `$disconnect` (the invokes the full
machine throttles are tried again), as AWS delivers them within the account's concurrency.
"""

from __future__ import annotations

import contextlib
import json
import socket as socket_module
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ROLE, Server, make_zip

HANDLERS = """
import json, os, time
import boto3

TABLE = os.environ["TABLE"]
DYNAMODB = boto3.client("dynamodb")

def _record(event, kind):
    context = event["requestContext"]
    DYNAMODB.put_item(TableName=TABLE, Item={
        "id": {"S": context["connectionId"] + "/" + kind},
        "event": {"S": json.dumps(event)},
    })

def connect(event, context):
    if (event.get("queryStringParameters") or {}).get("refuse"):
        return {"statusCode": 403, "body": "not you"}
    _record(event, "CONNECT")
    return {"statusCode": 200}

def disconnect(event, context):
    time.sleep(float(os.environ.get("DISCONNECT_SECONDS", "0")))
    _record(event, "DISCONNECT")
    return {"statusCode": 200}

def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}

CLIENTS = {}

def default(event, context):
    request = event["requestContext"]
    endpoint = f"https://{request['domainName']}/{request['stage']}"
    if endpoint not in CLIENTS:  # kept across invokes, as functions on Lambda keep them
        CLIENTS[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    api = CLIENTS[endpoint]
    api.post_to_connection(ConnectionId=request["connectionId"], Data=json.dumps(event))
    return {"statusCode": 200}
"""


def build(server: Server, table: str, disconnect_seconds: float = 0.0, memory: int = 128) -> str:
    """A WebSocket API (stage `test`) with a function on each route; its id."""
    dynamodb, lam = server.client("dynamodb"), server.client("lambda")
    v2 = server.client("apigatewayv2")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    api: str = v2.create_api(
        Name="e2e", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    for key, handler in (
        ("$connect", "connect"),
        ("$disconnect", "disconnect"),
        ("$default", "default"),
        ("echo", "echo"),
    ):
        name = f"ws-{handler}-{uuid.uuid4().hex[:8]}"
        arn = lam.create_function(
            FunctionName=name, Runtime="python3.11", Handler=f"app.{handler}", Role=ROLE,
            Code={"ZipFile": make_zip({"app.py": HANDLERS})}, Timeout=30, MemorySize=memory,
            Environment={"Variables": {"TABLE": table,
                                       "DISCONNECT_SECONDS": str(disconnect_seconds)}},
        )["FunctionArn"]  # fmt: skip
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
        lam.add_permission(
            FunctionName=name, StatementId="ws", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:{arn.split(':')[4]}:{api}/*",
        )  # fmt: skip
        integration = v2.create_integration(
            ApiId=api, IntegrationType="AWS_PROXY",
            IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"{arn}/invocations",
        )["IntegrationId"]  # fmt: skip
        route = v2.create_route(
            ApiId=api, RouteKey=key, Target=f"integrations/{integration}",
            **({"RouteResponseSelectionExpression": "$default"} if key == "echo" else {}),
        )["RouteId"]  # fmt: skip
        if key == "echo":  # two-way: the function's answer goes back to the client
            v2.create_route_response(ApiId=api, RouteId=route, RouteResponseKey="$default")
    v2.create_stage(ApiId=api, StageName="test", AutoDeploy=True)
    return api


def url(server: Server, api: str, query: str = "") -> str:
    """The path form (`/_aws/execute-api/...`): this host resolves no `*.localhost` name."""
    return f"ws://127.0.0.1:{server.port}/_aws/execute-api/{api}/test{query}"


def recorded(server: Server, table: str, key: str, timeout: float = 30) -> dict[str, Any]:
    """The event a function recorded under `key`, once it has."""
    dynamodb = server.client("dynamodb")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = dynamodb.get_item(TableName=table, Key={"id": {"S": key}}).get("Item")
        if item is not None:
            event: dict[str, Any] = json.loads(item["event"]["S"])
            return event
        time.sleep(0.05)
    raise AssertionError(f"nothing recorded under {key}")


@pytest.fixture(scope="module")
def chat(server: Server) -> Iterator[tuple[str, str]]:
    table = f"ws-events-{uuid.uuid4().hex[:8]}"
    yield build(server, table), table


def _connection_id(server: Server, table: str, socket: ClientConnection) -> str:
    """The connection's id, from the MESSAGE event `$default` sends back."""
    socket.send("who am i")
    event = json.loads(socket.recv(timeout=30))
    connection_id: str = event["requestContext"]["connectionId"]
    return connection_id


def test_events_routes_and_replies(server: Server, chat: tuple[str, str]) -> None:
    api, table = chat
    with connect(
        url(server, api, "?name=ana&tag=a&tag=b"),
        additional_headers={"X-Client": "e2e"},
        user_agent_header="e2e-agent",
    ) as socket:
        # $default: not JSON, so not routed by `action`; the function posts its event back.
        socket.send("hello there")
        message = json.loads(socket.recv(timeout=30))
        context = message["requestContext"]
        assert (context["routeKey"], context["eventType"]) == ("$default", "MESSAGE")
        assert message["body"] == "hello there" and message["isBase64Encoded"] is False
        assert context["messageId"] and context["apiId"] == api and context["stage"] == "test"
        assert context["domainName"] == f"{api}.execute-api.us-east-1.amazonaws.com"
        assert context["identity"]["sourceIp"] == "127.0.0.1"
        connection_id = context["connectionId"]

        event = recorded(server, table, f"{connection_id}/CONNECT")
        context = event["requestContext"]
        assert (context["routeKey"], context["eventType"]) == ("$connect", "CONNECT")
        assert context["connectionId"] == connection_id
        assert abs(context["connectedAt"] / 1000 - time.time()) < 60
        assert event["queryStringParameters"]["name"] == "ana"
        assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
        headers = {k.lower(): v for k, v in event["headers"].items()}
        assert headers["x-client"] == "e2e" and "sec-websocket-key" in headers

        # A custom route with a route response: two-way, the answer comes back as sent.
        socket.send(json.dumps({"action": "echo", "n": 7}))
        assert json.loads(socket.recv(timeout=30)) == {"action": "echo", "n": 7}

        # @connections from outside: the connection as API Gateway describes it.
        management = server.client("apigatewaymanagementapi")
        described = management.get_connection(ConnectionId=connection_id)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        assert described["Identity"]["UserAgent"] == "e2e-agent"
        assert described["LastActiveAt"] >= described["ConnectedAt"]
        management.post_to_connection(ConnectionId=connection_id, Data=b"from outside")
        assert socket.recv(timeout=30) == "from outside"
        socket.close(code=4001, reason="done")

    event = recorded(server, table, f"{connection_id}/DISCONNECT")
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$disconnect", "DISCONNECT")
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4001, "done")
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_connect_refuses_with_the_functions_status(server: Server, chat: tuple[str, str]) -> None:
    api, _ = chat
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server, api, "?refuse=1"), open_timeout=30)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as unknown:
        connect(f"ws://127.0.0.1:{server.port}/_aws/execute-api/{api}/nostage", open_timeout=30)
    assert unknown.value.response.status_code == 403


def test_delete_connection_closes_it_and_runs_disconnect(
    server: Server, chat: tuple[str, str]
) -> None:
    api, table = chat
    management = server.client("apigatewaymanagementapi")
    with connect(url(server, api)) as socket:
        connection_id = _connection_id(server, table, socket)
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert (
        recorded(server, table, f"{connection_id}/DISCONNECT")["requestContext"][
            "disconnectStatusCode"
        ]
        == 1000
    )


def test_a_burst_of_closes_delivers_every_disconnect(
    fresh_server: Callable[..., Server],
) -> None:
    """Two environments, 30 connections dropped together, each `$disconnect` taking 0.2 s:
    the machine throttles most at first; every one is delivered in the end."""
    server = fresh_server(FIRESIDE_MAX_ENVIRONMENTS="3", FIRESIDE_WARM_SPARES="0")
    table = f"ws-burst-{uuid.uuid4().hex[:8]}"
    # 1,769 MB is a whole vCPU: at 128 MB (7% of one) each `$default` spends ~0.5 s making
    # its client, which is not what this test is about.
    api = build(server, table, disconnect_seconds=0.2, memory=1769)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(url(server, api))) for _ in range(30)]
        ids = [_connection_id(server, table, socket) for socket in sockets]
        for socket in sockets:
            socket.socket.shutdown(socket_module.SHUT_RDWR)  # vanish: no close frame
    for connection_id in ids:
        event = recorded(server, table, f"{connection_id}/DISCONNECT", timeout=60)
        assert event["requestContext"]["disconnectStatusCode"] == 1006
