"""The Lambda Runtime API (2018-06-01) and Extensions API (2020-01-01) of one environment.

Each environment listens on its own `host:port` (the official runtime clients accept nothing
else) and this handler serves it: `GET /runtime/invocation/next` long-polls for the next event,
`POST .../{id}/response` and `.../{id}/error` finish it, `POST /runtime/init/error` fails init;
`/2020-01-01/extension/...` is the extensions' side (`fireside.compute.extensions`).
The state lives in the environment (`RuntimeSession`); this module only speaks HTTP.

Streaming (`Lambda-Runtime-Function-Response-Mode: streaming`, a chunked body): the server
hands the request over at headers-complete (`streams_body` selects it) and each chunk goes on
to the caller as it arrives (`fireside.compute.streaming`). A mid-stream error comes in the
trailers `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body`
(base64); the invocation ends when the body does.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Protocol

from fireside.compute.extensions import ExtensionError, ExtensionHub
from fireside.compute.invocation import MAX_SYNC_PAYLOAD, Invocation
from fireside.compute.streaming import ResponseStream
from fireside.http.streams import BodyError
from fireside.http.types import Request, Response

PREFIX = "/2018-06-01"
EXTENSION_PREFIX = "/2020-01-01/extension"
_INVOCATION = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")
_JSON = ("Content-Type", "application/json")
_ACCEPTED = Response(202, [_JSON], b'{"status":"OK"}')


class RuntimeSession(Protocol):
    """What the Runtime API needs from its environment."""

    extensions: ExtensionHub

    async def next_invocation(self) -> Invocation: ...

    def respond(self, request_id: str, body: bytes, content_type: str) -> str | None:
        """Finish the invocation with a result; returns an error type when the id is wrong."""

    def fail(self, request_id: str, body: bytes, error_type: str | None) -> str | None: ...

    def open_stream(self, request_id: str, content_type: str) -> ResponseStream | str:
        """Start a streamed response; returns an error type when the id is wrong."""

    def close_stream(
        self, stream: ResponseStream, error_type: str | None, error_body: bytes | None
    ) -> None: ...

    def fail_init(self, body: bytes, error_type: str | None) -> None: ...


def streams_body(method: str, target: str, headers: Mapping[str, str]) -> bool:
    """Whether a request is a streamed response, read by its handler as it arrives."""
    return (
        method == "POST"
        and headers.get("lambda-runtime-function-response-mode", "").lower() == "streaming"
        and target.endswith("/response")
    )


def _error(status: int, error_type: str, message: str) -> Response:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return Response(status, [_JSON], body)


def next_response(invocation: Invocation) -> Response:
    headers = [
        ("Content-Type", invocation.content_type),
        ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
        ("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", invocation.invoked_arn),
        ("Lambda-Runtime-Trace-Id", invocation.trace_id),
    ]
    if invocation.client_context:
        headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
    return Response(200, headers, invocation.payload)


class RuntimeApi:
    """HTTP handler of one environment's Runtime API."""

    def __init__(self, session: RuntimeSession) -> None:
        self._session = session

    async def __call__(self, request: Request) -> Response:
        path = request.path
        if path.startswith(EXTENSION_PREFIX):
            try:
                return await self._extension(request)
            except ExtensionError as exc:
                return _error(exc.status, exc.error_type, exc.message)
        if path == f"{PREFIX}/runtime/invocation/next":
            if request.method != "GET":
                return _error(405, "MethodNotAllowed", "use GET")
            invocation = await self._session.next_invocation()
            return next_response(invocation)
        if request.method != "POST":
            if path == "/ping" or path == f"{PREFIX}/ping":
                return Response(200, [], b"")
            return _error(404, "NotFound", f"no route for {request.method} {path}")
        error_type = request.headers.get("lambda-runtime-function-error-type")
        match = _INVOCATION.match(path)
        if match is not None:
            request_id, action = match.groups()
            if action == "response" and request.stream is not None:
                return await self._stream(request, request_id)
            if action == "response":
                if len(request.body) > MAX_SYNC_PAYLOAD:
                    problem = self._session.respond(request_id, b"", "too-large")
                    if problem is None:
                        return _error(
                            413,
                            "RequestEntityTooLarge",
                            f"Exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD} bytes).",
                        )
                else:
                    content_type = request.headers.get("content-type", "application/json")
                    problem = self._session.respond(request_id, request.body, content_type)
            else:
                problem = self._session.fail(request_id, request.body, error_type)
            if problem is not None:
                return _error(400, problem, f"Invalid request ID: {request_id}")
            return _ACCEPTED
        if path == f"{PREFIX}/runtime/init/error":
            self._session.fail_init(request.body, error_type)
            return _ACCEPTED
        return _error(404, "NotFound", f"no route for {request.method} {path}")

    async def _stream(self, request: Request, request_id: str) -> Response:
        """Pass a streamed response on chunk by chunk; the invocation ends with the body."""
        body = request.stream
        assert body is not None
        content_type = request.headers.get("content-type", "application/octet-stream")
        stream = self._session.open_stream(request_id, content_type)
        if isinstance(stream, str):
            return _error(400, stream, f"Invalid request ID: {request_id}")
        closed = False
        try:
            async for chunk in body:
                if not await stream.put(chunk):
                    closed = True
                    self._session.close_stream(stream, None, None)
                    return _error(
                        413,
                        "RequestEntityTooLarge",
                        f"Exceeded maximum allowed payload size ({stream.limit} bytes).",
                    )
            error_type = body.trailers.get("lambda-runtime-function-error-type")
            error_body = None
            encoded = body.trailers.get("lambda-runtime-function-error-body")
            if encoded is not None:
                with contextlib.suppress(binascii.Error, ValueError):
                    error_body = base64.b64decode(encoded)
            closed = True
            self._session.close_stream(stream, error_type, error_body)
            return _ACCEPTED
        except BodyError as exc:
            closed = True
            message = f"the streamed response was cut off: {exc.message}"
            self._session.close_stream(stream, "Runtime.TruncatedResponse", message.encode())
            return _error(exc.status, "InvalidRequest", exc.message)
        finally:
            if not closed:  # cancelled: the runtime's connection is gone
                self._session.close_stream(
                    stream, "Runtime.TruncatedResponse", b"the streamed response was cut off"
                )

    async def _extension(self, request: Request) -> Response:
        hub, path, headers = self._session.extensions, request.path, request.headers
        identifier = headers.get("lambda-extension-identifier")
        if path == f"{EXTENSION_PREFIX}/register" and request.method == "POST":
            try:
                body = json.loads(request.body or b"{}")
            except (ValueError, RecursionError) as exc:
                raise ExtensionError("InvalidRequestFormat", str(exc)) from None
            if not isinstance(body, dict):
                raise ExtensionError("InvalidRequestFormat", "the body must be a JSON object")
            extension_id, metadata = hub.register(headers.get("lambda-extension-name", ""), body)
            features = headers.get("lambda-extension-accept-feature", "")
            if "accountId" not in [f.strip() for f in features.split(",")]:
                metadata.pop("accountId", None)
            reply = [_JSON, ("Lambda-Extension-Identifier", extension_id)]
            return Response(200, reply, json.dumps(metadata).encode())
        if path == f"{EXTENSION_PREFIX}/event/next" and request.method == "GET":
            event = await hub.next_event(identifier)
            reply = [_JSON, ("Lambda-Extension-Event-Identifier", str(uuid.uuid4()))]
            return Response(200, reply, json.dumps(event).encode())
        errors = (f"{EXTENSION_PREFIX}/init/error", f"{EXTENSION_PREFIX}/exit/error")
        if path in errors and request.method == "POST":
            error_type = headers.get("lambda-extension-function-error-type")
            hub.report_error(identifier, error_type, init=path.endswith("/init/error"))
            return _ACCEPTED
        return _error(404, "NotFound", f"no route for {request.method} {path}")
