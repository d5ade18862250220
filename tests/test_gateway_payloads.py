"""The front doors' shared core, in process: payload format 1.0 and 2.0 events built from a
request, and the response rules that turn a function's answer into HTTP, checked against the
examples in AWS's guides and LocalStack's AWS-validated Function URL snapshots."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.gateway import payload_v1, payload_v2
from fireside.gateway.cors import CorsRules
from fireside.gateway.integration import (
    ApiGatewaySource,
    Failure,
    FunctionCaller,
    FunctionRef,
    FunctionUrlSource,
    IntegrationFailure,
    own_account_only,
    resource_policy,
)
from fireside.gateway.request_parts import is_text, query_pairs, request_time
from fireside.http.types import Request, Response

NOW = 1583348638.390  # AWS's example: 04/Mar/2020:19:03:58 +0000, 1583348638390


def docs_request(body: bytes = b"Hello from client!", content_type: str = "text/plain") -> Request:
    """The request behind the Lambda guide's Function URL event example."""
    return Request(
        "POST",
        "/my/path",
        "parameter1=value1&parameter1=value2&parameter2=value",
        {
            "host": "abcdefg.lambda-url.us-west-2.localhost:4566",
            "header1": "value1",
            "header2": "value1,value2",
            "cookie": "cookie1; cookie2",
            "user-agent": "agent",
            "content-type": content_type,
        },
        body,
        ("123.123.123.123", 50000),
    )


def v2_event(request: Request, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "path": request.path,
        "api_id": "abcdefg",
        "account_id": "123456789012",
        "domain_name": "abcdefg.lambda-url.us-west-2.localhost:4566",
        "request_id": "id",
        "now": NOW,
        "trace_id": "Root=1-5e5f9a1e-0123456789abcdef01234567",
    }
    arguments.update(overrides)
    return payload_v2.build_event(request, **arguments)


def test_v2_event_matches_the_guides_example() -> None:
    event = v2_event(docs_request())
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert event["cookies"] == ["cookie1", "cookie2"]
    headers = event["headers"]
    assert headers["header1"] == "value1"
    assert headers["header2"] == "value1,value2"
    assert "cookie" not in headers
    assert headers["x-forwarded-for"] == "123.123.123.123"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == "4566"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event["body"] == "Hello from client!"
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event and "stageVariables" not in event
    context = event["requestContext"]
    assert context == {
        "accountId": "123456789012",
        "apiId": "abcdefg",
        "domainName": "abcdefg.lambda-url.us-west-2.localhost:4566",
        "domainPrefix": "abcdefg",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "123.123.123.123",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }
    json.dumps(event)  # what is sent to the function


def test_v2_event_for_an_http_api_route() -> None:
    event = v2_event(
        docs_request(),
        route_key="POST /my/{thing}",
        stage="prod",
        path_parameters={"thing": "path"},
        stage_variables={"stageVariable1": "value1"},
        authorizer={"jwt": {"claims": {"claim1": "value1"}, "scopes": ["scope1"]}},
    )
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /my/{thing}"
    assert event["requestContext"]["stage"] == "prod"
    assert event["pathParameters"] == {"thing": "path"}
    assert event["stageVariables"] == {"stageVariable1": "value1"}
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["scope1"]


def test_v2_event_without_query_cookies_or_body_leaves_them_out() -> None:
    event = v2_event(Request("GET", "/", "", {"host": "h"}, b"", None))
    for missing in ("cookies", "queryStringParameters", "body", "pathParameters"):
        assert missing not in event
    assert event["isBase64Encoded"] is False
    assert event["rawQueryString"] == ""


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/plain", True),
        ("text/html; charset=utf-8", True),
        ("application/json", True),
        ("application/ld+json", True),
        ("application/xml", True),
        ("image/svg+xml", True),
        ("application/javascript", True),
        ("application/octet-stream", False),
        ("image/png", False),
        ("multipart/form-data; boundary=x", False),
        ("application/x-www-form-urlencoded", False),
        (None, False),
    ],
)
def test_text_content_types(content_type: str | None, text: bool) -> None:
    assert is_text(content_type) is text


