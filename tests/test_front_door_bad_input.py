"""The three HTTP front doors (Function URLs, HTTP APIs, REST APIs) against a hostile or
careless client and a broken function, over real sockets against a live server (issue 13).

Every answer is the front door's own documented one (status and body) or, where AWS documents
none, a clean 4xx/5xx; never a hang, a crash or a corrupted connection; and the stored
configurations are unchanged at the end. Where a test pins an answer whose wording AWS does
not document, its comment says so.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import socket
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROLE, Server, python_zip

#: The function behind every door: what it does is the request path's last segment
#: (`rawPath` in payload 2.0, `path` in 1.0).
CHAMELEON = textwrap.dedent(
    """
    import base64, json, os, sys, time

    def handler(event, context):
        path = event.get("rawPath") or event.get("path") or ""
        do = path.rstrip("/").rsplit("/", 1)[-1]
        if do == "notjson":
            return b"{not json"
        if do == "badutf8":
            return b"\\xff\\xfe\\xfd"
        if do == "statusstr":
            return {"statusCode": "201", "body": "ok"}
        if do == "statusneg":
            return {"statusCode": -1, "body": "x"}
        if do == "status999":
            return {"statusCode": 999, "body": "x"}
        if do.startswith("code"):
            return {"statusCode": int(do[4:]), "body": "unexpected"}
        if do == "statusfloat":
            return {"statusCode": 200.5, "body": "x"}
        if do == "headerslist":
            return {"statusCode": 200, "headers": ["a", "b"], "body": "x"}
        if do == "headersnested":
            return {"statusCode": 200, "headers": {"a": {"b": 1}}, "body": "x"}
        if do == "bodyobject":
            return {"statusCode": 200, "body": {"a": 1}}
        if do == "badbase64":
            return {"statusCode": 200, "isBase64Encoded": True, "body": "!!not base64!!"}
        if do == "big":
            return {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 10)}
        if do == "manyheaders":
            return {"statusCode": 200, "headers": {f"x-h{i}": str(i) for i in range(5000)},
                    "body": "many"}
        if do == "crlfvalue":
            return {"statusCode": 200, "headers": {"x-a": "1\\r\\nX-Injected: yes"}, "body": "x"}
        if do == "nulvalue":
            return {"statusCode": 200, "headers": {"x-a": "1\\u0000"}, "body": "x"}
        if do == "crlfname":
            return {"statusCode": 200, "headers": {"x-a\\r\\nX-Injected": "yes"}, "body": "x"}
        if do == "unicodeheader":
            return {"statusCode": 200, "headers": {"x-u": "caf\\u00e9 \\u20ac \\U0001F600"},
                    "body": "x"}
        if do == "unicodename":
            return {"statusCode": 200, "headers": {"x-\\u00e9": "v"}, "body": "x"}
        if do == "framing":
            return {"statusCode": 200, "headers": {"Content-Length": "99999",
                    "Transfer-Encoding": "chunked", "Connection": "close"}, "body": "framed"}
        if do == "cookiejunk":
            return {"statusCode": 200, "cookies": ["ok=1", 5, None], "body": "x"}
        if do == "cookiecrlf":
            return {"statusCode": 200, "cookies": ["ok=1", "a=b\\r\\nX-Injected: yes"],
                    "body": "x"}
        if do == "multijunk":
            return {"statusCode": 200, "multiValueHeaders": {"x-m": ["a", {"b": 1}]},
                    "body": "x"}
        if do == "multicrlf":
            return {"statusCode": 200, "multiValueHeaders": {"x-m": ["a\\r\\nX-Injected: 1"]},
                    "body": "x"}
        if do == "crash":
            raise RuntimeError("boom")
        if do == "exit":
            os._exit(3)
        if do == "sleep":
            time.sleep(2)
            return {"statusCode": 200, "body": "slept"}
        if do == "forever":
            time.sleep(60)
        if do == "print":
            chunk = "y" * (1024 * 1024) + "\\n"
            for _ in range(100):
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return {"statusCode": 200, "body": "printed"}
        if do == "binary":
            return {"statusCode": 200, "headers": {"Content-Type": "text/plain"},
                    "isBase64Encoded": True, "body": base64.b64encode(b"\\xff\\x00\\xfe").decode()}
        # echo: what the function saw, small
        body = event.get("body")
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"do": do, "method": (event.get("requestContext") or {})
                                    .get("http", {}).get("method") or event.get("httpMethod"),
                                    "len": len(body or ""), "b64": event.get("isBase64Encoded"),
                                    "body": (body or "")[:200]})}
    """
)


@dataclass
class Doors:
    server: Server
    function: str
    url_id: str
    http_api: str
    rest_api: str
    slow_url_id: str
    slow_url_function: str
    before: dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("doorfuzz"),
        env={"FIRESIDE_HTTP_HEADER_TIMEOUT": "2", "FIRESIDE_HTTP_BODY_TIMEOUT": "2"},
    ).start()
    yield srv
    srv.stop()


def _function(lam: Any, name: str, source: str, **kwargs: Any) -> str:
    arn: str = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(source)},
        **kwargs,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn="arn:aws:execute-api:us-east-1:000000000000:*",
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="url-invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    return arn


def _configs(srv: Server, doors: Doors) -> dict[str, Any]:
    """What the control planes say of the doors' configurations (timestamps left out)."""
    lam, v2, rest = srv.client(), srv.client("apigatewayv2"), srv.client("apigateway")
    for_url = lam.get_function_url_config(FunctionName=doors.function)
    for_url.pop("ResponseMetadata")
    api = v2.get_api(ApiId=doors.http_api)
    api.pop("ResponseMetadata")
    routes = v2.get_routes(ApiId=doors.http_api)["Items"]
    integrations = v2.get_integrations(ApiId=doors.http_api)["Items"]
    stages = v2.get_stages(ApiId=doors.http_api)["Items"]
    rest_api = rest.get_rest_api(restApiId=doors.rest_api)
    rest_api.pop("ResponseMetadata")
    resources = rest.get_resources(restApiId=doors.rest_api, embed=["methods"])["items"]
    rest_stages = rest.get_stages(restApiId=doors.rest_api)["item"]
    return json.loads(
        json.dumps(
            {
                "url": for_url,
                "api": api,
                "routes": routes,
                "integrations": integrations,
                "stages": stages,
                "rest": rest_api,
                "resources": resources,
                "rest_stages": rest_stages,
            },
            default=str,
            sort_keys=True,
        )
    )


