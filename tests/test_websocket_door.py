"""The WebSocket door's logic in process, on APIs made with boto3 on a live server and real
Lambda functions run there: the handshake's answers, `$connect` (its event, its refusal, a
REQUEST authorizer), messages routed by the selection expression to one-way and two-way
routes (AWS_PROXY and MOCK), API Gateway's error frames, `$disconnect`, the permission check
with the route's source ARN, across accounts too.

The transport is a test double (`RecordingConnections`: it records what the door sends and
accepts); the door reads the live server's API store file, and its `FunctionCaller` invokes
the live server's functions through Lambda's Invoke, checking their resource policies (read
with GetPolicy) with Fireside's own evaluator. The WebSocket transport itself is tested with
a real client where it is built (`fireside/http/websocket.py`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from fireside.aws.auth import Authenticator
from fireside.compute.policies import allows
from fireside.gateway.addresses import EXECUTE_API, FrontDoorAddress
from fireside.gateway.http_api_store import HttpApiStore
from fireside.gateway.integration import (
    ApiGatewaySource,
    FunctionCaller,
    FunctionRef,
    InvokeSource,
)
from fireside.gateway.websocket_connections import (
    BusyError,
    ConnectionHandler,
    ConnectionInfo,
    GoneError,
)
from fireside.gateway.websocket_door import WebSocketDoor, error_frame
from fireside.http.types import Request, Response
from fireside.resource_policy import statements_of
from tests.conftest import ROLE, Server, python_zip

A = "000000000000"
B = "222222222222"
ECHO = textwrap.dedent(
    """
    import json

    def handler(event, context):
        body = event.get("body") or ""
        query = event.get("queryStringParameters") or {}
        if "boom" in body:
            raise RuntimeError("boom")
        if query.get("refuse"):
            return {"statusCode": int(query["refuse"]), "body": "not you"}
        if "nothing" in body:
            return None
        headers = {"Sec-WebSocket-Protocol": "chat"} if query.get("proto") else {}
        return {"statusCode": 200, "headers": headers, "body": json.dumps(event)}
    """
)
AUTHORIZER = textwrap.dedent(
    """
    def handler(event, context):
        token = (event.get("queryStringParameters") or {}).get("token")
        effect = "Allow" if token == "yes" else "Deny"
        return {"principalId": "user-1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect,
                     "Resource": event["methodArn"]}]},
                "context": {"who": token, "n": 7, "event": event}}
    """
)
HANDSHAKE = {
    "host": "api.execute-api.localhost:4566",
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
    "user-agent": "test-client/1.0",
}


@dataclass
class RecordingConnections:
    """The transport's stand-in: accepts every handshake and records what is sent."""

    admitting: bool = True
    accepted: dict[str, tuple[ConnectionInfo, list[tuple[str, str]]]] = field(default_factory=dict)
    sent: list[tuple[str, bytes, bool]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)

    def new_id(self) -> str:
        return base64.b64encode(uuid.uuid4().bytes[:10]).decode()

    def admit(self, account: str) -> bool:
        return self.admitting

    def accept(
        self,
        request: Request,
        info: ConnectionInfo,
        handler: ConnectionHandler,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        if request.headers.get("sec-websocket-version") != "13":
            return Response(426, [("Sec-WebSocket-Version", "13")])
        if "sec-websocket-key" not in request.headers:
            return Response(400)
        self.accepted[info.connection_id] = (info, list(headers or []))
        return Response(101, [("Upgrade", "websocket"), *(headers or [])])

    async def send(self, connection_id: str, data: bytes, text: bool = True) -> None:
        if connection_id in self.gone:
            raise GoneError(connection_id)
        if connection_id in self.busy:
            raise BusyError(connection_id)
        self.sent.append((connection_id, data, text))

    def frames(self, connection_id: str) -> list[bytes]:
        return [data for cid, data, _ in self.sent if cid == connection_id]


class RemoteInvoker:
    """Runs the door's invocations on the live server's functions (Lambda Invoke, as the
    function's account) and records each event and answer."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self.calls: list[tuple[str, dict[str, Any], bytes]] = []

    async def call(
        self,
        account: str,
        region: str,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        request_id: str,
        trace: str,
    ) -> tuple[Any, Any]:
        lam = self._server.client(aws_access_key_id=account)
        answer = await asyncio.to_thread(lam.invoke, FunctionName=name, Payload=payload)
        out = answer["Payload"].read()
        self.calls.append((name, json.loads(payload), out))
        return (
            SimpleNamespace(version=answer.get("ExecutedVersion", "$LATEST")),
            SimpleNamespace(payload=out, function_error=answer.get("FunctionError")),
        )


@dataclass
class World:
    server: Server
    door: WebSocketDoor
    connections: RecordingConnections
    invoker: RemoteInvoker
    sources: list[str]
    chat: str
    strict: str
    iam: str
    echo: str
    far: str
    caller: FunctionCaller


def _function(server: Server, source: str, account: str = A) -> tuple[str, str]:
    lam = server.client(aws_access_key_id=account)
    name = f"ws-{uuid.uuid4().hex[:8]}"
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(source)}, Timeout=10,
    )["FunctionArn"]  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    return name, str(arn)


def _grant(server: Server, name: str, source_arn: str, account: str = A) -> None:
    server.client(aws_access_key_id=account).add_permission(
        FunctionName=name, StatementId=f"ws-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=source_arn,
    )  # fmt: skip


def _authorize(server: Server, sources: list[str]) -> Any:
    """The permission check as the server makes it: the function's resource policy (read
    with GetPolicy) evaluated by Fireside's evaluator; records each source ARN."""

    def authorize(function: FunctionRef, source: InvokeSource) -> bool:
        assert isinstance(source, ApiGatewaySource)
        sources.append(source.source_arn)
        lam = server.client(aws_access_key_id=function.account)
        try:
            policy = json.loads(lam.get_policy(FunctionName=function.name)["Policy"])
        except ClientError:
            return False
        return allows(
            statements_of(policy),
            action="lambda:InvokeFunction",
            principal_service="apigateway.amazonaws.com",
            source_arn=source.source_arn,
            source_account=source.source_account,
        )

    return authorize