def test_binary_bodies_travel_as_base64() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    event = v2_event(docs_request(png, "image/png"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    # Text by content type but not UTF-8: base64 too.
    event = v2_event(docs_request(b"\xff\xfe", "text/plain"))
    assert event["isBase64Encoded"] is True


def test_query_parameters_are_decoded() -> None:
    assert query_pairs("q=a+b&x=%2Fbar&flag&=v") == [
        ("q", "a b"),
        ("x", "/bar"),
        ("flag", ""),
        ("", "v"),
    ]
    event = v2_event(Request("GET", "/", "multiQuery=foo&multiQuery=%2Fbar&q=query", {}, b""))
    assert event["queryStringParameters"] == {"multiQuery": "foo,/bar", "q": "query"}


def test_request_time_format() -> None:
    assert request_time(1584040038.0) == "12/Mar/2020:19:07:18 +0000"


# -- 2.0 responses ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "body"),
    [
        # LocalStack's AWS-validated test_lambda_url_invocation[...] (November 2025).
        (b'{"hello": "world"}', b'{"hello":"world"}'),
        (b'["hello", 3, true]', b'["hello",3,true]'),
        ('{"caf\u00e9": 1}'.encode(), '{"café":1}'.encode()),
        (b'"hello"', b"hello"),
        (b"3", b"3"),
        (b"3.1", b"3.1"),
        (b"true", b"true"),
        (b"null", b"null"),
    ],
)
def test_v2_inferred_responses(answer: bytes, body: bytes) -> None:
    response = payload_v2.interpret(answer)
    assert response.status == 200
    assert response.headers == [("Content-Type", "application/json")]
    assert response.body == body


def test_v2_structured_response_from_the_guide() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
        "body": '{ "message": "Hello, world!" }',
        "cookies": [
            "Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT",
            "Cookie_2=Value2; Max-Age=78000",
        ],
        "isBase64Encoded": False,
    }
    response = payload_v2.interpret(json.dumps(answer).encode())
    assert response.status == 201
    assert response.body == b'{ "message": "Hello, world!" }'
    assert ("My-Custom-Header", "Custom Value") in response.headers
    assert [v for k, v in response.headers if k == "Set-Cookie"] == answer["cookies"]


def test_framing_headers_are_the_front_doors() -> None:
    answer = {
        "statusCode": 200,
        "headers": {
            "Content-Length": "1",
            "Transfer-Encoding": "chunked",
            "Connection": "close",
            "X-Name": "caf\u00e9",
        },
        "body": "hello",
    }
    for interpret in (payload_v2.interpret, payload_v1.interpret):
        response = interpret(json.dumps(answer).encode())
        names = [name.lower() for name, _ in response.headers]
        assert "content-length" not in names and "transfer-encoding" not in names
        assert "connection" not in names
        assert ("X-Name", "café".encode().decode("latin-1")) in response.headers


def test_v2_structured_details() -> None:
    teapot = payload_v2.interpret(b'{"statusCode": "418", "body": "i\'m a teapot"}')
    assert (teapot.status, teapot.body) == (418, b"i'm a teapot")
    assert ("Content-Type", "application/json") in teapot.headers  # the default
    binary = payload_v2.interpret(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"content-type": "image/png", "x-n": 3, "x-b": True},
                "body": base64.b64encode(b"\x00\x01").decode(),
                "isBase64Encoded": True,
            }
        ).encode()
    )
    assert binary.body == b"\x00\x01"
    assert binary.headers == [("content-type", "image/png"), ("x-n", "3"), ("x-b", "true")]
    ignored = payload_v2.interpret(b'{"statusCode": 204, "multiValueHeaders": {"a": ["1"]}}')
    assert (ignored.status, ignored.body) == (204, b"")
    assert not [k for k, _ in ignored.headers if k == "a"]


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b'{"statusCode": "abc"}',
        b'{"statusCode": 700}',
        b'{"statusCode": true}',
        b'{"statusCode": 200, "headers": ["a"]}',
        b'{"statusCode": 200, "headers": {"a": {"b": 1}}}',
        b'{"statusCode": 200, "body": {"a": 1}}',
        b'{"statusCode": 200, "cookies": "a=b"}',
        b'{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}',
        b'{"statusCode": 200, "headers": {"X-A": "v\\r\\nSet-Cookie: evil=1"}}',
        b'{"statusCode": 200, "headers": {"X A": "v"}}',
        b'{"statusCode": 200, "cookies": ["a=1\\r\\nX-Evil: 1"]}',
    ],
)
def test_v2_malformed_responses(answer: bytes) -> None:
    with pytest.raises(payload_v2.MalformedResponse):
        payload_v2.interpret(answer)


