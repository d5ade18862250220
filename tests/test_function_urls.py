"""Function URLs against a live server: the configuration operations with boto3, and requests
over real sockets to the URL by host (`<url-id>.lambda-url.<region>.localhost:<port>`) and by
path (`/_aws/lambda-url/<url-id>/...`), with AWS's expectations where they were recorded
(LocalStack's AWS-validated TestLambdaURL / TestLambdaUrl snapshots)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ROLE, FunctionFactory, Server, python_zip

#: A function whose behaviour the request picks by path: the event itself, the JSON the
#: client sent as the function's own answer, an error, a binary body, cookies.
HANDLER = """
import base64, json

def handler(event, context):
    path = event["rawPath"]
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("latin-1")
    if path.endswith("/raw"):
        return json.loads(body)
    if path.endswith("/error"):
        raise RuntimeError("boom")
    if path.endswith("/big"):
        return {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 1)}
    if path.endswith("/sleep"):
        import time
        time.sleep(5)
    if path.endswith("/binary"):
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    if path.endswith("/cookies"):
        return {"statusCode": 201, "cookies": ["a=1; Max-Age=60", "b=2"], "body": "set",
                "headers": {"X-Custom": "yes", "Access-Control-Allow-Origin": "https://evil"}}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""


def send(
    server: Server,
    url: str,
    method: str = "GET",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    by_path: bool = False,
) -> tuple[int, dict[str, list[str]], bytes]:
    """One request to a Function URL over a real socket (Host set by hand: `*.localhost`
    names need not resolve on the test host)."""
    parts = urlsplit(url)
    host = parts.netloc
    url_id = host.split(".", 1)[0]
    target = f"/_aws/lambda-url/{url_id}{path}" if by_path else path
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        all_headers = {"Host": f"127.0.0.1:{server.port}" if by_path else host, **(headers or {})}
        connection.request(method, target, body=body, headers=all_headers)
        response = connection.getresponse()
        got: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            got.setdefault(name.lower(), []).append(value)
        return response.status, got, response.read()
    finally:
        connection.close()


def grant(
    lam: Any, name: str, principal: str = "*", auth_type: str = "NONE", **qualifier: str
) -> None:
    """What AWS requires of a Function URL's resource policy (since October 2025): both
    `lambda:InvokeFunctionUrl` for the URL's auth type and `lambda:InvokeFunction` via a
    Function URL."""
    lam.add_permission(
        FunctionName=name,
        StatementId=f"url-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunctionUrl",
        Principal=principal,
        FunctionUrlAuthType=auth_type,
        **qualifier,
    )
    lam.add_permission(
        FunctionName=name,
        StatementId=f"invoke-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal=principal,
        InvokedViaFunctionUrl=True,
        **qualifier,
    )


def public_url(lam: Any, name: str, **config: Any) -> str:
    """A NONE URL for `name`, open to anyone (`grant`)."""
    url: str = lam.create_function_url_config(FunctionName=name, AuthType="NONE", **config)[
        "FunctionUrl"
    ]
    grant(lam, name, **({"Qualifier": config["Qualifier"]} if "Qualifier" in config else {}))
    return url


@pytest.fixture()
def url_function(lam: Any, make_function: FunctionFactory) -> tuple[str, str]:
    name = make_function(HANDLER)
    return name, public_url(lam, name)


# -- the control plane -----------------------------------------------------------------------
def test_url_config_lifecycle(lam: Any, make_function: FunctionFactory, server: Server) -> None:
    name = make_function(HANDLER)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    assert re.fullmatch(
        rf"http://[a-z0-9]{{32}}\.lambda-url\.us-east-1\.localhost:{server.port}/", url
    )
    assert created["FunctionArn"].endswith(f":function:{name}")
    assert created["AuthType"] == "NONE"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created["CreationTime"])
    assert "InvokeMode" not in created and "LastModifiedTime" not in created

    with pytest.raises(lam.exceptions.ResourceConflictException) as conflict:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert conflict.value.response["Error"]["Message"] == (
        f"Failed to create function url config for [functionArn = {created['FunctionArn']}]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function"
    )

    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == url
    assert got["InvokeMode"] == "BUFFERED"
    assert "LastModifiedTime" in got

    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and "InvokeMode" not in updated
    assert updated["FunctionUrl"] == url and "LastModifiedTime" in updated
    streamed = lam.update_function_url_config(
        FunctionName=name,
        InvokeMode="RESPONSE_STREAM",
        Cors={"AllowOrigins": ["https://example.com"], "MaxAge": 60},
    )
    assert streamed["InvokeMode"] == "RESPONSE_STREAM"
    assert streamed["Cors"] == {"AllowOrigins": ["https://example.com"], "MaxAge": 60}
    assert lam.update_function_url_config(FunctionName=name)["InvokeMode"] == "RESPONSE_STREAM"

    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]

    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.get_function_url_config(FunctionName=name)
    assert missing.value.response["Error"]["Message"] == (
        "The resource you requested does not exist."
    )