@pytest.fixture(scope="module")
def doors(server: Server) -> Doors:
    lam = server.client()
    name = f"chameleon-{uuid.uuid4().hex[:6]}"
    arn = _function(lam, name, CHAMELEON, Timeout=4, MemorySize=256)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    slow = f"slow-{uuid.uuid4().hex[:6]}"
    slow_arn = _function(lam, slow, CHAMELEON, Timeout=10)
    lam.put_function_concurrency(FunctionName=slow, ReservedConcurrentExecutions=2)
    slow_url = lam.create_function_url_config(FunctionName=slow, AuthType="NONE")["FunctionUrl"]

    v2 = server.client("apigatewayv2")
    http_api = v2.create_api(Name="doorfuzz", ProtocolType="HTTP")["ApiId"]
    default = v2.create_integration(
        ApiId=http_api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]  # fmt: skip
    short = v2.create_integration(
        ApiId=http_api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
        PayloadFormatVersion="2.0", TimeoutInMillis=500,
    )["IntegrationId"]  # fmt: skip
    v1 = v2.create_integration(
        ApiId=http_api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
        PayloadFormatVersion="1.0",
    )["IntegrationId"]  # fmt: skip
    v2.create_route(ApiId=http_api, RouteKey="$default", Target=f"integrations/{default}")
    v2.create_route(ApiId=http_api, RouteKey="ANY /short/{p+}", Target=f"integrations/{short}")
    v2.create_route(ApiId=http_api, RouteKey="ANY /v1/{p+}", Target=f"integrations/{v1}")
    slow_integration = v2.create_integration(
        ApiId=http_api, IntegrationType="AWS_PROXY", IntegrationUri=slow_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]  # fmt: skip
    v2.create_route(
        ApiId=http_api, RouteKey="ANY /slow/{p+}", Target=f"integrations/{slow_integration}"
    )
    v2.create_stage(ApiId=http_api, StageName="$default", AutoDeploy=True)

    rest = server.client("apigateway")
    api = rest.create_rest_api(name="doorfuzz")
    rest_api, root = api["id"], api["rootResourceId"]
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    proxy = rest.create_resource(restApiId=rest_api, parentId=root, pathPart="{proxy+}")
    rest.put_method(
        restApiId=rest_api, resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE"
    )
    rest.put_integration(
        restApiId=rest_api, resourceId=proxy["id"], httpMethod="ANY", type="AWS_PROXY",
        integrationHttpMethod="POST", uri=uri,
    )  # fmt: skip
    short_resource = rest.create_resource(restApiId=rest_api, parentId=root, pathPart="short")
    short_proxy = rest.create_resource(
        restApiId=rest_api, parentId=short_resource["id"], pathPart="{p+}"
    )
    rest.put_method(
        restApiId=rest_api, resourceId=short_proxy["id"], httpMethod="ANY",
        authorizationType="NONE",
    )  # fmt: skip
    rest.put_integration(
        restApiId=rest_api, resourceId=short_proxy["id"], httpMethod="ANY", type="AWS_PROXY",
        integrationHttpMethod="POST", uri=uri, timeoutInMillis=500,
    )  # fmt: skip
    slow_uri = uri.replace(arn, slow_arn)
    slow_resource = rest.create_resource(restApiId=rest_api, parentId=root, pathPart="slow")
    slow_proxy = rest.create_resource(
        restApiId=rest_api, parentId=slow_resource["id"], pathPart="{p+}"
    )
    rest.put_method(
        restApiId=rest_api, resourceId=slow_proxy["id"], httpMethod="ANY",
        authorizationType="NONE",
    )  # fmt: skip
    rest.put_integration(
        restApiId=rest_api, resourceId=slow_proxy["id"], httpMethod="ANY", type="AWS_PROXY",
        integrationHttpMethod="POST", uri=slow_uri,
    )  # fmt: skip
    rest.create_deployment(restApiId=rest_api, stageName="prod")

    found = Doors(server, name, url.split("//", 1)[1].split(".", 1)[0], http_api, rest_api,
                  slow_url.split("//", 1)[1].split(".", 1)[0], slow, {})  # fmt: skip
    found.before = _configs(server, found)
    return found


