"""HTTP APIs' data plane over real sockets: requests by host and by path reach a Python function
through routes, stages and payload formats 1.0 and 2.0; API Gateway's own answers (404, 500,
503, 429, CORS preflights) come back as HTTP APIs send them."""

from __future__ import annotations

import contextlib
import http.client
import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROLE, Server, python_zip

#: Every API of the test account, in the test region.
API_ARNS = "arn:aws:execute-api:us-east-1:000000000000:*"

ECHO = textwrap.dedent(
    """
    import json, time

    def handler(event, context):
        path = event.get("rawPath") or event.get("path") or ""
        if "boom" in path:
            raise RuntimeError("boom")
        if "sleep" in path:
            time.sleep(1.5)
        if "bare" in path:
            return "just text"
        if "plain" in path:
            return {"statusCode": 201, "body": "no type"}
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json",
                        "Access-Control-Allow-Origin": "https://from-the-function"},
            "body": json.dumps(event),
        }
    """
)


@pytest.fixture(scope="module")
def function_arn(server: Server) -> Iterator[str]:
    lam = server.client()
    name = f"httpapi-{uuid.uuid4().hex[:8]}"
    arn: str = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(ECHO)},
        Timeout=10,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    allow_api_gateway(lam, name)
    yield arn
    lam.delete_function(FunctionName=name)


def allow_api_gateway(lam: Any, name: str, source_arn: str = API_ARNS) -> None:
    """What SAM's `AWS::Lambda::Permission` grants: API Gateway may invoke the function."""
    lam.add_permission(
        FunctionName=name,
        StatementId=f"apigw-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=source_arn,
    )


@pytest.fixture()
def v2(server: Server) -> Iterator[Any]:
    client = server.client("apigatewayv2")
    before = {a["ApiId"] for a in client.get_apis()["Items"]}
    yield client
    for api in client.get_apis()["Items"]:
        if api["ApiId"] not in before:
            with contextlib.suppress(Exception):
                client.delete_api(ApiId=api["ApiId"])


def request(
    server: Server,
    api_id: str,
    method: str,
    path: str,
    *,
    by_path: bool = False,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sent = dict(headers or {})
    if by_path:
        path = f"/_aws/execute-api/{api_id}{path}"
    else:
        sent["Host"] = f"{api_id}.execute-api.localhost:{server.port}"
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _api(v2: Any, arn: str, *routes: str, version: str = "2.0", **api: Any) -> tuple[str, str]:
    api_id = v2.create_api(Name="door", ProtocolType="HTTP", **api)["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=arn,
        PayloadFormatVersion=version,
    )["IntegrationId"]
    for key in routes:
        v2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    return api_id, integration


def test_payload_2_by_host_and_by_path(v2: Any, server: Server, function_arn: str) -> None:
    api_id, _ = _api(v2, function_arn, "GET /items/{id}", "ANY /{proxy+}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    v2.create_stage(
        ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"color": "blue"}
    )
    for by_path in (False, True):
        status, headers, body = request(
            server, api_id, "GET", "/items/7?a=1&a=2&b=x", by_path=by_path,
            headers={"Cookie": "c1=v1; c2=v2", "X-Custom": "yes"},
        )  # fmt: skip
        assert status == 200, body
        assert headers["apigw-requestid"]
        event = json.loads(body)
        assert event["version"] == "2.0"
        assert event["routeKey"] == "GET /items/{id}"
        assert event["rawPath"] == "/items/7"
        assert event["rawQueryString"] == "a=1&a=2&b=x"
        assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
        assert event["pathParameters"] == {"id": "7"}
        assert event["cookies"] == ["c1=v1", "c2=v2"]
        assert event["headers"]["x-custom"] == "yes"
        assert event["requestContext"]["stage"] == "$default"
        assert event["requestContext"]["apiId"] == api_id
        assert event["requestContext"]["http"]["method"] == "GET"
        assert "stageVariables" not in event
    status, _, body = request(server, api_id, "POST", "/prod/anything/at/all", body=b"{}")
    assert status == 200, body
    event = json.loads(body)
    assert event["routeKey"] == "ANY /{proxy+}"
    assert event["pathParameters"] == {"proxy": "anything/at/all"}
    assert event["rawPath"] == "/prod/anything/at/all"
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] == "{}" or event["isBase64Encoded"]