def test_url_config_errors(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(HANDLER, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    def error(call: Any, **kwargs: Any) -> tuple[str, str]:
        with pytest.raises(lam.exceptions.ClientError) as caught:
            call(**kwargs)
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    create = lam.create_function_url_config
    no_function = ("ResourceNotFoundException", "Function does not exist")
    no_resource = ("ResourceNotFoundException", "The resource you requested does not exist.")
    assert error(create, FunctionName="nope", AuthType="NONE") == no_function
    assert error(create, FunctionName=name, Qualifier="other", AuthType="NONE") == no_function
    for qualifier in ("1", "$LATEST"):
        code, message = error(create, FunctionName=name, Qualifier=qualifier, AuthType="NONE")
        assert code == "ValidationException"
        assert message == (
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
        )
    assert error(create, FunctionName=f"{name}:other", Qualifier="live", AuthType="NONE") == (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )
    code, message = error(create, FunctionName=name, AuthType="NONE", InvokeMode="UNKNOWN")
    assert code == "ValidationException" and "invokeMode" in message
    assert error(lam.get_function_url_config, FunctionName="nope") == no_resource
    assert error(lam.get_function_url_config, FunctionName=name) == no_resource
    assert error(lam.delete_function_url_config, FunctionName=name) == no_resource
    assert error(lam.update_function_url_config, FunctionName="nope") == no_function
    assert error(lam.update_function_url_config, FunctionName=name) == no_resource
    assert error(lam.list_function_url_configs, FunctionName="nope") == no_function


def test_alias_urls_paging_and_deletion(
    lam: Any, server: Server, make_function: FunctionFactory
) -> None:
    name = make_function(HANDLER, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    own = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    aliased = lam.create_function_url_config(
        FunctionName=f"{name}:live", Qualifier="live", AuthType="NONE"
    )
    grant(lam, name, Qualifier="live")
    assert aliased["FunctionArn"].endswith(f":{name}:live")
    assert aliased["FunctionUrl"] != own["FunctionUrl"]
    first = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
    second = lam.list_function_url_configs(
        FunctionName=name, MaxItems=1, Marker=first["NextMarker"]
    )
    assert "NextMarker" not in second
    arns = [c["FunctionArn"] for c in first["FunctionUrlConfigs"] + second["FunctionUrlConfigs"]]
    assert sorted(arns) == sorted([own["FunctionArn"], aliased["FunctionArn"]])

    # The alias's URL goes with the alias (and answers 403, as AWS's does after deletion).
    assert send(server, aliased["FunctionUrl"])[0] == 200
    lam.delete_alias(FunctionName=name, Name="live")
    status, _, body = send(server, aliased["FunctionUrl"])
    assert (status, json.loads(body)) == (403, {"Message": None})
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name, Qualifier="live")
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == own["FunctionUrl"]
    lam.delete_function(FunctionName=name)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(HANDLER)},
    )
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