# -- raw HTTP -------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(sock: socket.socket, head_only: bool = False) -> Answer:
    """One response from `sock` (Content-Length framed), or AssertionError on a close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data[:200]!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), lines[0]
    status = int(lines[0].split(" ", 2)[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    if head_only:
        length = 0
    while len(rest) < length:
        chunk = sock.recv(1 << 20)
        assert chunk, "closed mid-body"
        rest += chunk
    return Answer(status, headers, rest[:length])


def raw(srv: Server, data: bytes, timeout: float = 20, head_only: bool = False) -> Answer:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock, head_only)


def request(
    srv: Server,
    host: str,
    target: str,
    *,
    method: str = "GET",
    headers: bytes = b"",
    body: bytes = b"",
    timeout: float = 20,
) -> Answer:
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n".encode()
        + headers
        + b"Connection: close\r\n\r\n"
    )
    return raw(srv, head + body, timeout, head_only=method == "HEAD")


def url_host(doors: Doors, url_id: str | None = None) -> str:
    return f"{url_id or doors.url_id}.lambda-url.us-east-1.localhost:{doors.server.port}"


def api_host(doors: Doors, api_id: str) -> str:
    return f"{api_id}.execute-api.localhost:{doors.server.port}"


def to_url(doors: Doors, path: str, **kw: Any) -> Answer:
    return request(doors.server, url_host(doors), path, **kw)


def to_http(doors: Doors, path: str, **kw: Any) -> Answer:
    return request(doors.server, api_host(doors, doors.http_api), path, **kw)


def to_rest(doors: Doors, path: str, **kw: Any) -> Answer:
    return request(doors.server, api_host(doors, doors.rest_api), "/prod" + path, **kw)


def healthy(srv: Server) -> None:
    started = time.monotonic()
    answer = raw(srv, b"GET /_fireside/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.status == 200 and answer.json()["status"] == "running"
    assert time.monotonic() - started < 5


def test_event_reaches_every_door(doors: Doors) -> None:
    for send in (to_url, to_http, to_rest):
        answer = send(doors, "/x/echo", method="POST", body=b'{"a":1}',
                      headers=b"Content-Type: application/json\r\n")  # fmt: skip
        assert answer.status == 200, (send, answer)
        assert answer.json()["body"] == '{"a":1}'


def to_v1(doors: Doors, path: str, **kw: Any) -> Answer:
    """An HTTP API route with payload format 1.0."""
    return to_http(doors, "/v1" + path, **kw)


DOORS = {"url": to_url, "http": to_http, "http-v1": to_v1, "rest": to_rest}
#: What each door answers for a function that failed or answered malformed: a Function URL
#: 502 `Internal Server Error` (recorded from AWS by LocalStack), an HTTP API 500
#: `{"message":"Internal Server Error"}` ("Troubleshooting issues with HTTP API Lambda
#: integrations"), a REST API 502 `{"message": "Internal server error"}` ("Malformed Lambda
#: proxy response" in its log).
FAILED = {
    "url": (502, b"Internal Server Error"),
    "http": (500, b'{"message":"Internal Server Error"}'),
    "http-v1": (500, b'{"message":"Internal Server Error"}'),
    "rest": (502, b'{"message":"Internal server error"}'),
}


# -- what a broken function answers ---------------------------------------------------------

MALFORMED = [
    "notjson", "badutf8", "statusneg", "status999", "statusfloat", "headerslist",
    "headersnested", "bodyobject", "badbase64", "big", "crlfvalue", "nulvalue", "crlfname",
    "unicodename", "crash", "exit",
]  # fmt: skip


def test_malformed_answers_are_the_doors_own_errors(doors: Doors) -> None:
    """Not JSON, JSON of the wrong shape (statusCode negative, 999 or 200.5; headers a list;
    a header an object; body an object; isBase64Encoded with a body that is not base64), an
    answer over 6 MB, a header name or value with CR/LF/NUL or outside ASCII, a crash, a
    runtime that exits: each door's documented error, never the function's bytes, and the
    next request is served."""
    for do in MALFORMED:
        for kind, send in DOORS.items():
            answer = send(doors, f"/x/{do}")
            assert (answer.status, answer.body) == FAILED[kind], (do, kind, answer)
            assert answer.header("X-Injected") is None
    for kind, send in DOORS.items():
        assert send(doors, "/x/echo").status == 200, kind


def test_odd_but_valid_answers(doors: Doors) -> None:
    """What the payload formats allow is served: a statusCode of digits, 5000 headers, UTF-8
    header text (sent as its bytes), the function's own framing headers dropped (the door
    frames the message), cookies (2.0) or junk in a 1.0-only member ignored by 2.0."""
    for kind, send in DOORS.items():
        answer = send(doors, "/x/statusstr")
        assert (answer.status, answer.body) == (201, b"ok"), kind
        answer = send(doors, "/x/manyheaders")
        assert (answer.status, answer.body) == (200, b"many"), kind
        assert answer.header("x-h4999") == "4999"
        answer = send(doors, "/x/unicodeheader")
        assert answer.header("x-u") == "café € 😀".encode().decode("latin-1"), kind
        answer = send(doors, "/x/framing")
        assert (answer.status, answer.body) == (200, b"framed"), kind
        assert answer.header("Transfer-Encoding") is None
        assert answer.header("Content-Length") == "6"
    # `cookies` is 2.0's: a 1.0 answer's is ignored; in 2.0 junk in it is malformed.
    for kind in ("url", "http"):
        for do in ("cookiejunk", "cookiecrlf"):
            answer = DOORS[kind](doors, f"/x/{do}")
            assert (answer.status, answer.body) == FAILED[kind], (kind, do)
    for kind in ("http-v1", "rest"):
        assert DOORS[kind](doors, "/x/cookiecrlf").status == 200
        for do in ("multijunk", "multicrlf"):  # `multiValueHeaders` is 1.0's
            answer = DOORS[kind](doors, f"/x/{do}")
            assert (answer.status, answer.body) == FAILED[kind], (kind, do)
    for kind in ("url", "http"):
        assert DOORS[kind](doors, "/x/multicrlf").header("X-Injected") is None


def test_status_codes_that_frame_differently(doors: Doors) -> None:
    """A function answering 100, 101 or 103 used to send that interim status as the final
    answer: the client waited for ever for the real one (or switched protocols on 101). It
    is malformed now (AWS documents no answer for it). A 204 or 304 with a body was sent with
    the body, which a client takes for the start of the next answer on the connection: the
    body is dropped."""
    for code in (100, 101, 103):
        for kind, send in DOORS.items():
            answer = send(doors, f"/x/code{code}", timeout=5)
            assert (answer.status, answer.body) == FAILED[kind], (code, kind)
    for host, prefix in (
        (url_host(doors), ""),
        (api_host(doors, doors.http_api), ""),
        (api_host(doors, doors.http_api), "/v1"),
        (api_host(doors, doors.rest_api), "/prod"),
    ):
        for code in (204, 304):
            with socket.create_connection(("127.0.0.1", doors.server.port), timeout=5) as sock:
                sock.sendall(
                    f"GET {prefix}/x/code{code} HTTP/1.1\r\nHost: {host}\r\n\r\n"
                    f"GET {prefix}/x/echo HTTP/1.1\r\nHost: {host}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            first, second = received.split(b"HTTP/1.1 ")[1:]
            assert first.startswith(f"{code} ".encode()) and first.endswith(b"\r\n\r\n")
            assert b"Content-Length: 0\r\n" in first
            assert second.startswith(b"200 OK") and b'"do": "echo"' in second


def test_function_timeout_and_100_mb_of_output(doors: Doors) -> None:
    """A function that outlives its own timeout (4 s) fails like any error; one that prints
    100 MB answers normally (its log is capped elsewhere). The doors run them concurrently."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        slow = {k: pool.submit(send, doors, "/x/forever", timeout=30) for k, send in DOORS.items()}
        loud = {k: pool.submit(send, doors, "/x/print", timeout=30) for k, send in DOORS.items()}
        for kind in DOORS:
            answer = slow[kind].result()
            assert (answer.status, answer.body) == FAILED[kind], kind
            assert loud[kind].result().body == b"printed", kind
    healthy(doors.server)


