"""Payload format 1.0: the event a REST API's Lambda proxy integration (and an HTTP API route
with `PayloadFormatVersion` 1.0) hands a function, and the response rules it answers under.

Sources: AWS's "Set up Lambda proxy integrations in API Gateway" (input format, output
format), the HTTP API guide's 1.0 example, and the Lambda guide's `apigateway-v1.json` sample.

The event carries every field, null when empty (unlike 2.0): `headers` with the last value of
each header and `multiValueHeaders` with every value, likewise for query parameters. The
HTTP layer has already joined a repeated header's values with commas, so `multiValueHeaders`
holds one string per header (the joined one); query parameters keep every value.

The answer must be a JSON object with a `statusCode`; `headers` and `multiValueHeaders` are
merged (a name in both gets every value); `body` a string, base64-decoded when
`isBase64Encoded`. Anything else raises `MalformedResponse` ("Malformed Lambda proxy
response" in API Gateway's logs; the client sees 502 `{"message": "Internal server error"}`).
No `Content-Type` is added when the function sets none: a REST API answers `application/json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from typing import Any

from fireside.gateway.payload_v2 import (
    MalformedResponse,
    header_pairs,
    response_body,
    scalar,
    wire_safe,
)
from fireside.gateway.payload_v2 import status_code as _status_code
from fireside.gateway.request_parts import (
    body_for_event,
    domain_prefix,
    forwarded_headers,
    query_pairs,
    request_time,
    source_ip,
)
from fireside.http.types import Request, Response

__all__ = ["MalformedResponse", "build_event", "interpret", "is_binary"]


def is_binary(content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether a REST API passes a body of `content_type` as base64: when the type matches
    one of the API's `binaryMediaTypes` (`image/png`, `image/*`, `*/*`)."""
    if not content_type or not binary_media_types:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return any(fnmatch(media, pattern.lower()) for pattern in binary_media_types)


def build_event(
    request: Request,
    *,
    path: str,
    resource: str,
    api_id: str,
    account_id: str,
    domain_name: str,
    stage: str,
    request_id: str,
    now: float,
    trace_id: str,
    resource_id: str | None = None,
    stage_path: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    identity: Mapping[str, Any] | None = None,
    binary: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """The 1.0 event for `request`.

    `path`: the request path without the stage (`/items/7`); `resource`: the matched resource
    or route path (`/items/{id}`); `stage_path`: `requestContext.path`, the path as the client
    sent it (`/prod/items/7`, the default). `binary`: send the body base64-encoded (`is_binary`
    for a REST API; an HTTP API decides by content type). `identity`: members that override
    `requestContext.identity`'s nulls (an IAM caller's `accountId`, `userArn`...).
    `version`: `"1.0"` for an HTTP API's 1.0 events (a REST API's carry no `version`).
    """
    headers = dict(request.headers)
    headers.update(forwarded_headers(request, trace_id))
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in query_pairs(request.query):
        query[key] = value  # the last value wins
        multi_query.setdefault(key, []).append(value)
    body, encoded = body_for_event(request.body, not binary)
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_prefix(domain_name),
        "extendedRequestId": request_id,
        "httpMethod": request.method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": source_ip(request),
            "user": None,
            "userAgent": request.headers.get("user-agent"),
            "userArn": None,
            **(identity or {}),
        },
        "path": stage_path if stage_path is not None else f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": request_time(now),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": resource_id,
        "resourcePath": resource,
        "stage": stage,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    event: dict[str, Any] = {} if version is None else {"version": version}
    event.update(
        {
            "resource": resource,
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(path_parameters) if path_parameters else None,
            "stageVariables": dict(stage_variables) if stage_variables else None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": encoded,
        }
    )
    return event


def interpret(payload: bytes) -> Response:
    """The HTTP response a function's 1.0 answer stands for (see the module docstring)."""
    try:
        answer = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedResponse("the function's response is not JSON") from exc
    if not isinstance(answer, dict) or "statusCode" not in answer:
        raise MalformedResponse("a proxy response needs a statusCode")
    status = _status_code(answer["statusCode"])
    single = header_pairs(answer.get("headers"))
    multi = answer.get("multiValueHeaders")
    if multi is not None and not isinstance(multi, dict):
        raise MalformedResponse("multiValueHeaders must be an object")
    headers: list[tuple[str, str]] = []
    taken = {name.lower() for name in (multi or {})}
    # A header in both: multiValueHeaders' values, then headers' own if it is not among them.
    for name, values in (multi or {}).items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        texts = [scalar(v) for v in values]
        headers.extend((str(name), text) for text in texts)
        for single_name, value in single:
            if single_name.lower() == str(name).lower() and value not in texts:
                headers.append((single_name, value))
    headers.extend((name, value) for name, value in single if name.lower() not in taken)
    return Response(status, wire_safe(headers), response_body(answer))