# -- the data plane --------------------------------------------------------------------------
@pytest.mark.parametrize("by_path", [False, True], ids=["host", "path"])
def test_event_reaches_the_function(
    server: Server, url_function: tuple[str, str], by_path: bool
) -> None:
    _, url = url_function
    status, headers, body = send(
        server,
        url,
        "POST",
        "/some/path%20x?a=1&a=2&b=x%2Fy",
        b'{"hello": "world"}',
        {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "User-Agent": "ua/1"},
        by_path=by_path,
    )
    assert status == 200, body
    assert headers["content-type"] == ["application/json"]
    assert headers["x-amzn-requestid"]
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path%20x"
    assert event["rawQueryString"] == "a=1&a=2&b=x%2Fy"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x/y"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["user-agent"] == "ua/1"
    assert "cookie" not in event["headers"]
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    url_id = urlsplit(url).netloc.split(".", 1)[0]
    assert context["accountId"] == "anonymous"
    assert context["apiId"] == url_id
    assert context["routeKey"] == context["stage"] == "$default"
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/some/path%20x"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == headers["x-amzn-requestid"][0]
    expected_host = f"127.0.0.1:{server.port}" if by_path else urlsplit(url).netloc
    assert context["domainName"] == expected_host
    assert "authorizer" not in context


def test_odd_requests_are_served(server: Server, url_function: tuple[str, str]) -> None:
    """Bad escapes, bytes that are not UTF-8, an empty query key: the event carries what it
    can (decoded with replacement characters) and the server keeps serving."""
    _, url = url_function
    status, _, body = send(
        server,
        url,
        "GET",
        "/%FF/x?a=%ZZ&%E9=1&=v&flag",
        headers={"X-Latin": "caf\xe9"},
    )
    assert status == 200, body
    event = json.loads(body)
    assert event["rawPath"] == "/%FF/x"
    assert event["queryStringParameters"] == {"a": "%ZZ", "\ufffd": "1", "": "v", "flag": ""}
    assert event["headers"]["x-latin"] == "caf\xe9"
    assert send(server, url, path="/echo")[0] == 200


def test_binary_request_and_response(server: Server, url_function: tuple[str, str]) -> None:
    _, url = url_function
    status, _, body = send(
        server,
        url,
        "POST",
        "/echo",
        bytes(range(256)),
        {"Content-Type": "application/octet-stream"},
    )
    event = json.loads(body)
    assert status == 200
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == bytes(range(256))
    status, headers, body = send(server, url, path="/binary")
    assert status == 200
    assert headers["content-type"] == ["image/png"]
    assert body == bytes(range(256))


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        # AWS's answers (LocalStack's AWS-validated test_lambda_url_invocation[...]).
        ({"hello": "world"}, 200, b'{"hello":"world"}'),
        ("hello", 200, b"hello"),
        (3, 200, b"3"),
        (3.1, 200, b"3.1"),
        (True, 200, b"true"),
        (["hello", 3, True], 200, b'["hello",3,true]'),
        ({"statusCode": "418", "body": "i'm a teapot"}, 418, b"i'm a teapot"),
        ({"statusCode": 204}, 204, b""),
        ({"statusCode": "abc", "body": "x"}, 502, b"Internal Server Error"),
        ({"statusCode": 200, "body": {"nested": 1}}, 502, b"Internal Server Error"),
        # The function cannot frame the message, nor smuggle in headers.
        ({"statusCode": 200, "headers": {"Content-Length": "1"}, "body": "hello"}, 200, b"hello"),
        ({"statusCode": 200, "headers": {"X": "a\r\nX-Evil: 1"}}, 502, b"Internal Server Error"),
    ],
)
def test_response_rules(
    server: Server, url_function: tuple[str, str], answer: Any, status: int, body: bytes
) -> None:
    _, url = url_function
    got_status, headers, got_body = send(
        server, url, "POST", "/raw", json.dumps(answer).encode(), {"Content-Type": "text/plain"}
    )
    assert got_status == status, got_body
    assert got_body == body
    if status == 200:
        assert headers["content-type"] == ["application/json"]


def test_cookies_and_headers(server: Server, url_function: tuple[str, str]) -> None:
    _, url = url_function
    status, headers, body = send(server, url, path="/cookies")
    assert (status, body) == (201, b"set")
    assert headers["set-cookie"] == ["a=1; Max-Age=60", "b=2"]
    assert headers["x-custom"] == ["yes"]