def test_integration_timeouts(doors: Doors) -> None:
    """A function slower than the integration's timeout (500 ms here): an HTTP API answers
    503 `{"message":"Service Unavailable"}`, a REST API 504 `{"message": "Endpoint request
    timed out"}` (API Gateway's INTEGRATION_TIMEOUT response), both at the timeout."""
    started = time.monotonic()
    answer = to_http(doors, "/short/sleep")
    assert (answer.status, answer.json()) == (503, {"message": "Service Unavailable"})
    answer = to_rest(doors, "/short/sleep")
    assert (answer.status, answer.json()) == (504, {"message": "Endpoint request timed out"})
    assert answer.header("x-amzn-ErrorType") == "IntegrationTimeoutException"
    assert time.monotonic() - started < 3


# -- malformed requests ---------------------------------------------------------------------


def _not_a_door(answer: Answer) -> None:
    """The edge's answer to a request no front door (and no AWS API) serves."""
    assert answer.status == 404, answer
    assert answer.json()["__type"] == "UnknownServiceException"


def test_bad_host_headers(doors: Doors) -> None:
    """A port that is no port (`:abc`, `:-1`, 20 digits, 0) makes the Host invalid: no front
    door serves it (it used to reach the function, which saw the junk as x-forwarded-port).
    Percent-encoding or non-ASCII in the host, a 70-character id, two Host headers (joined,
    RFC 9110 wants 400; Fireside's edge answers 404) are no door's either."""
    port, url_id = doors.server.port, doors.url_id
    base = f"{url_id}.lambda-url.us-east-1.localhost"
    for host in (
        f"{base}:99999999999999999999", f"{base}:-1", f"{base}:abc", f"{base}:0",
        f"{base}:{port}:{port}", f"{url_id}%2e.lambda-url.us-east-1.localhost:{port}",
        f"{'a' * 70}.lambda-url.us-east-1.localhost", "", " ",
        f"{doors.http_api}.execute-api.localhost:99999",
    ):  # fmt: skip
        _not_a_door(request(doors.server, host, "/x/echo"))
    for raw_host in (f"{base}\xe9:{port}".encode("latin-1"), f"{base}é:{port}".encode()):
        _not_a_door(raw(doors.server, b"GET /x/echo HTTP/1.1\r\nHost: " + raw_host + b"\r\n\r\n"))
    two = (
        f"GET /x/echo HTTP/1.1\r\nHost: {base}:{port}\r\n"
        f"Host: {doors.http_api}.execute-api.localhost:{port}\r\n\r\n"
    )
    _not_a_door(raw(doors.server, two.encode()))
    # Still served: a valid port, none, upper case, a trailing dot.
    for host in (f"{base}:65535", base, f"{base.upper()}:{port}", f"{base}.:{port}"):
        assert request(doors.server, host, "/x/echo").status == 200, host
    # Another region's host for the URL: AWS's 403 for a URL it does not have.
    answer = request(doors.server, f"{url_id}.lambda-url.eu-west-3.localhost:{port}", "/")
    assert (answer.status, answer.body) == (403, b'{"Message":null}')


