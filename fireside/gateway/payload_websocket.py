"""The events a WebSocket API's Lambda proxy integrations hand a function: CONNECT, MESSAGE,
DISCONNECT; and how a proxy answer reads back (the status of `$connect`, the message a
two-way route sends the client).

Shapes as API Gateway sends them (aws-lambda-go's `apigw-websocket-request*.json` samples,
taken from real APIs, and "Setting up WebSocket API integrations"):
- every event has `requestContext` with `routeKey`, `eventType`, `extendedRequestId`,
  `requestTime`, `messageDirection` (`IN`), `stage`, `connectedAt`, `requestTimeEpoch`,
  `identity` (`sourceIp`, `userAgent`), `requestId`, `domainName`, `connectionId`, `apiId`,
  and `authorizer` when the `$connect` route had one; and `isBase64Encoded`;
- CONNECT adds the handshake's `headers` and `multiValueHeaders` (the `Sec-WebSocket-*`
  headers included, `Connection` and `Upgrade` not) and, when the URL has a query string,
  `queryStringParameters` and `multiValueQueryStringParameters`;
- MESSAGE adds `messageId` and the message as `body` (base64 when it came in binary frames);
- DISCONNECT adds `disconnectStatusCode` and `disconnectReason`, and the few headers API
  Gateway gives it (`Host`, `x-api-key`, `X-Forwarded-For`, `x-restapi`).
The HTTP layer keeps header names in lower case: those API Gateway spells otherwise are
given their usual spelling.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fireside.gateway.payload_v2 import MalformedResponse
from fireside.gateway.request_parts import forwarded_headers, query_pairs, request_time
from fireside.gateway.websocket_connections import ConnectionInfo
from fireside.http.types import Request

__all__ = [
    "Answer",
    "MalformedResponse",
    "connect_event",
    "disconnect_event",
    "message_event",
    "read_answer",
]

_SPELLING = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Authorization",
        "Cache-Control",
        "Cookie",
        "Host",
        "Origin",
        "Pragma",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Version",
        "User-Agent",
        "X-Amzn-Trace-Id",
        "X-Forwarded-For",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
    )
}
#: Hop-by-hop headers of the handshake, which API Gateway does not pass on.
_DROPPED = frozenset({"connection", "upgrade", "content-length", "transfer-encoding"})


def _context(
    info: ConnectionInfo,
    route_key: str,
    event_type: str,
    request_id: str,
    now: float,
    authorizer: Mapping[str, Any] | None,
    identity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": int(now * 1000),
        "identity": {
            **(identity or {}),
            "userAgent": info.user_agent,
            "sourceIp": info.source_ip,
        },
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return context


def connect_event(
    request: Request,
    info: ConnectionInfo,
    *,
    request_id: str,
    now: float,
    trace_id: str,
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    identity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `$connect` event of the handshake `request` (also what a REQUEST authorizer gets,
    with its `type` and `methodArn` added)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name not in _DROPPED:
            headers[_SPELLING.get(name, name)] = value
    for name, value in forwarded_headers(request, trace_id).items():
        headers[_SPELLING.get(name, name)] = value
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
    }
    query: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in query_pairs(request.query):
        query[key] = value
        multi.setdefault(key, []).append(value)
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    event["requestContext"] = _context(
        info, "$connect", "CONNECT", request_id, now, authorizer, identity
    )
    event["isBase64Encoded"] = False
    return event


def message_event(
    info: ConnectionInfo,
    route_key: str,
    data: bytes,
    text: bool,
    *,
    request_id: str,
    message_id: str,
    now: float,
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    identity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event of one message routed to `route_key` (`text`: it came in text frames)."""
    context = _context(info, route_key, "MESSAGE", request_id, now, authorizer, identity)
    context["messageId"] = message_id
    event: dict[str, Any] = {"requestContext": context}
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if text:
        event["body"] = data.decode("utf-8", "replace")
        event["isBase64Encoded"] = False
    else:
        event["body"] = base64.b64encode(data).decode("ascii")
        event["isBase64Encoded"] = True
    return event


def disconnect_event(
    info: ConnectionInfo,
    code: int,
    reason: str,
    *,
    request_id: str,
    now: float,
    host: str,
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    identity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `$disconnect` event of a connection closed with `code` and `reason`."""
    headers = {"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _context(info, "$disconnect", "DISCONNECT", request_id, now, authorizer, identity)
    context["disconnectStatusCode"] = code
    context["disconnectReason"] = reason
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


@dataclass(frozen=True, slots=True)
class Answer:
    """A Lambda proxy integration's answer, as a WebSocket route reads it."""

    #: `statusCode` (200 when the function answered no object or none).
    status: int
    headers: list[tuple[str, str]]
    #: The `body` to send back on a two-way route; None: nothing to send.
    body: bytes | None
    #: Whether `body` goes in text frames (not when it was base64).
    text: bool


def read_answer(payload: bytes) -> Answer:
    """Read a function's answer: an object with `statusCode`, `headers`, `body` and
    `isBase64Encoded`, as API Gateway reads Lambda proxy responses. A function that answers
    no object (`null`, nothing) answers 200 with nothing to send; any other JSON value is sent
    as it is. Raises MalformedResponse for what is not JSON or has a bad status or body."""
    if not payload.strip():
        return Answer(200, [], None, True)
    try:
        answer = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedResponse("the function's response is not JSON") from exc
    if answer is None:
        return Answer(200, [], None, True)
    if not isinstance(answer, dict):
        return Answer(200, [], payload, True)
    status = answer.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"invalid statusCode {status!r}")
    headers = answer.get("headers")
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise MalformedResponse("headers must be an object")
    pairs = [(str(k), str(v)) for k, v in headers.items() if isinstance(v, str | int | float)]
    body = answer.get("body")
    if body is None:
        return Answer(status, pairs, None, True)
    if not isinstance(body, str):
        body = json.dumps(body)
    if answer.get("isBase64Encoded") is True:
        try:
            return Answer(status, pairs, base64.b64decode(body, validate=True), False)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("body is not base64") from exc
    return Answer(status, pairs, body.encode("utf-8"), True)