def test_payload_1(v2: Any, server: Server, function_arn: str) -> None:
    api_id, _ = _api(v2, function_arn, "GET /users/{name}", version="1.0")
    v2.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    status, _, body = request(server, api_id, "GET", "/dev/users/ann?x=1")
    assert status == 200, body
    event = json.loads(body)
    assert event["version"] == "1.0"
    assert event["resource"] == "/users/{name}"
    assert event["path"] == "/users/ann"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"name": "ann"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["stage"] == "dev"
    # A 1.0 answer needs a statusCode: a bare string is malformed.
    v2.create_route(
        ApiId=api_id,
        RouteKey="GET /bare",
        Target=v2.get_routes(ApiId=api_id)["Items"][0]["Target"],
    )
    status, _, body = request(server, api_id, "GET", "/dev/bare")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_api_gateway_answers(v2: Any, server: Server, function_arn: str) -> None:
    api_id, integration = _api(v2, function_arn, "GET /ok", "GET /boom", "GET /bare")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, headers, body = request(server, api_id, "GET", "/nothing-here")
    assert (status, body) == (404, b'{"message":"Not Found"}')  # compact, as AWS writes it
    assert headers["content-type"] == "application/json"
    status, _, body = request(server, api_id, "POST", "/ok")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    status, _, body = request(server, api_id, "GET", "/boom")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')  # AWS logs 35 bytes
    # Payload 2.0 infers a response from a bare value.
    status, headers, body = request(server, api_id, "GET", "/bare")
    assert (status, body) == (200, b"just text")
    assert headers["content-type"] == "application/json"
    # A structured answer without a Content-Type: an HTTP API sends text/plain (a Function
    # URL sends application/json; tests/test_function_urls.py).
    v2.create_route(ApiId=api_id, RouteKey="GET /plain", Target=f"integrations/{integration}")
    status, headers, body = request(server, api_id, "GET", "/plain")
    assert (status, body) == (201, b"no type")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    # The integration's timeout: 503.
    v2.update_integration(ApiId=api_id, IntegrationId=integration, TimeoutInMillis=200)
    v2.create_route(ApiId=api_id, RouteKey="GET /sleep", Target=f"integrations/{integration}")
    started = time.monotonic()
    status, _, body = request(server, api_id, "GET", "/sleep")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    assert time.monotonic() - started < 1.4
    # An unknown API id: nobody's, 404.
    status, _, body = request(server, "zzzzzzzzzz", "GET", "/ok")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_stages_serve_their_deployment(v2: Any, server: Server, function_arn: str) -> None:
    api_id, integration = _api(v2, function_arn, "GET /one")
    deployment = v2.create_deployment(ApiId=api_id)["DeploymentId"]
    v2.create_stage(ApiId=api_id, StageName="fixed", DeploymentId=deployment)
    v2.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    v2.create_route(ApiId=api_id, RouteKey="GET /two", Target=f"integrations/{integration}")
    assert request(server, api_id, "GET", "/fixed/one")[0] == 200
    assert request(server, api_id, "GET", "/fixed/two")[0] == 404
    assert request(server, api_id, "GET", "/live/two")[0] == 200
    # No `$default` stage: a path naming no stage is not found.
    assert request(server, api_id, "GET", "/one")[0] == 404
    v2.create_deployment(ApiId=api_id, StageName="fixed")
    assert request(server, api_id, "GET", "/fixed/two")[0] == 200