def test_function_errors_are_502(server: Server, url_function: tuple[str, str]) -> None:
    _, url = url_function
    status, _, body = send(server, url, "POST", "/error", b"{}")
    assert (status, body) == (502, b"Internal Server Error")
    # A response over Lambda's 6 MB is the function's error too.
    status, _, body = send(server, url, path="/big")
    assert (status, body) == (502, b"Internal Server Error")


def test_timeouts_are_502(lam: Any, server: Server, make_function: FunctionFactory) -> None:
    name = make_function(HANDLER, Timeout=1)
    url = public_url(lam, name)
    status, _, body = send(server, url, path="/sleep")
    assert (status, body) == (502, b"Internal Server Error")


def test_aws_iam_without_configured_credentials(
    lam: Any, server: Server, make_function: FunctionFactory
) -> None:
    """A server without credentials checks that a request is signed for `lambda`, and by
    the function's own account or one its resource policy grants."""
    name = make_function(HANDLER)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    assert send(server, url, path="/echo")[0] == 403
    status, _, body = send(server, url, path="/echo", headers=signed(url, "GET", "/echo", "k", "s"))
    assert status == 200
    assert json.loads(body)["requestContext"]["accountId"] == "000000000000"
    other = signed(url, "GET", "/echo", "111111111111", "s")
    assert send(server, url, path="/echo", headers=other)[0] == 403
    # Another account's caller is let in by the function's resource policy.
    grant(lam, name, "111111111111", "AWS_IAM")
    status, _, body = send(server, url, path="/echo", headers=other)
    assert status == 200
    assert json.loads(body)["requestContext"]["authorizer"]["iam"]["accountId"] == ("111111111111")


def test_a_none_url_needs_both_permissions(
    lam: Any, server: Server, make_function: FunctionFactory
) -> None:
    """AWS's model since October 2025: `lambda:InvokeFunctionUrl` (auth type NONE) and
    `lambda:InvokeFunction` (via a Function URL), both granted to `*`."""
    forbidden = (
        403,
        {
            "Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
            "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
        },
    )
    name = make_function(HANDLER)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    status, headers, body = send(server, url)
    assert (status, json.loads(body)) == forbidden
    assert headers["x-amzn-errortype"] == ["AccessDeniedException"]
    lam.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    status, _, body = send(server, url)
    assert (status, json.loads(body)) == forbidden
    lam.add_permission(
        FunctionName=name,
        StatementId="invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    assert send(server, url)[0] == 200
    lam.remove_permission(FunctionName=name, StatementId="url")
    assert send(server, url)[0] == 403


def test_unknown_url_and_oversized_body(server: Server, url_function: tuple[str, str]) -> None:
    _, url = url_function
    unknown = url.replace(urlsplit(url).netloc.split(".", 1)[0], "0123456789abcdefghijklmnopqrstuv")
    status, headers, body = send(server, unknown)
    assert (status, json.loads(body)) == (403, {"Message": None})
    assert headers["x-amzn-errortype"] == ["AccessDeniedException"]
    status, _, body = send(server, unknown, by_path=True)
    assert status == 403
    status, _, body = send(server, url, "POST", "/echo", b"x" * (6 * 1024 * 1024 + 1))
    assert status == 413


def test_throttled_function_is_429(lam: Any, server: Server, url_function: tuple[str, str]) -> None:
    name, url = url_function
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, _, body = send(server, url)
    assert status == 429
    assert json.loads(body) == {"Message": "Rate Exceeded."}
    lam.delete_function_concurrency(FunctionName=name)
    assert send(server, url)[0] == 200


def test_cors(lam: Any, server: Server, make_function: FunctionFactory) -> None:
    name = make_function(HANDLER)
    url = public_url(
        lam,
        name,
        Cors={
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["X-Token", "Content-Type"],
            "ExposeHeaders": ["X-Custom"],
            "MaxAge": 300,
            "AllowCredentials": True,
        },
    )
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-token",
    }
    status, headers, body = send(server, url, "OPTIONS", "/raw", headers=preflight)
    assert (status, body) == (200, b"")  # answered without the function (/raw would fail)
    assert headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-allow-methods"] == ["GET,POST"]
    assert headers["access-control-allow-headers"] == ["X-Token,Content-Type"]
    assert headers["access-control-max-age"] == ["300"]
    assert headers["access-control-allow-credentials"] == ["true"]
    refused = {**preflight, "Origin": "https://other.example"}
    status, headers, _ = send(server, url, "OPTIONS", "/", headers=refused)
    assert status == 200 and not [h for h in headers if h.startswith("access-control-")]
    status, headers, _ = send(
        server, url, "OPTIONS", "/", headers={**preflight, "Access-Control-Request-Method": "PUT"}
    )
    assert "access-control-allow-origin" not in headers

    # An actual request: the configured headers, the function's own dropped.
    status, headers, _ = send(server, url, path="/cookies", headers={"Origin": preflight["Origin"]})
    assert status == 201
    assert headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-expose-headers"] == ["X-Custom"]
    assert headers["access-control-allow-credentials"] == ["true"]
    status, headers, _ = send(server, url, path="/cookies", headers={"Origin": "https://other"})
    assert "access-control-allow-origin" not in headers

    # Without a configuration OPTIONS is the function's, and nothing is added.
    lam.delete_function_url_config(FunctionName=name)
    plain = public_url(lam, name)
    status, headers, body = send(server, plain, "OPTIONS", "/", headers=preflight)
    assert status == 200 and json.loads(body)["requestContext"]["http"]["method"] == "OPTIONS"
    status, headers, _ = send(server, plain, path="/cookies", headers={"Origin": "https://x"})
    assert headers["access-control-allow-origin"] == ["https://evil"]  # the function's own


