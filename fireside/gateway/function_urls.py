"""The Function URL front door: a request to `<url-id>.lambda-url.<region>.localhost:<port>`
(or `/_aws/lambda-url/<url-id>/...`) becomes a payload format 2.0 event for the function or
alias the URL belongs to, and the function's answer becomes the HTTP response.

In order: the URL id (an unknown one: 403 `{"Message":null}`, AWS's answer, recorded by
LocalStack's `test_lambda_url_non_existing_url`); CORS preflights, answered here without
invoking (`cors`); `AWS_IAM` auth, a SigV4 signature for the `lambda` service verified by the
server's `Authenticator` (unsigned or refused: 403 Forbidden); the body limit (6 MB, 413); the
resource-policy check and the run (`integration`); the answer under 2.0's rules
(`payload_v2.interpret`). A function error or a malformed answer is 502 `Internal Server
Error` (AWS's, `test_lambda_url_invocation_exception`); a throttle 429 (the Lambda guide,
"Throttling function URLs"; the body is Fireside's guess).

`InvokeMode RESPONSE_STREAM`: the function runs streaming (`FunctionCaller.call_stream`) and
its chunks go to the client as they are written, chunked. A function that used Node's
`awslambda.HttpResponseStream.from` gives the status, headers and cookies in its prelude
(`StreamedInvocation.parts`); without one the answer is 200 with the function's content
type. A failure before the first byte is answered as above (502...); one after it ends the
body where it is. A function not written to stream answers under the BUFFERED rules.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.compute.function_urls import FunctionUrlConfig, FunctionUrls
from fireside.compute.invocation import MAX_SYNC_PAYLOAD
from fireside.compute.streaming import StreamedInvocation
from fireside.gateway import payload_v2
from fireside.gateway.addresses import FrontDoorAddress
from fireside.gateway.cors import CorsRules
from fireside.gateway.integration import (
    Failure,
    FunctionCaller,
    FunctionRef,
    FunctionUrlSource,
    IntegrationFailure,
)
from fireside.http.streams import ClosingStream
from fireside.http.types import Request, Response
from fireside.ids import trace_id

__all__ = ["FunctionUrlDoor"]

log = logging.getLogger(__name__)

FORBIDDEN = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)


def _json(status: int, body: object, error_type: str, request_id: str) -> Response:
    return Response(
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", error_type),
            ("x-amzn-RequestId", request_id),
        ],
        json.dumps(body, separators=(",", ":")).encode(),
    )


def _bad_gateway(request_id: str) -> Response:
    return Response(
        502,
        [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)],
        b"Internal Server Error",
    )


class FunctionUrlDoor:
    """The `lambda-url` front door (registered with `FrontDoors` by the app)."""

    def __init__(
        self, urls: FunctionUrls, caller: FunctionCaller, authenticator: Authenticator
    ) -> None:
        self._urls = urls
        self._caller = caller
        self._auth = authenticator

    async def __call__(self, address: FrontDoorAddress, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        config = self._urls.by_url_id(address.resource_id)
        if config is None or (address.region is not None and address.region != config.region):
            return _json(403, {"Message": None}, "AccessDeniedException", request_id)
        cors = CorsRules.from_config(config.cors) if config.cors is not None else None
        if cors is not None and cors.is_preflight(request):
            response = cors.preflight(request)
            response.headers.append(("x-amzn-RequestId", request_id))
            return response
        response = await self._serve(config, address, request, request_id)
        return cors.apply(request, response) if cors is not None else response

    async def _serve(
        self,
        config: FunctionUrlConfig,
        address: FrontDoorAddress,
        request: Request,
        request_id: str,
    ) -> Response:
        caller_account: str | None = None
        authorizer = None
        if config.auth_type == "AWS_IAM":
            identity = self._iam_caller(request)
            if identity is None:
                return _json(403, {"Message": FORBIDDEN}, "AccessDeniedException", request_id)
            caller_account, authorizer = identity
        if len(request.body) > MAX_SYNC_PAYLOAD:
            return _json(
                413,
                {
                    "Message": f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the "
                    "InvokeFunction operation"
                },
                "RequestTooLargeException",
                request_id,
            )
        trace = trace_id()
        event = payload_v2.build_event(
            request,
            path=address.path,
            api_id=config.url_id,
            account_id=caller_account or "anonymous",
            domain_name=address.host,
            request_id=request_id,
            now=time.time(),
            trace_id=trace.split(";", 1)[0],
            authorizer=authorizer,
        )
        function = FunctionRef(config.account, config.region, config.function, config.alias)
        source = FunctionUrlSource(config.auth_type, caller_account)
        if config.invoke_mode == "RESPONSE_STREAM":
            try:
                streamed = await self._caller.call_stream(
                    function,
                    json.dumps(event).encode(),
                    source,
                    request_id=request_id,
                    trace_id=trace,
                )
            except IntegrationFailure as failure:
                return self._failed(failure, request_id)
            return await _streamed_response(streamed, config.url_id, request_id)
        try:
            answer = await self._caller.call(
                function,
                json.dumps(event).encode(),
                source,
                request_id=request_id,
                trace_id=trace,
            )
        except IntegrationFailure as failure:
            return self._failed(failure, request_id)
        if answer.function_error is not None:
            return _bad_gateway(request_id)
        try:
            response = payload_v2.interpret(answer.payload)
        except payload_v2.MalformedResponse as exc:
            log.info("Function URL %s: malformed response (%s)", config.url_id, exc)
            return _bad_gateway(request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _iam_caller(self, request: Request) -> tuple[str, dict[str, object]] | None:
        """(caller's account, `requestContext.authorizer`) of a request signed for `lambda`,
        or None: unsigned, signed for another service, or refused by the authenticator."""
        try:
            caller = self._auth.authenticate(request)
        except ServiceError:
            return None
        if not caller.signed or caller.service != "lambda":
            return None
        identity = self._auth.identity(caller.access_key_id, caller.account_id)
        return caller.account_id, {
            "iam": {
                "accessKey": caller.access_key_id,
                "accountId": caller.account_id,
                "callerId": identity.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": identity.arn,
                "userId": identity.user_id,
            }
        }

    @staticmethod
    def _failed(failure: IntegrationFailure, request_id: str) -> Response:
        reason = failure.reason
        if reason is Failure.NOT_PERMITTED:
            return _json(403, {"Message": FORBIDDEN}, "AccessDeniedException", request_id)
        if reason is Failure.THROTTLED:
            return _json(429, {"Message": "Rate Exceeded."}, "TooManyRequestsException", request_id)
        if reason is Failure.TOO_LARGE:
            return _json(
                413, {"Message": "Request Entity Too Large"}, "RequestTooLargeException", request_id
            )
        log.info("Function URL request %s failed: %s", request_id, failure)
        return _bad_gateway(request_id)


async def _streamed_response(
    streamed: StreamedInvocation, url_id: str, request_id: str
) -> Response:
    """The HTTP response of a RESPONSE_STREAM URL, its body still being written."""
    if not streamed.streamed:  # not written to stream: the whole answer, as BUFFERED
        payload = b"".join([chunk async for chunk in streamed.raw()])
        if streamed.completion is None or streamed.completion.error_code is not None:
            return _bad_gateway(request_id)
        try:
            response = payload_v2.interpret(payload)
        except payload_v2.MalformedResponse as exc:
            log.info("Function URL %s: malformed response (%s)", url_id, exc)
            return _bad_gateway(request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response
    parts = streamed.parts()
    first = await anext(parts, None)
    status, headers, body = 200, [("Content-Type", streamed.content_type)], b""
    if first is None:  # ended before its first byte
        if streamed.completion is None or streamed.completion.error_code is not None:
            return _bad_gateway(request_id)
    elif isinstance(first, dict):
        try:
            status, headers = _prelude(first)
        except payload_v2.MalformedResponse as exc:
            await parts.aclose()
            log.info("Function URL %s: malformed response prelude (%s)", url_id, exc)
            return _bad_gateway(request_id)
    else:
        body = first
    headers.append(("x-amzn-RequestId", request_id))
    if first is None:
        return Response(status, headers, b"")
    return Response(status, headers, stream=ClosingStream(_body(body, parts), streamed.detach))


def _prelude(metadata: dict[str, Any]) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers from `HttpResponseStream.from`'s metadata (statusCode, headers,
    cookies), under the same rules as a buffered 2.0 response's."""
    status = payload_v2.status_code(metadata.get("statusCode", 200))
    headers = payload_v2.header_pairs(metadata.get("headers"))
    cookies = metadata.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise payload_v2.MalformedResponse("cookies must be a list of strings")
        headers.extend(("Set-Cookie", cookie) for cookie in cookies)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    return status, payload_v2.wire_safe(headers)


async def _body(
    first: bytes, parts: AsyncGenerator[dict[str, Any] | bytes]
) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for part in parts:
            if isinstance(part, bytes):
                yield part
    finally:
        await parts.aclose()