def test_quick_create_and_cors(v2: Any, server: Server, function_arn: str) -> None:
    api = v2.create_api(
        Name="quick",
        ProtocolType="HTTP",
        Target=function_arn,
        CorsConfiguration={
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type"],
            "ExposeHeaders": ["x-total"],
            "MaxAge": 300,
        },
    )
    api_id = api["ApiId"]
    status, headers, body = request(server, api_id, "GET", "/any/path")
    assert status == 200
    assert json.loads(body)["routeKey"] == "$default"
    assert "access-control-allow-origin" not in headers  # no Origin: no CORS headers
    origin = {"Origin": "https://app.example"}
    status, headers, _ = request(
        server,
        api_id,
        "OPTIONS",
        "/any/path",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-max-age"] == "300"
    status, headers, _ = request(server, api_id, "GET", "/x", headers=origin)
    assert status == 200
    # API Gateway's CORS headers replace the function's own.
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "x-total"


def test_throttle_and_unserved_integrations(v2: Any, server: Server, function_arn: str) -> None:
    api_id, _ = _api(v2, function_arn, "GET /ok")
    v2.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        DefaultRouteSettings={"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.01},
    )
    assert request(server, api_id, "GET", "/ok")[0] == 200
    status, _, body = request(server, api_id, "GET", "/ok")
    assert (status, json.loads(body)) == (429, {"message": "Too Many Requests"})
    proxy = v2.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri="http://example.com",
        IntegrationMethod="GET", PayloadFormatVersion="1.0",
    )["IntegrationId"]  # fmt: skip
    v2.update_stage(
        ApiId=api_id,
        StageName="$default",
        DefaultRouteSettings={"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 100},
    )
    v2.create_route(ApiId=api_id, RouteKey="GET /proxy", Target=f"integrations/{proxy}")
    status, _, body = request(server, api_id, "GET", "/proxy")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_disabled_endpoint(v2: Any, server: Server, function_arn: str) -> None:
    api_id, _ = _api(v2, function_arn, "GET /ok", DisableExecuteApiEndpoint=True)
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, _, body = request(server, api_id, "GET", "/ok")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_permission_needed(v2: Any, server: Server) -> None:
    """API Gateway invokes a function only where its resource policy lets it: without a
    statement, or for another route, 500 (the refusal is in the server's log)."""
    lam = server.client()
    name = f"httpapi-{uuid.uuid4().hex[:8]}"
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(ECHO)},
    )["FunctionArn"]
    try:
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
        api_id, _ = _api(v2, arn, "GET /open", "GET /closed")
        v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        status, _, body = request(server, api_id, "GET", "/open")
        assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
        allow_api_gateway(
            lam, name, f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*/GET/open"
        )
        assert request(server, api_id, "GET", "/open")[0] == 200
        assert request(server, api_id, "GET", "/closed")[0] == 500
    finally:
        lam.delete_function(FunctionName=name)


def test_access_log(v2: Any, server: Server, function_arn: str) -> None:
    api_id, _ = _api(v2, function_arn, "GET /items/{id}")
    group = f"/aws/apigateway/access-{api_id}"
    v2.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        AccessLogSettings={
            "DestinationArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}",
            "Format": '{"requestId":"$context.requestId","routeKey":"$context.routeKey",'
            '"status":"$context.status","method":"$context.httpMethod",'
            '"error":"$context.error.message","nothing":"$context.no.such.thing"}',
        },
    )
    assert request(server, api_id, "GET", "/items/7")[0] == 200
    assert request(server, api_id, "GET", "/missing")[0] == 404
    path = (
        server.data_dir
        / "logs"
        / "000000000000"
        / "us-east-1"
        / (group.strip("/").replace("/", "_") + ".log")
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not path.exists() or path.read_text().count("\n") < 2):
        time.sleep(0.05)
    lines = [json.loads(line.split("\t", 2)[2]) for line in path.read_text().splitlines()]
    assert [(e["routeKey"], e["status"], e["method"]) for e in lines] == [
        ("GET /items/{id}", "200", "GET"),
        ("-", "404", "GET"),
    ]
    assert lines[1]["error"] == "Not Found" and lines[0]["nothing"] == "-"
    assert lines[0]["requestId"] != lines[1]["requestId"]


def test_odd_requests(v2: Any, server: Server, function_arn: str) -> None:
    """Odd paths, escapes and bodies reach a route or a 404, never a Fireside error."""
    api_id, _ = _api(v2, function_arn, "ANY /{proxy+}", "GET /files/{name}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    for method, path, body in (
        ("GET", "/files/%zz", None),
        ("GET", "/files/%ff%fe", None),
        ("GET", "//double//slashes", None),
        ("GET", "/a?%ff=%fe&&=&x", None),
        ("POST", "/bin", bytes(range(256))),
        ("POST", "/json", b'{"broken": '),
    ):
        headers = {"Content-Type": "application/json"} if body else {}
        status, _, answer = request(server, api_id, method, path, headers=headers, body=body)
        assert status in (200, 404), (path, status, answer)
    status, _, answer = request(server, api_id, "GET", "/files/%zz")
    assert json.loads(answer)["pathParameters"] == {"name": "%zz"}
    status, _, answer = request(server, api_id, "POST", "/bin", body=bytes(range(256)))
    event = json.loads(answer)
    assert event["isBase64Encoded"] is True