# -- 1.0 -------------------------------------------------------------------------------------
def test_v1_event_matches_the_guides_example() -> None:
    request = Request(
        "GET",
        "/prod/my/path",
        "parameter1=value1&parameter1=value2&parameter2=value",
        {"host": "id.execute-api.localhost:4566", "header1": "value1", "user-agent": "ua"},
        b"",
        ("10.0.0.1", 1),
    )
    event = payload_v1.build_event(
        request,
        path="/my/path",
        resource="/my/{proxy+}",
        api_id="id",
        account_id="123456789012",
        domain_name="id.execute-api.localhost:4566",
        stage="prod",
        request_id="rid",
        now=NOW,
        trace_id="Root=1-x",
        resource_id="abc123",
        path_parameters={"proxy": "path"},
    )
    assert "version" not in event
    assert event["resource"] == "/my/{proxy+}"
    assert event["path"] == "/my/path"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["header1"] == "value1"
    assert event["multiValueHeaders"]["header1"] == ["value1"]
    assert event["queryStringParameters"] == {"parameter1": "value2", "parameter2": "value"}
    assert event["multiValueQueryStringParameters"] == {
        "parameter1": ["value1", "value2"],
        "parameter2": ["value"],
    }
    assert event["pathParameters"] == {"proxy": "path"}
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["path"] == "/prod/my/path"
    assert context["resourcePath"] == "/my/{proxy+}"
    assert context["resourceId"] == "abc123"
    assert context["stage"] == "prod"
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert context["requestTimeEpoch"] == 1583348638390
    assert context["identity"]["sourceIp"] == "10.0.0.1"
    assert context["identity"]["userAgent"] == "ua"
    assert context["identity"]["accountId"] is None
    assert context["domainPrefix"] == "id"
    empty = payload_v1.build_event(
        Request("POST", "/", "", {}, b"\x00", None),
        path="/",
        resource="/",
        api_id="id",
        account_id="1",
        domain_name="d",
        stage="$default",
        request_id="r",
        now=NOW,
        trace_id="t",
        binary=True,
        version="1.0",
    )
    assert empty["version"] == "1.0"
    assert empty["queryStringParameters"] is None
    assert empty["multiValueQueryStringParameters"] is None
    assert (empty["body"], empty["isBase64Encoded"]) == ("AA==", True)


def test_v1_binary_media_types() -> None:
    assert payload_v1.is_binary("image/png", ["image/*"])
    assert payload_v1.is_binary("application/octet-stream", ["*/*"])
    assert not payload_v1.is_binary("text/plain", ["image/*"])
    assert not payload_v1.is_binary("image/png", [])


def test_v1_responses() -> None:
    response = payload_v1.interpret(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"X-One": "1", "Set-Cookie": "a=1"},
                "multiValueHeaders": {"Set-Cookie": ["b=2", "c=3"], "X-Two": ["2", "3"]},
                "body": "hi",
            }
        ).encode()
    )
    assert response.status == 200
    assert response.body == b"hi"
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["b=2", "c=3", "a=1"]
    assert [v for k, v in response.headers if k == "X-Two"] == ["2", "3"]
    assert ("X-One", "1") in response.headers