def _integration(v2: Any, api_id: str, arn: str) -> str:
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    integration_id: str = v2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri
    )["IntegrationId"]
    return integration_id


def _route(v2: Any, api_id: str, key: str, integration: str, *, two_way: bool = False,
           **extra: Any) -> None:  # fmt: skip
    params = {"RouteResponseSelectionExpression": "$default"} if two_way else {}
    route_id = v2.create_route(
        ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}", **params, **extra
    )["RouteId"]
    if two_way:
        v2.create_route_response(ApiId=api_id, RouteId=route_id, RouteResponseKey="$default")


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    v2 = server.client("apigatewayv2")
    echo, echo_arn = _function(server, ECHO)
    auth, auth_arn = _function(server, AUTHORIZER)
    far, far_arn = _function(server, ECHO, B)
    _grant(server, echo, f"arn:aws:execute-api:us-east-1:{A}:*")
    _grant(server, auth, f"arn:aws:execute-api:us-east-1:{A}:*/authorizers/*")
    rse = "$request.body.action"

    chat = v2.create_api(Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression=rse)
    chat_id = chat["ApiId"]
    proxy = _integration(v2, chat_id, echo_arn)
    for key in ("$connect", "$disconnect"):
        _route(v2, chat_id, key, proxy)
    _route(v2, chat_id, "$default", proxy, two_way=True)
    _route(v2, chat_id, "echo", proxy, two_way=True)
    _route(v2, chat_id, "fire", proxy)
    _route(v2, chat_id, "far", _integration(v2, chat_id, far_arn), two_way=True)
    mock = v2.create_integration(
        ApiId=chat_id, IntegrationType="MOCK",
        RequestTemplates={"$default": '{"statusCode": 200}'},
    )["IntegrationId"]  # fmt: skip
    v2.create_integration_response(
        ApiId=chat_id, IntegrationId=mock, IntegrationResponseKey="$default",
        ResponseTemplates={"$default": '{"pong": "$context.routeKey"}'},
    )  # fmt: skip
    _route(v2, chat_id, "ping", mock, two_way=True)
    v2.create_stage(
        ApiId=chat_id, StageName="prod", AutoDeploy=True, StageVariables={"color": "blue"}
    )

    strict = v2.create_api(Name="strict", ProtocolType="WEBSOCKET", RouteSelectionExpression=rse)
    strict_id = strict["ApiId"]
    authorizer = v2.create_authorizer(
        ApiId=strict_id, AuthorizerType="REQUEST", Name="auth",
        AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{auth_arn}/invocations",
        IdentitySource=["route.request.querystring.token"],
    )["AuthorizerId"]  # fmt: skip
    strict_proxy = _integration(v2, strict_id, echo_arn)
    _route(v2, strict_id, "$connect", strict_proxy, AuthorizationType="CUSTOM",
           AuthorizerId=authorizer)  # fmt: skip
    _route(v2, strict_id, "echo", strict_proxy, two_way=True)
    v2.create_stage(ApiId=strict_id, StageName="live", AutoDeploy=True)

    iam_id = v2.create_api(Name="iam", ProtocolType="WEBSOCKET", RouteSelectionExpression=rse)[
        "ApiId"
    ]
    iam_proxy = _integration(v2, iam_id, echo_arn)
    _route(v2, iam_id, "$connect", iam_proxy, AuthorizationType="AWS_IAM")
    _route(v2, iam_id, "echo", iam_proxy, two_way=True)
    v2.create_stage(ApiId=iam_id, StageName="prod", AutoDeploy=True)

    connections = RecordingConnections()
    invoker = RemoteInvoker(server)
    sources: list[str] = []
    caller = FunctionCaller(invoker, _authorize(server, sources))  # type: ignore[arg-type]
    store = HttpApiStore(server.data_dir / "http-apis.sqlite")
    authenticator = Authenticator({"AKIDWEBSOCKET": "secret-of-ws"})
    door = WebSocketDoor(store, caller, connections, authenticator=authenticator)  # type: ignore[arg-type]
    yield World(
        server, door, connections, invoker, sources, chat_id, strict_id, iam_id, echo, far,
        caller,
    )  # fmt: skip
    store.close()
    for api_id in (chat_id, strict_id, iam_id):
        v2.delete_api(ApiId=api_id)
    for name, account in ((echo, A), (auth, A), (far, B)):
        server.client(aws_access_key_id=account).delete_function(FunctionName=name)


