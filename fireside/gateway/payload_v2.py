"""Payload format 2.0: the event an HTTP API (or a Function URL) hands a function, and how the
function's answer becomes the HTTP response.

Sources: AWS's "Working with AWS Lambda proxy integrations for HTTP APIs" (payload format
version, response format) and "Invoking Lambda function URLs" (request and response payloads),
and LocalStack's AWS-validated Function URL snapshots (recorded November 2025) where the two
pages are silent or disagree.

The event: header names in lower case with repeated values joined by commas (the edge joins
them); no `multiValue*` fields; the `Cookie` header moves to `cookies`; fields that would be
empty (`cookies`, `queryStringParameters`, `pathParameters`, `stageVariables`, `body`) are left
out, as AWS leaves them out; `isBase64Encoded` unless the content type is text
(`request_parts.is_text`).

The answer (`interpret`):
- a JSON object with `statusCode` is a structured response: `statusCode` (a number, or a
  string of digits), `headers` (values as strings), `cookies` (each its own `Set-Cookie`),
  `body` (a string, base64 when `isBase64Encoded`); `multiValueHeaders` is not part of 2.0
  and is ignored; `Content-Type` defaults to `application/json` on a Function URL (LocalStack's
  AWS-validated snapshot) and to `text/plain; charset=utf-8` on an HTTP API (`default_type`;
  recorded from AWS in "AWS API Gateway Response Handling", aasisodiya.github.io, and reported
  in fujiwara/ridge#9, aws-powertools/powertools-lambda-python#2464, quarkusio/quarkus#15909);
- any other JSON (an object without `statusCode`, an array, a number, `true`) is inferred:
  200, `application/json`, the value as compact JSON for the body (AWS answers 17 bytes,
  `{"hello":"world"}`, to a Python function returning `{"hello": "world"}`, whose runtime
  writes 18); a JSON *string* is the body itself, unquoted (AWS's answer to a function
  returning `"hello"` is `hello`, 5 bytes; the Lambda guide's table shows the quotes, the
  recorded behaviour does not);
- anything else (not JSON, a structured response with members of the wrong type) raises
  `MalformedResponse`, which each front door answers with its own 502.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from fireside.gateway.request_parts import (
    body_for_event,
    cookies_of,
    domain_prefix,
    forwarded_headers,
    is_text,
    query_pairs,
    request_time,
    source_ip,
)
from fireside.http.types import Request, Response

__all__ = ["MalformedResponse", "build_event", "interpret", "wire_safe"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers that frame the message on the wire: the front door's HTTP layer writes its own,
#: and a function's (a wrong `Content-Length`, a `Transfer-Encoding`) would break the framing
#: of the connection's next response.
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
     "trailer", "proxy-connection"}
)  # fmt: skip


class MalformedResponse(ValueError):
    """A function's answer that is not a response under the payload format's rules."""


def build_event(
    request: Request,
    *,
    path: str,
    api_id: str,
    account_id: str,
    domain_name: str,
    request_id: str,
    now: float,
    trace_id: str,
    route_key: str = "$default",
    stage: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    text_body: Callable[[str | None], bool] = is_text,
) -> dict[str, Any]:
    """The 2.0 event for `request`.

    `path`: the path the function sees (percent-encoded, as sent; a Function URL's whole path,
    an HTTP API's path with the stage's prefix). `route_key`/`stage`: `$default` for Function
    URLs; an HTTP API's matched route (`GET /items/{id}`) and stage name. `authorizer`: the
    `requestContext.authorizer` object (`{"iam": {...}}`, `{"jwt": {...}}`, `{"lambda": ...}`).
    `text_body`: whether a body of the given content type is sent as text.
    """
    headers = {name: value for name, value in request.headers.items() if name != "cookie"}
    headers.update(forwarded_headers(request, trace_id))
    body, encoded = body_for_event(request.body, text_body(request.headers.get("content-type")))
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_prefix(domain_name),
        "http": {
            "method": request.method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip(request),
            "userAgent": request.headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": request.query,
    }
    cookies = cookies_of(request)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    params: dict[str, str] = {}
    for key, value in query_pairs(request.query):
        params[key] = f"{params[key]},{value}" if key in params else value
    if params:
        event["queryStringParameters"] = params
    event["requestContext"] = context
    if body is not None:
        event["body"] = body
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


#: What an HTTP API answers as `Content-Type` to a structured 2.0 response that sets none.
HTTP_API_DEFAULT_TYPE = "text/plain; charset=utf-8"


def interpret(payload: bytes, default_type: str = "application/json") -> Response:
    """The HTTP response a function's answer stands for (see the module docstring);
    `default_type` is the `Content-Type` of a structured response that sets none."""
    try:
        answer = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedResponse("the function's response is not JSON") from exc
    if isinstance(answer, dict) and "statusCode" in answer:
        return _structured(answer, default_type)
    if isinstance(answer, str):
        body = answer.encode()
    else:  # written again, compactly: `{"hello": "world"}` is answered `{"hello":"world"}`
        body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(200, [("Content-Type", "application/json")], body)


def _structured(answer: dict[str, Any], default_type: str) -> Response:
    status = status_code(answer["statusCode"])
    headers = header_pairs(answer.get("headers"))
    cookies = answer.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponse("cookies must be a list of strings")
        headers.extend(("Set-Cookie", cookie) for cookie in cookies)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", default_type))
    return Response(status, wire_safe(headers), response_body(answer))


def status_code(value: object) -> int:
    """A response's `statusCode`: a number or a string of digits, 200 to 599. (An interim
    status, 100 to 199, cannot be a final answer: a client would wait for the real one, or
    switch protocols on a 101. AWS documents no answer for it; it is malformed here.)"""
    if isinstance(value, bool):
        raise MalformedResponse("statusCode must be a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 200 <= value <= 599:
        raise MalformedResponse(f"invalid statusCode {value!r}")
    return value


def header_pairs(headers: object) -> list[tuple[str, str]]:
    """A response's `headers` object as (name, value) pairs; values may be strings, numbers
    or booleans (written as JSON writes them)."""
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise MalformedResponse("headers must be an object")
    return [(str(name), scalar(value)) for name, value in headers.items()]


def wire_safe(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A function's response headers as they may go on the wire: a name that is not an HTTP
    token, or a value with a line break or NUL (which would smuggle in headers of the
    function's choosing), makes the response malformed; framing headers are dropped; other
    text is sent as UTF-8."""
    safe = []
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise MalformedResponse(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise MalformedResponse(f"invalid value for header {name}")
        if name.lower() not in _FRAMING:
            safe.append((name, value.encode("utf-8").decode("latin-1")))
    return safe


def scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise MalformedResponse(f"a header value must be a string, not {type(value).__name__}")


def response_body(answer: Mapping[str, Any]) -> bytes:
    """A structured response's `body`, base64-decoded when `isBase64Encoded` is true."""
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    encoded = answer.get("isBase64Encoded", False)
    if encoded not in (True, False, None, "true", "false"):
        raise MalformedResponse("isBase64Encoded must be a boolean")
    if encoded in (True, "true"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("body is not valid base64") from exc
    return body.encode()