@pytest.mark.parametrize(
    "answer",
    [b'{"hello": "world"}', b'"hello"', b"3", b"nope", b'{"statusCode": 200, "body": 5}'],
)
def test_v1_malformed_responses(answer: bytes) -> None:
    with pytest.raises(payload_v1.MalformedResponse):
        payload_v1.interpret(answer)


# -- integration -----------------------------------------------------------------------------
def test_function_refs() -> None:
    arn = "arn:aws:lambda:eu-west-1:111111111111:function:fn:live"
    assert FunctionRef.parse(arn, "000000000000", "us-east-1") == FunctionRef(
        "111111111111", "eu-west-1", "fn", "live"
    )
    assert FunctionRef.parse("fn", "000000000000", "us-east-1").arn == (
        "arn:aws:lambda:us-east-1:000000000000:function:fn"
    )
    assert FunctionRef.parse("fn:2", "0", "r").qualifier == "2"


def test_own_account_only() -> None:
    fn = FunctionRef("111111111111", "us-east-1", "fn")
    assert own_account_only(fn, ApiGatewaySource("arn:aws:execute-api:...", "111111111111"))
    assert not own_account_only(fn, ApiGatewaySource("arn:aws:execute-api:...", "222222222222"))
    assert own_account_only(fn, FunctionUrlSource("NONE"))
    assert own_account_only(fn, FunctionUrlSource("AWS_IAM", "111111111111"))
    assert not own_account_only(fn, FunctionUrlSource("AWS_IAM", "222222222222"))


class _FakeInvoker:
    def __init__(self, error: ServiceError | None = None, delay: float = 0.0) -> None:
        self.error = error
        self.delay = delay

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error

        class Config:
            version = "$LATEST"

        class Outcome:
            payload = b'"ok"'
            function_error = None

        return Config(), Outcome()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ServiceError("TooManyRequestsException", "Rate Exceeded.", 429), Failure.THROTTLED),
        (ServiceError("ResourceNotFoundException", "Function not found", 404), Failure.NOT_FOUND),
        (ServiceError("ResourceConflictException", "Pending", 409), Failure.NOT_READY),
    ],
)
def test_caller_failures(error: ServiceError, reason: Failure) -> None:
    caller = FunctionCaller(_FakeInvoker(error))  # type: ignore[arg-type]
    with pytest.raises(IntegrationFailure) as failure:
        asyncio.run(
            caller.call(
                FunctionRef("0", "r", "fn"),
                b"{}",
                FunctionUrlSource("NONE"),
                request_id="r",
                trace_id="t",
            )
        )
    assert failure.value.reason is reason


def test_caller_limits_permission_and_timeout() -> None:
    def call(caller: FunctionCaller, event: bytes = b"{}", **kwargs: Any) -> Any:
        return asyncio.run(
            caller.call(
                FunctionRef("0", "r", "fn"),
                event,
                ApiGatewaySource("arn", "9"),
                request_id="r",
                trace_id="t",
                **kwargs,
            )
        )

    allow_all = FunctionCaller(_FakeInvoker(), lambda fn, source: True)  # type: ignore[arg-type]
    assert call(allow_all).payload == b'"ok"'
    with pytest.raises(IntegrationFailure) as failure:
        call(allow_all, b"x" * (6 * 1024 * 1024 + 1))
    assert failure.value.reason is Failure.TOO_LARGE
    with pytest.raises(IntegrationFailure) as failure:
        call(FunctionCaller(_FakeInvoker()))  # type: ignore[arg-type]
    assert failure.value.reason is Failure.NOT_PERMITTED
    slow = FunctionCaller(_FakeInvoker(delay=0.5), lambda fn, source: True)  # type: ignore[arg-type]
    with pytest.raises(IntegrationFailure) as failure:
        call(slow, timeout=0.05)
    assert failure.value.reason is Failure.TIMED_OUT