def _address(api_id: str, path: str) -> FrontDoorAddress:
    return FrontDoorAddress(
        EXECUTE_API, api_id, None, path, f"{api_id}.execute-api.localhost:4566", False
    )


def _handshake(world: World, api_id: str, path: str, query: str = "", **headers: str) -> Response:
    request = Request("GET", path, query, {**HANDSHAKE, **headers}, client=("127.0.0.9", 50123))
    answer = asyncio.run(world.door(_address(api_id, path), request))
    assert answer is not None
    return answer


def _connect(world: World, api_id: str, path: str = "/prod", query: str = "") -> ConnectionInfo:
    answer = _handshake(world, api_id, path, query)
    assert answer.status == 101, answer.body
    info = list(world.connections.accepted.values())[-1][0]
    return info


def _message(world: World, info: ConnectionInfo, data: bytes, text: bool = True) -> list[bytes]:
    before = len(world.connections.frames(info.connection_id))
    asyncio.run(world.door.on_message(info, data, text))
    return world.connections.frames(info.connection_id)[before:]


def _last_event(world: World, name: str) -> dict[str, Any]:
    return next(event for fn, event, _ in reversed(world.invoker.calls) if fn == name)


def test_what_is_not_a_handshake(world: World) -> None:
    request = Request("GET", "/prod", "", {"host": "x"})
    answer = asyncio.run(world.door(_address(world.chat, "/prod"), request))
    assert answer is not None and answer.status == 426
    assert json.loads(answer.body) == {"message": "Upgrade Required"}
    for path in ("/nostage", "/prod/more", "/"):
        answer = _handshake(world, world.chat, path)
        assert (answer.status, json.loads(answer.body)) == (403, {"message": "Forbidden"})
    assert asyncio.run(world.door(_address("nosuchapi", "/prod"), request)) is None
    http_api = world.server.client("apigatewayv2").create_api(Name="h", ProtocolType="HTTP")
    try:
        assert asyncio.run(world.door(_address(http_api["ApiId"], "/prod"), request)) is None
    finally:
        world.server.client("apigatewayv2").delete_api(ApiId=http_api["ApiId"])
    world.connections.admitting = False
    try:
        assert _handshake(world, world.chat, "/prod").status == 429
    finally:
        world.connections.admitting = True