def signed(
    url: str, method: str, path: str, key: str, secret: str, body: bytes = b""
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url.rstrip("/") + path, data=body)
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers)


def test_aws_iam_auth_and_restart(fresh_server: Any, tmp_path: Any) -> None:
    srv: Server = fresh_server(FIRESIDE_CREDENTIALS="123456789012:s3cret")
    lam = srv.client(aws_access_key_id="123456789012", aws_secret_access_key="s3cret")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(HANDLER)},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]

    status, _, body = send(srv, url, path="/echo")
    assert status == 403
    assert json.loads(body) == {
        "Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
        "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
    }
    bad = signed(url, "GET", "/echo", "123456789012", "wrong")
    assert send(srv, url, path="/echo", headers=bad)[0] == 403
    other_service = AWSRequest(method="GET", url=url.rstrip("/") + "/echo")
    SigV4Auth(Credentials("123456789012", "s3cret"), "s3", "us-east-1").add_auth(other_service)
    assert send(srv, url, path="/echo", headers=dict(other_service.headers))[0] == 403

    good = signed(url, "GET", "/echo", "123456789012", "s3cret")
    status, _, body = send(srv, url, path="/echo", headers=good)
    assert status == 200, body
    context = json.loads(body)["requestContext"]
    assert context["accountId"] == "123456789012"
    iam = context["authorizer"]["iam"]
    assert iam["accessKey"] == "123456789012"
    assert iam["accountId"] == "123456789012"
    assert iam["userArn"] == "arn:aws:iam::123456789012:root"

    # The path-based address is signed as sent, like any request.
    url_id = urlsplit(url).netloc.split(".", 1)[0]
    path_request = AWSRequest(
        method="POST",
        url=f"{srv.endpoint}/_aws/lambda-url/{url_id}/echo",
        data=b'{"x": 1}',
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("123456789012", "s3cret"), "lambda", "us-east-1").add_auth(path_request)
    status, _, body = send(
        srv, url, "POST", "/echo", b'{"x": 1}', dict(path_request.headers), by_path=True
    )
    assert status == 200, body

    # The configuration survives a restart.
    srv.stop()
    again: Server = fresh_server(srv.data_dir, FIRESIDE_CREDENTIALS="123456789012:s3cret")
    lam = again.client(aws_access_key_id="123456789012", aws_secret_access_key="s3cret")
    config = lam.get_function_url_config(FunctionName=name)
    assert config["AuthType"] == "AWS_IAM"
    new_url = config["FunctionUrl"]
    assert urlsplit(new_url).netloc.split(".", 1)[0] == url_id
    good = signed(new_url, "GET", "/echo", "123456789012", "s3cret")
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    assert send(again, new_url, path="/echo", headers=good)[0] == 200