def test_resource_policy_asks_the_policies_the_right_question() -> None:
    asked: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    class Policies:
        def allows_api_gateway(self, *args: Any, **kwargs: Any) -> bool:
            asked.append(("api", args, kwargs))
            return True

        def allows_function_url(self, *args: Any, **kwargs: Any) -> bool:
            asked.append(("url", args, kwargs))
            return False

    authorize = resource_policy(Policies())  # type: ignore[arg-type]
    fn = FunctionRef("111111111111", "us-east-1", "fn", "live")
    arn = "arn:aws:execute-api:us-east-1:111111111111:api1/prod/GET/items"
    assert authorize(fn, ApiGatewaySource(arn, "111111111111"))
    assert not authorize(fn, FunctionUrlSource("AWS_IAM", "222222222222"))
    assert asked == [
        (
            "api",
            ("111111111111", "us-east-1", "fn", "live"),
            {"source_arn": arn, "source_account": "111111111111"},
        ),
        (
            "url",
            ("111111111111", "us-east-1", "fn", "live"),
            {"auth_type": "AWS_IAM", "caller_account": "222222222222"},
        ),
    ]


# -- CORS ------------------------------------------------------------------------------------
def preflight(origin: str, method: str = "GET", headers: str = "") -> Request:
    asked = {"access-control-request-headers": headers} if headers else {}
    return Request(
        "OPTIONS",
        "/",
        "",
        {"origin": origin, "access-control-request-method": method, **asked},
    )


def test_cors_wildcards() -> None:
    rules = CorsRules.from_config(
        {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"], "MaxAge": 0}
    )
    assert CorsRules.is_preflight(preflight("https://a"))
    assert not CorsRules.is_preflight(Request("OPTIONS", "/", "", {"origin": "https://a"}))
    answer = dict(rules.preflight(preflight("https://a", "DELETE", "X-Anything")).headers)
    assert answer == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "*",
        "Access-Control-Allow-Headers": "*",
        "Access-Control-Max-Age": "0",
    }


def test_cors_credentials_name_the_origin() -> None:
    rules = CorsRules.from_config(
        {"AllowOrigins": ["*"], "AllowMethods": ["GET"], "AllowCredentials": True}
    )
    answer = dict(rules.preflight(preflight("https://a")).headers)
    assert answer["Access-Control-Allow-Origin"] == "https://a"
    assert answer["Vary"] == "Origin"
    assert answer["Access-Control-Allow-Credentials"] == "true"


def test_cors_refusals_carry_no_cors_headers() -> None:
    rules = CorsRules.from_config(
        {
            "AllowOrigins": ["https://app.example/"],
            "AllowMethods": ["get", "POST"],
            "AllowHeaders": ["X-Token"],
        }
    )
    assert rules.preflight(preflight("https://APP.example", "get", "x-token")).headers
    for refused in (
        preflight("https://other.example"),
        preflight("https://app.example", "PUT"),
        preflight("https://app.example", "GET", "x-token, x-other"),
    ):
        assert rules.preflight(refused).headers == []


def test_cors_on_responses() -> None:
    rules = CorsRules.from_config(
        {"AllowOrigins": ["https://a"], "ExposeHeaders": ["X-Id", "X-Other"]}
    )
    response = Response(200, [("X-Id", "1"), ("Access-Control-Allow-Origin", "*")], b"ok")
    allowed = rules.apply(Request("GET", "/", "", {"origin": "https://a"}), response)
    assert allowed.headers == [
        ("X-Id", "1"),
        ("Access-Control-Allow-Origin", "https://a"),
        ("Vary", "Origin"),
        ("Access-Control-Expose-Headers", "X-Id,X-Other"),
    ]
    other = rules.apply(Request("GET", "/", "", {"origin": "https://b"}), response)
    assert other.headers == [("X-Id", "1")]
    no_origin = rules.apply(Request("GET", "/", "", {}), response)
    assert no_origin.headers == [("X-Id", "1")] and no_origin.body == b"ok"