def test_connect_event_and_refusal(world: World) -> None:
    info = _connect(world, world.chat, query="name=me&name=you&proto=1")
    assert info.domain_name == f"{world.chat}.execute-api.us-east-1.amazonaws.com"
    assert (info.stage, info.api_id, info.account) == ("prod", world.chat, A)
    assert (info.source_ip, info.user_agent) == ("127.0.0.9", "test-client/1.0")
    assert world.connections.accepted[info.connection_id][1] == [("Sec-WebSocket-Protocol", "chat")]
    event = _last_event(world, world.echo)
    assert set(event) == {
        "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "stageVariables", "requestContext", "isBase64Encoded",
    }  # fmt: skip
    assert event["headers"]["Sec-WebSocket-Key"] == HANDSHAKE["sec-websocket-key"]
    assert event["headers"]["Sec-WebSocket-Version"] == "13"
    assert "Connection" not in event["headers"] and "connection" not in event["headers"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.9"
    assert event["multiValueHeaders"]["Host"] == [HANDSHAKE["host"]]
    assert event["queryStringParameters"] == {"name": "you", "proto": "1"}
    assert event["multiValueQueryStringParameters"]["name"] == ["me", "you"]
    assert event["stageVariables"] == {"color": "blue"}
    context = event["requestContext"]
    assert set(context) == {
        "routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection",
        "stage", "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName",
        "connectionId", "apiId",
    }  # fmt: skip
    assert (context["routeKey"], context["eventType"]) == ("$connect", "CONNECT")
    assert context["connectionId"] == info.connection_id
    assert context["connectedAt"] == info.connected_at
    assert context["identity"] == {"userAgent": "test-client/1.0", "sourceIp": "127.0.0.9"}
    assert world.sources[-1] == f"arn:aws:execute-api:us-east-1:{A}:{world.chat}/prod/$connect"

    accepted = len(world.connections.accepted)
    calls = len(world.invoker.calls)
    assert _handshake(world, world.chat, "/prod", **{"sec-websocket-version": "8"}).status == 426
    bad_key = {"sec-websocket-key": "c2hvcnQ="}
    assert _handshake(world, world.chat, "/prod", **bad_key).status == 101  # the double's
    assert len(world.invoker.calls) == calls  # no $connect for a handshake RFC 6455 refuses
    del world.connections.accepted[list(world.connections.accepted)[-1]]
    refused = _handshake(world, world.chat, "/prod", "refuse=403")
    assert (refused.status, refused.body) == (403, b"not you")
    refused = _handshake(world, world.chat, "/prod", "refuse=500")
    assert refused.status == 500
    assert len(world.connections.accepted) == accepted


def test_messages_go_to_their_routes(world: World) -> None:
    info = _connect(world, world.chat)
    (frame,) = _message(world, info, b'{"action": "echo", "text": "hi"}')
    event = json.loads(frame)
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("echo", "MESSAGE")
    assert context["messageId"] and context["messageDirection"] == "IN"
    assert context["connectionId"] == info.connection_id
    assert event["body"] == '{"action": "echo", "text": "hi"}'
    assert event["isBase64Encoded"] is False
    assert "headers" not in event
    assert world.sources[-1] == f"arn:aws:execute-api:us-east-1:{A}:{world.chat}/prod/echo"

    for data in (b"not json", b'{"action": "nosuch"}', b'{"action": "$connect"}', b"[1]"):
        (frame,) = _message(world, info, data)
        assert json.loads(frame)["requestContext"]["routeKey"] == "$default", data
    (frame,) = _message(world, info, b"\x00\xffbinary", text=False)
    event = json.loads(frame)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xffbinary"

    calls = len(world.invoker.calls)
    assert _message(world, info, b'{"action": "fire"}') == []  # one-way: nothing comes back
    assert len(world.invoker.calls) == calls + 1
    assert _message(world, info, b'{"action": "echo", "say": "nothing"}') == []
    assert _message(world, info, b'{"action": "ping"}') == [b'{"pong": "ping"}']


def test_error_frames(world: World) -> None:
    info = _connect(world, world.chat)
    (frame,) = _message(world, info, b'{"action": "echo", "x": "boom"}')
    answer = json.loads(frame)
    assert answer["message"] == "Internal server error"
    assert answer["connectionId"] == info.connection_id and answer["requestId"]
    assert frame.startswith(b'{"message": "Internal server error", "connectionId":"')

    strict = _connect(world, world.strict, "/live", "token=yes")
    (frame,) = _message(world, strict, b'{"action": "unknown"}')  # no $default route
    answer = json.loads(frame)
    assert answer["message"] == "Forbidden" and answer["connectionId"] == strict.connection_id
    assert frame == error_frame("Forbidden", strict.connection_id, answer["requestId"])

    world.connections.gone.add(info.connection_id)
    assert _message(world, info, b'{"action": "echo"}') == []  # the client left: no error
    world.connections.busy.add(strict.connection_id)
    assert _message(world, strict, b'{"action": "echo"}') == []  # it does not read: dropped


def test_connect_authorizer(world: World) -> None:
    calls = len(world.invoker.calls)
    missing = _handshake(world, world.strict, "/live")
    assert (missing.status, json.loads(missing.body)) == (401, {"message": "Unauthorized"})
    assert len(world.invoker.calls) == calls  # refused before the authorizer runs
    denied = _handshake(world, world.strict, "/live", "token=no")
    assert (denied.status, json.loads(denied.body)) == (403, {"message": "Forbidden"})
    info = _connect(world, world.strict, "/live", "token=yes")
    asked = next(e for _, e, _ in reversed(world.invoker.calls) if e.get("type") == "REQUEST")
    assert asked["methodArn"] == (f"arn:aws:execute-api:us-east-1:{A}:{world.strict}/live/$connect")
    assert asked["requestContext"]["eventType"] == "CONNECT"
    assert asked["queryStringParameters"] == {"token": "yes"}
    authorizer = _last_event(world, world.echo)["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-1"
    assert (authorizer["who"], authorizer["n"]) == ("yes", 7)
    assert "event" not in authorizer  # objects in the context are dropped
    (frame,) = _message(world, info, b'{"action": "echo"}')
    assert json.loads(frame)["requestContext"]["authorizer"]["who"] == "yes"
    asyncio.run(world.door.on_disconnect(info, 1000, ""))
    (frame,) = _message(world, info, b'{"action": "echo"}')  # the session is forgotten
    assert "authorizer" not in json.loads(frame)["requestContext"]


def test_disconnect(world: World) -> None:
    info = _connect(world, world.chat)
    asyncio.run(world.door.on_disconnect(info, 1001, "Going away"))
    name, event, _ = world.invoker.calls[-1]
    assert name == world.echo
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$disconnect", "DISCONNECT")
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")
    assert event["headers"]["Host"] == info.domain_name
    assert "messageId" not in context
    assert world.sources[-1].endswith(f"{world.chat}/prod/$disconnect")
    assert world.connections.frames(info.connection_id) == []


def test_another_accounts_function_needs_its_grant(world: World) -> None:
    info = _connect(world, world.chat)
    (frame,) = _message(world, info, b'{"action": "far"}')
    assert json.loads(frame)["message"] == "Internal server error"
    assert world.sources[-1] == f"arn:aws:execute-api:us-east-1:{A}:{world.chat}/prod/far"
    _grant(world.server, world.far, f"arn:aws:execute-api:us-east-1:{A}:{world.chat}/*/far", B)
    (frame,) = _message(world, info, b'{"action": "far"}')
    assert json.loads(frame)["requestContext"]["routeKey"] == "far"


def _signed(secret: str, *, presigned: bool) -> tuple[str, dict[str, str]]:
    """(query, headers) of a handshake signed for `execute-api` by AKIDWEBSOCKET."""
    host = HANDSHAKE["host"]
    request = AWSRequest(method="GET", url=f"http://{host}/prod", headers={"host": host})
    credentials = Credentials("AKIDWEBSOCKET", secret)
    if presigned:
        SigV4QueryAuth(credentials, "execute-api", "us-east-1", expires=60).add_auth(request)
        return request.url.split("?", 1)[1], {}
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    signed = {k.lower(): v for k, v in request.headers.items() if k.lower() != "host"}
    return "", signed


def test_connect_with_aws_iam(world: World) -> None:
    unsigned = _handshake(world, world.iam, "/prod")
    assert (unsigned.status, json.loads(unsigned.body)) == (403, {"message": "Forbidden"})
    query, _ = _signed("wrong-secret", presigned=True)
    assert _handshake(world, world.iam, "/prod", query).status == 403
    for presigned in (True, False):
        query, headers = _signed("secret-of-ws", presigned=presigned)
        answer = _handshake(world, world.iam, "/prod", query, **headers)
        assert answer.status == 101, answer.body
        info = list(world.connections.accepted.values())[-1][0]
        identity = _last_event(world, world.echo)["requestContext"]["identity"]
        assert identity["accessKey"] == "AKIDWEBSOCKET"
        assert identity["accountId"] == A and identity["userArn"]
        assert identity["sourceIp"] == "127.0.0.9"
    (frame,) = _message(world, info, b'{"action": "echo"}')
    assert json.loads(frame)["requestContext"]["identity"]["accessKey"] == "AKIDWEBSOCKET"


def test_connect_requires_its_request_parameters(world: World) -> None:
    v2 = world.server.client("apigatewayv2")
    api_id = v2.create_api(
        Name="params", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a"
    )["ApiId"]
    try:
        function = f"arn:aws:lambda:us-east-1:{A}:function:{world.echo}"
        integration = _integration(v2, api_id, function)
        required = {
            "route.request.querystring.room": {"Required": True},
            "route.request.header.X-Client": {"Required": True},
            "route.request.header.X-Optional": {"Required": False},
        }
        _route(v2, api_id, "$connect", integration, RequestParameters=required)
        v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
        with pytest.raises(ClientError) as caught:
            v2.create_route(
                ApiId=api_id, RouteKey="x", RequestParameters={"header.X": {"Required": True}}
            )
        assert caught.value.response["Error"]["Code"] == "BadRequestException"
        store = HttpApiStore(world.server.data_dir / "http-apis.sqlite")
        door = WebSocketDoor(store, world.caller, world.connections)  # type: ignore[arg-type]
        calls = len(world.invoker.calls)
        for query, headers in (
            ("", {"x-client": "c"}),
            ("room=1", {}),
            ("room=", {"x-client": "c"}),
        ):
            request = Request("GET", "/prod", query, {**HANDSHAKE, **headers})
            answer = asyncio.run(door(_address(api_id, "/prod"), request))
            assert answer is not None
            assert (answer.status, json.loads(answer.body)) == (400, {"message": "Bad Request"})
        assert len(world.invoker.calls) == calls
        request = Request("GET", "/prod", "room=1", {**HANDSHAKE, "x-client": "c"})
        answer = asyncio.run(door(_address(api_id, "/prod"), request))
        assert answer is not None and answer.status == 101
        store.close()
    finally:
        v2.delete_api(ApiId=api_id)
