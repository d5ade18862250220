"""The event an Application Load Balancer sends a Lambda target, and the answer it expects
(reference: Lambda's "Using Lambda with an Application Load Balancer"; ELB's "Lambda
functions as targets").

Event: `requestContext.elb.targetGroupArn`, `httpMethod`, `path` (as sent), the query string
(keys and values as received: ALB does not URL-decode them), the headers with names in lower
case plus `x-forwarded-for`, `x-forwarded-port`, `x-forwarded-proto` and `x-amzn-trace-id`,
`body` and `isBase64Encoded` (a body whose content type is not `text/*`, `application/json`,
`application/javascript` or `application/xml` is base64-encoded). With the target group
attribute `lambda.multi_value_headers.enabled`, the event carries only `multiValueHeaders`
and `multiValueQueryStringParameters` (arrays); otherwise a repeated query key gets the last
value sent, and so does a header sent on several lines.

Answer: `statusCode` (required, an integer), `statusDescription`, `headers` or, with the
attribute, `multiValueHeaders`, `body`, `isBase64Encoded`. Anything else (not JSON, no valid
`statusCode`, a body that is not text, more than 1 MB) is malformed: the load balancer
answers 502.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from fireside.http.types import Request, Response

__all__ = ["MAX_BODY", "MAX_RESPONSE", "event", "health_check_event", "response"]

MAX_BODY: Final = 1 << 20
MAX_RESPONSE: Final = 1 << 20
#: Bodies of these content types are passed as they are; any other is base64-encoded (ELB's
#: guide, "Receive events from the load balancer").
_TEXT_TYPES: Final = ("text/", "application/json", "application/javascript", "application/xml")
#: Headers the load balancer sets itself (a client's repeated copies do not replace them).
_ADDED: Final = frozenset(
    {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
)
_HOP: Final = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


def _textual(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(lowered.startswith(t) for t in _TEXT_TYPES)


def event(
    request: Request,
    *,
    target_group_arn: str,
    port: int,
    protocol: str,
    trace_id: str,
    multi_value: bool,
) -> bytes:
    headers = dict(request.headers)
    client = request.client[0] if request.client else "127.0.0.1"
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {client}" if forwarded else client
    headers["x-forwarded-port"] = str(port)
    headers["x-forwarded-proto"] = protocol
    headers["x-amzn-trace-id"] = trace_id
    body = request.body
    encoded = bool(body) and not _textual(headers.get("content-type", ""))
    if encoded:
        text = base64.b64encode(body).decode()
    else:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            encoded, text = True, base64.b64encode(body).decode()
    pairs = _query_pairs(request.query)
    out: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": request.method,
        "path": request.path,
    }
    repeated = {k: v for k, v in (request.repeated or {}).items() if k not in _ADDED}
    if multi_value:
        query: dict[str, list[str]] = {}
        for key, value in pairs:
            query.setdefault(key, []).append(value)
        out["multiValueQueryStringParameters"] = query
        out["multiValueHeaders"] = {k: repeated.get(k) or [v] for k, v in headers.items()}
    else:
        out["queryStringParameters"] = dict(pairs)  # the last value of a repeated key
        for key, values in repeated.items():
            if key in headers:
                headers[key] = values[-1]  # the last value sent, as ALB passes it
        out["headers"] = headers
    out["body"] = text
    out["isBase64Encoded"] = encoded
    return json.dumps(out).encode()


def health_check_event(target_group_arn: str, path: str, *, multi_value: bool) -> bytes:
    """The event of a health check: a `GET` of the group's `HealthCheckPath` whose only header
    is the health checker's `user-agent`."""
    path, _, query = path.partition("?")
    pairs = _query_pairs(query)
    agent = "ELB-HealthChecker/2.0"
    out: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": "GET",
        "path": path,
    }
    if multi_value:
        query_values: dict[str, list[str]] = {}
        for key, value in pairs:
            query_values.setdefault(key, []).append(value)
        out["multiValueQueryStringParameters"] = query_values
        out["multiValueHeaders"] = {"user-agent": [agent]}
    else:
        out["queryStringParameters"] = dict(pairs)
        out["headers"] = {"user-agent": agent}
    out["body"] = ""
    out["isBase64Encoded"] = False
    return json.dumps(out).encode()


def _reason(description: Any, status: int) -> str | None:
    if not isinstance(description, str) or not description:
        return None
    code, _, phrase = description.partition(" ")
    text = phrase if code == str(status) else description
    if not text.isprintable() or len(text) > 128:
        return None
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return text


def response(payload: bytes, *, multi_value: bool) -> Response | None:
    """The HTTP response a function's answer describes, or None when it is malformed."""
    if len(payload) > MAX_RESPONSE:
        return None
    try:
        answer = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    status = answer.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    body = answer.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        return None
    elif answer.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        data = body.encode()
    headers: list[tuple[str, str]] = []
    source = answer.get("multiValueHeaders") if multi_value else answer.get("headers")
    if source is not None:
        if not isinstance(source, dict):
            return None
        for name, value in source.items():
            values = value if multi_value and isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, (dict, list)) or item is None:
                    return None
                text = str(item).lower() if isinstance(item, bool) else str(item)
                if "\r" in text or "\n" in text or "\r" in name or "\n" in name:
                    return None
                if name.lower() not in _HOP:
                    headers.append((str(name), text))
    return Response(status, headers, data, reason=_reason(answer.get("statusDescription"), status))