def test_request_targets(doors: Doors) -> None:
    """The absolute form is served (RFC 9112 3.2.2: its authority is the host); `CONNECT
    host:port` and `OPTIONS *` are no door's (they reached the function with a `rawPath`
    not starting with `/`); `..` and encoded junk stay in the function's path and never
    escape the door; a 16 KB target is served, a longer one is 414."""
    srv, port, url_id = doors.server, doors.server.port, doors.url_id
    host = url_host(doors)
    answer = raw(srv, f"GET http://{host}/x/echo HTTP/1.1\r\nHost: elsewhere\r\n\r\n".encode())
    assert answer.json()["do"] == "echo"
    by_path = f"http://127.0.0.1:{port}/_aws/execute-api/{doors.rest_api}/prod/x/echo"
    assert raw(srv, f"GET {by_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()).json()["do"] == "echo"
    _not_a_door(raw(srv, f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()))
    _not_a_door(raw(srv, f"OPTIONS * HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()))
    escape = f"/_aws/lambda-url/{url_id}/../../_fireside/health"
    assert request(srv, "x", escape).json()["do"] == "health"  # the function's, not ours
    for kind, send in (("url", to_url), ("http", to_http), ("rest", to_rest)):
        for path in ("/%2e%2e/%2e%2e/x/echo", "/x/%ff%fe/%00/echo", "/x/../../echo"):
            answer = send(doors, path)
            assert answer.status == 200 and answer.json()["do"] == "echo", (kind, path)
        assert send(doors, "/" + "a" * 8192 + "/echo").json()["do"] == "echo", kind
        assert send(doors, "/x/" + "a/" * 4000 + "echo").json()["do"] == "echo", kind
        many = "&".join(f"{i}=" for i in range(2500))  # < 16 KB: served
        assert send(doors, "/x/echo?" + many + "&a=%ff%fe&%zz=1&&&=&").status == 200, kind
        assert send(doors, "/x/echo?" + "&".join(f"k{i}=v" for i in range(3000))).status == 414
        assert send(doors, "/x/écho").status == 400  # raw UTF-8 in the target: not HTTP
    _not_a_door(request(srv, "x", "/_aws/lambda-url/"))
    _not_a_door(request(srv, "x", f"/_aws/lambda-url/{'a' * 70}/x"))


def test_unknown_ids_stages_and_routes(doors: Doors) -> None:
    """AWS's answers: an unknown URL id 403 `{"Message":null}`; an unknown API id 404
    `{"message":"Not Found"}` (what API Gateway's shared host answers; AWS's DNS would not
    resolve it); a REST API's unknown stage 403 `{"message":"Forbidden"}` and unknown
    resource 403 `Missing Authentication Token`; an HTTP API's unmatched route 404."""
    srv = doors.server
    unknown_url = "nope" + "0" * 28
    answer = request(srv, url_host(doors, unknown_url), "/x")
    assert (answer.status, answer.body) == (403, b'{"Message":null}')
    answer = request(srv, "x", f"/_aws/lambda-url/{unknown_url}/x")
    assert (answer.status, answer.body) == (403, b'{"Message":null}')
    for target in ("/x", "/_aws/execute-api/nope/x"):
        answer = request(srv, api_host(doors, "nope"), target)
        assert (answer.status, answer.body) == (404, b'{"message":"Not Found"}')
    rest = api_host(doors, doors.rest_api)
    for target in ("/nostage/x", "/%ff/x", "/", ""):
        answer = request(srv, rest, target or "/")
        assert (answer.status, answer.json()) == (403, {"message": "Forbidden"}), target
    answer = request(srv, rest, "/prod")
    assert (answer.status, answer.json()) == (403, {"message": "Missing Authentication Token"})


def test_methods_api_gateway_does_not_know(doors: Doors) -> None:
    """API Gateway's methods are seven (`ANY` stands for them). `PROPFIND` or `TRACE` used
    to reach the function through `$default` or `ANY`; now an HTTP API answers as for no
    route (404 `{"message":"Not Found"}`) and a REST API as for no method (403 `Missing
    Authentication Token`). AWS documents neither answer. A Function URL passes any method
    to its function (AWS documents no list for it)."""
    for method in ("PROPFIND", "TRACE", "MKCOL"):
        answer = to_http(doors, "/x/echo", method=method)
        assert (answer.status, answer.body) == (404, b'{"message":"Not Found"}'), method
        answer = to_rest(doors, "/x/echo", method=method)
        assert answer.status == 403, method
        assert answer.json() == {"message": "Missing Authentication Token"}
        assert to_url(doors, "/x/echo", method=method).json()["method"] == method


def test_options_without_cors_and_head(doors: Doors) -> None:
    """Without CORS, `OPTIONS` (even a preflight) is the function's, as AWS documents; a HEAD
    answer has a GET's headers and no body, so the connection stays usable."""
    preflight = b"Origin: https://a.example\r\nAccess-Control-Request-Method: PUT\r\n"
    for kind, send in (("url", to_url), ("http", to_http), ("rest", to_rest)):
        answer = send(doors, "/x/echo", method="OPTIONS", headers=preflight)
        assert answer.json()["method"] == "OPTIONS", kind
        assert answer.header("Access-Control-Allow-Origin") is None
    host = url_host(doors)
    with socket.create_connection(("127.0.0.1", doors.server.port), timeout=20) as sock:
        sock.sendall(f"HEAD /x/echo HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = read_answer(sock, head_only=True)
        assert head.status == 200 and int(head.header("Content-Length") or 0) > 0
        sock.sendall(f"GET /x/echo HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert read_answer(sock).json()["method"] == "GET"


def test_connection_close_is_honoured(doors: Doors) -> None:
    """`Connection: close` (and HTTP/1.0 without keep-alive) ends the connection after the
    answer (RFC 9112 9.6). It was ignored: llhttp forgets the request's choice once the
    message is parsed, and a client reading to the end of the stream waited for the 60 s
    keep-alive timeout. Pipelined requests before the closing one are still answered."""
    for host, target in (
        (url_host(doors), "/x/echo"),
        (api_host(doors, doors.http_api), "/x/echo"),
        (api_host(doors, doors.rest_api), "/prod/x/echo"),
        ("x", "/_fireside/health"),
    ):
        for data in (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            f"GET {target} HTTP/1.0\r\nHost: {host}\r\n\r\n",
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", doors.server.port), timeout=3) as sock:
                sock.sendall(data.encode())
                received = b""
                while chunk := sock.recv(65536):  # a timeout here is the bug
                    received += chunk
            assert received.count(b"HTTP/1.1 200 OK") == data.count("GET "), (host, data)


def test_header_bytes(doors: Doors) -> None:
    """Control bytes or NUL in a header value are not HTTP: 400, the function not run.
    Bytes over 0x7f are (RFC 9110's obs-text) and are served; so are repeated headers."""
    for send in (to_url, to_http, to_rest):
        for value in (b"\x01\x7f", b"a\x00b"):
            answer = send(doors, "/x/echo", headers=b"X-Odd: " + value + b"\r\n")
            assert (answer.status, answer.json()) == (400, {"message": "malformed HTTP request"})
        assert send(doors, "/x/echo", headers=b"X-Odd: \xff\xfe\r\n").status == 200
        answer = send(doors, "/x/echo", headers=b"X-Rep: 1\r\nX-Rep: 2\r\nCookie: a=1\r\n" * 3)
        assert answer.status == 200


def test_junk_signatures_on_an_aws_iam_url(doors: Doors) -> None:
    """An `AWS_IAM` URL refuses every malformed signature (truncated, empty credential, 30 KB
    of junk, a bearer token, presigned-query junk with a negative or 24-digit expiry) with
    AWS's 403 and never runs the function. (Already right.)"""
    srv, lam = doors.server, doors.server.client()
    name = f"iam-{uuid.uuid4().hex[:6]}"
    _function(lam, name, CHAMELEON)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    host = url_host(doors, url.split("//", 1)[1].split(".", 1)[0])
    scope = "Credential=test/20260101/us-east-1/lambda/aws4_request"
    for headers in (
        b"Authorization: AWS4-HMAC-SHA256\r\n",
        b"Authorization: AWS4-HMAC-SHA256 Credential=\r\n",
        f"Authorization: AWS4-HMAC-SHA256 {scope}, SignedHeaders=, Signature=00\r\n"
        "X-Amz-Date: 20260101T000000Z\r\n".encode(),
        b"Authorization: " + b"A" * 30000 + b"\r\n",
        b"Authorization: Bearer x\r\n",
    ):
        answer = request(srv, host, "/x/echo", headers=headers)
        assert answer.status == 403 and answer.json()["Message"].startswith("Forbidden."), headers
    for query in (
        "X-Amz-Signature=00",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20260101%2Fus-east-1%2F"
        "lambda%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=-5"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=999999999999999999999999&X-Amz-Signature=0",
    ):
        assert request(srv, host, "/x/echo?" + query).status == 403, query
    lam.delete_function(FunctionName=name)


# -- bodies ---------------------------------------------------------------------------------


def _refused_before_read(srv: Server, host: str, target: str) -> Answer:
    """Send the head of a 17 MB body and no body: the answer must come at once."""
    head = f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {17 << 20}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(head.encode())
        return read_answer(sock)


def test_body_limits(doors: Doors) -> None:
    """Over Lambda's 6 MB: a Function URL answers 413 with Lambda's message; API Gateway 413
    `{"message":"Request Entity Too Large"}` (its REQUEST_TOO_LARGE response). Over 16 MB
    (API Gateway's 10 MB and some slack) the body is refused from its head, unread (it was
    read, up to the server's 80 MB, to be refused afterwards): 413 with the HTTP layer's
    message, where AWS's wording is unknown (it would have read and refused it)."""
    srv = doors.server
    seven = b"a" * (7 << 20)
    answer = to_url(doors, "/x/echo", method="POST", body=seven)
    assert answer.status == 413
    assert answer.json() == {
        "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    }
    for send in (to_http, to_v1, to_rest):
        answer = send(doors, "/x/echo", method="POST", body=seven)
        assert (answer.status, answer.json()) == (413, {"message": "Request Entity Too Large"})
    # 5 MB of binary is 6.7 MB of base64 in the event: over Lambda's limit too.
    five = bytes(range(256)) * (5 << 12)
    for send in (to_url, to_http, to_rest):
        content = b"Content-Type: application/octet-stream\r\n"
        assert send(doors, "/x/echo", method="POST", body=five, headers=content).status == 413
    port = srv.port
    for host, target in (
        (url_host(doors), "/x/echo"),
        (api_host(doors, doors.http_api), "/x/echo"),
        (api_host(doors, doors.rest_api), "/prod/x/echo"),
        (f"127.0.0.1:{port}", f"/_aws/lambda-url/{doors.url_id}/x"),
        (f"127.0.0.1:{port}", f"/_aws/execute-api/{doors.rest_api}/prod/x"),
    ):
        answer = _refused_before_read(srv, host, target)
        assert answer.status == 413 and answer.header("Connection") == "close", target
    healthy(srv)


def test_body_encodings(doors: Doors) -> None:
    """Bytes that are not UTF-8 under a JSON type reach the function base64-encoded (text
    would lose them); text under a binary type is base64 for Function URLs and HTTP APIs, and
    text for a REST API without `binaryMediaTypes`."""
    for kind, send in DOORS.items():
        json_type = b"Content-Type: application/json\r\n"
        seen = send(doors, "/x/echo", method="POST", body=b"\xff\xfe{", headers=json_type).json()
        assert (seen["b64"], seen["body"]) == (True, "//57"), kind
        png = b"Content-Type: image/png\r\n"
        seen = send(doors, "/x/echo", method="POST", body=b"hello", headers=png).json()
        expected = (False, "hello") if kind == "rest" else (True, "aGVsbG8=")
        assert (seen["b64"], seen["body"]) == expected, kind


def test_bodies_that_never_arrive(doors: Doors) -> None:
    """A Content-Length longer than what is sent, or a chunked body that stops: 408 after
    the body timeout (2 s here), the function never run. A body longer than its
    Content-Length: the rest is the next request (here malformed: 400). The six stalled
    bodies wait out their timeouts at once, on six connections."""
    srv = doors.server
    doors_targets = (
        (url_host(doors), "/x/echo"),
        (api_host(doors, doors.http_api), "/x/echo"),
        (api_host(doors, doors.rest_api), "/prod/x/echo"),
    )
    stalled = []
    for host, target in doors_targets:
        head = f"POST {target} HTTP/1.1\r\nHost: {host}\r\n"
        stalled.append(head + "Content-Length: 100\r\n\r\nabc")
        stalled.append(head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(stalled)) as pool:
        answers = list(pool.map(lambda text: raw(srv, text.encode()), stalled))
    assert [answer.status for answer in answers] == [408] * len(stalled)
    assert time.monotonic() - started < 10
    for host, target in doors_targets:
        head = f"POST {target} HTTP/1.1\r\nHost: {host}\r\n"
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            text = "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabcdef\r\n\r\n"
            sock.sendall((head + text).encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            first, second = data.split(b"HTTP/1.1 ")[1:]
            assert first.startswith(b"200 ") and b'"body": "abc"' in first
            assert second.startswith(b"400 ")


# -- configurations that HTTP cannot carry as they are -------------------------------------


def test_configured_headers_outside_latin1(doors: Doors) -> None:
    """A CORS configuration or a REST API's mapped or gateway-response header holding `€`
    (the control planes accept any text, as AWS's do) used to kill the connection's answer:
    the HTTP layer could not encode the head and the client waited for ever. The text now
    goes as its UTF-8 bytes; and a head that still cannot be encoded is a 500. A configured
    header with CR/LF, or one that frames the message (`Content-Length`), is dropped."""
    srv = doors.server
    lam, v2, rest = srv.client(), srv.client("apigatewayv2"), srv.client("apigateway")
    euro = "€".encode().decode("latin-1")
    lam.update_function_url_config(
        FunctionName=doors.slow_url_function,
        Cors={"AllowOrigins": ["*"], "AllowHeaders": ["x-é€"], "ExposeHeaders": ["€"],
              "AllowMethods": ["*"]},
    )  # fmt: skip
    preflight = b"Origin: https://a\r\nAccess-Control-Request-Method: GET\r\n"
    slow_host = url_host(doors, doors.slow_url_id)
    answer = request(srv, slow_host, "/x", method="OPTIONS", headers=preflight, timeout=5)
    assert answer.header("Access-Control-Allow-Headers") == "x-é€".encode().decode("latin-1")
    answer = request(srv, slow_host, "/x/echo", headers=b"Origin: https://a\r\n", timeout=5)
    assert (answer.status, answer.header("Access-Control-Expose-Headers")) == (200, euro)

    api = v2.create_api(
        Name="cors€", ProtocolType="HTTP", CorsConfiguration={"AllowOrigins": ["*"],
        "ExposeHeaders": ["€"], "AllowHeaders": ["a\r\nX-Injected: 1"]},
    )  # fmt: skip
    v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    http_host = api_host(doors, api["ApiId"])
    answer = request(srv, http_host, "/x", headers=b"Origin: https://a\r\n", timeout=5)
    assert (answer.status, answer.header("Access-Control-Expose-Headers")) == (404, euro)
    answer = request(srv, http_host, "/x", method="OPTIONS", headers=preflight, timeout=5)
    assert answer.status == 204 and answer.header("X-Injected") is None

    made = rest.create_rest_api(name="mapped€")
    resource = rest.create_resource(
        restApiId=made["id"], parentId=made["rootResourceId"], pathPart="m"
    )
    where = {"restApiId": made["id"], "resourceId": resource["id"], "httpMethod": "GET"}
    rest.put_method(**where, authorizationType="NONE")
    rest.put_integration(
        **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    rest.put_method_response(**where, statusCode="200")
    rest.put_integration_response(
        **where, statusCode="200", selectionPattern="",
        responseParameters={"method.response.header.X-U": "'€'",
                            "method.response.header.X-C": "'a\r\nX-Injected: 1'",
                            "method.response.header.Content-Length": "'99'",
                            "method.response.header.Transfer-Encoding": "'chunked'"},
        responseTemplates={"application/json": "€"},
    )  # fmt: skip
    rest.put_gateway_response(
        restApiId=made["id"], responseType="MISSING_AUTHENTICATION_TOKEN",
        responseParameters={"gatewayresponse.header.X-G": "'€'"},
    )  # fmt: skip
    rest.create_deployment(restApiId=made["id"], stageName="s")
    rest_host = api_host(doors, made["id"])
    answer = request(srv, rest_host, "/s/m", timeout=5)
    assert (answer.status, answer.header("X-U"), answer.body) == (200, euro, "€".encode())
    assert answer.header("X-Injected") is None
    assert answer.header("Content-Length") == "3" and answer.header("Transfer-Encoding") is None
    answer = request(srv, rest_host, "/s/nothing", timeout=5)
    assert (answer.status, answer.header("X-G")) == (403, euro)
    v2.delete_api(ApiId=api["ApiId"])
    rest.delete_rest_api(restApiId=made["id"])
    healthy(srv)


def test_json_nested_too_deep(doors: Doors) -> None:
    """JSON nested 15,000 deep or more is too deep for Python's parser (RecursionError, which is no
    ValueError): a JWT made of it used to escape the authorizer as a Fireside bug (500 and a
    traceback); it is an invalid token, 401 `{"message":"Unauthorized"}`, as AWS answers one.
    Under a REST API's mapping template it is a body that is not JSON (`$input.json` null),
    not an error."""
    srv = doors.server
    v2, rest = srv.client("apigatewayv2"), srv.client("apigateway")
    api_id = v2.create_api(Name="jwt", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri=v2.get_integrations(ApiId=doors.http_api)["Items"][0]["IntegrationUri"],
    )["IntegrationId"]  # fmt: skip
    authorizer = v2.create_authorizer(
        ApiId=api_id, AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        Name="jwt", JwtConfiguration={"Issuer": "https://issuer.invalid", "Audience": ["a"]},
    )["AuthorizerId"]  # fmt: skip
    v2.create_route(
        ApiId=api_id, RouteKey="GET /me", Target=f"integrations/{integration}",
        AuthorizationType="JWT", AuthorizerId=authorizer,
    )  # fmt: skip
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    deep = base64.urlsafe_b64encode(b"[" * 15000).rstrip(b"=")
    token = b"Authorization: Bearer " + deep + b"." + deep + b".c2ln\r\n"
    answer = request(srv, api_host(doors, api_id), "/me", headers=token)
    assert (answer.status, answer.body) == (401, b'{"message":"Unauthorized"}')

    made = rest.create_rest_api(name="deep")
    resource = rest.create_resource(
        restApiId=made["id"], parentId=made["rootResourceId"], pathPart="m"
    )
    where = {"restApiId": made["id"], "resourceId": resource["id"], "httpMethod": "POST"}
    rest.put_method(**where, authorizationType="NONE")
    fields = ", ".join(f"\"f{i}\": $input.json('$.a')" for i in range(40))
    rest.put_integration(
        **where,
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200, ' + fields + "}"},
    )
    rest.put_method_response(**where, statusCode="200")
    rest.put_integration_response(
        **where, statusCode="200", selectionPattern="",
        responseTemplates={"application/json": '{"ok": true}'},
    )  # fmt: skip
    rest.create_deployment(restApiId=made["id"], stageName="s")
    host = api_host(doors, made["id"])
    json_type = b"Content-Type: application/json\r\n"
    answer = request(srv, host, "/s/m", method="POST", body=b"[" * 50000, headers=json_type)
    assert (answer.status, answer.json()) == (200, {"ok": True})
    # 40 references to a 7 MB body: read once (it was parsed 40 times, 6 s during which the
    # server answered nobody; 0.2 s now).
    body = json.dumps({"a": 1, "pad": [{"k": i} for i in range(500_000)]}).encode()
    started = time.monotonic()
    answer = request(srv, host, "/s/m", method="POST", body=body, headers=json_type)
    assert (answer.status, answer.json()) == (200, {"ok": True})
    assert time.monotonic() - started < 2
    v2.delete_api(ApiId=api_id)
    rest.delete_rest_api(restApiId=made["id"])


# -- clients that go away, and many at once -------------------------------------------------


def test_clients_that_disconnect(doors: Doors) -> None:
    """A client gone mid-request (before its body ends) or mid-response (while a function
    runs, or while a 6 MB answer is written) costs the server nothing lasting."""
    srv = doors.server
    for host, prefix in (
        (url_host(doors), ""),
        (api_host(doors, doors.http_api), ""),
        (api_host(doors, doors.rest_api), "/prod"),
    ):
        for data in (
            f"GET {prefix}/x/sleep HTTP/1.1\r\nHost: {host}\r\n\r\n",
            f"POST {prefix}/x/echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\nab",
            f"GET {prefix}/x/manyheaders HTTP/1.1\r\nHost: {host}\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.sendall(data.encode())
                time.sleep(0.05)
        assert request(srv, host, prefix + "/x/echo").status == 200
    healthy(srv)


def test_many_requests_to_a_slow_function(doors: Doors) -> None:
    """60 concurrent requests to a function with 2 reserved environments that sleeps 2 s:
    the excess is refused at once, nothing queues behind the two (a Function URL 429
    `{"Message":"Rate Exceeded."}`, the Lambda guide's "Throttling function URLs"; API
    Gateway 500, "the backend service is throttled" in AWS's troubleshooting of 500s); then
    the server answers a normal request and its health at once."""
    srv = doors.server
    targets = [
        (url_host(doors, doors.slow_url_id), "/x/sleep"),
        (api_host(doors, doors.http_api), "/slow/sleep"),
        (api_host(doors, doors.rest_api), "/prod/slow/sleep"),
    ]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(60) as pool:
        futures = [
            pool.submit(request, srv, host, target, timeout=30)
            for host, target in targets
            for _ in range(20)
        ]
        answers = [f.result() for f in futures]
    assert time.monotonic() - started < 15
    statuses = [a.status for a in answers]
    assert 1 <= statuses.count(200) <= 12  # two at a time, 2 s each
    refused = [a for a in answers if a.status != 200]
    assert {(a.status, a.body) for a in refused} <= {
        (429, b'{"Message":"Rate Exceeded."}'),
        (500, b'{"message":"Internal Server Error"}'),
        (500, b'{"message":"Internal server error"}'),
    }
    started = time.monotonic()
    assert to_url(doors, "/x/echo").status == 200
    assert time.monotonic() - started < 2
    healthy(srv)


def test_abandoned_requests_free_their_concurrency(doors: Doors) -> None:
    """Clients that hang up while the slow function (2 reserved environments) runs for them:
    once it is done, both environments serve again (a leaked count would throttle the
    function for ever). (Already right.)"""
    srv = doors.server
    targets = [
        (url_host(doors, doors.slow_url_id), "/x/sleep"),
        (api_host(doors, doors.http_api), "/slow/sleep"),
        (api_host(doors, doors.rest_api), "/prod/slow/sleep"),
    ]
    sockets = []
    for host, target in targets:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            sockets.append(sock)
    time.sleep(0.3)
    for sock in sockets:
        sock.close()
    time.sleep(2.5)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [
            pool.submit(request, srv, host, target, timeout=20) for host, target in targets[:1] * 2
        ]
        assert [f.result().body for f in futures] == [b"slept", b"slept"]


def test_zz_stored_configurations_unchanged(doors: Doors) -> None:
    """After everything above (run first: pytest keeps the file's order), GetFunctionUrlConfig,
    GetApi and GetRestApi (and routes, integrations, stages, resources) say what they did."""
    assert _configs(doors.server, doors) == doors.before
    for send in (to_url, to_http, to_rest):
        assert send(doors, "/x/echo").status == 200
    healthy(doors.server)
