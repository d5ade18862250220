"""Lambda integrations of REST APIs, through the gateway core (`payload_v1`,
`integration.FunctionCaller`): AWS_PROXY (the request as a payload 1.0 event, the function's
answer as the reply) and AWS (non-proxy: mapping templates both ways, the integration response
chosen by the function's `errorMessage`).

The integration's URI is Lambda's invocations path,
`arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations`;
`${stageVariables.x}` in it is replaced first (the documented way to pick a function or an
alias per stage). The function is invoked as API Gateway invoking for
`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`, which its resource
policy must allow.

How failures answer (AWS's REST API behaviour; the cause goes to the server log, as AWS puts
it in the execution log): a function error, a malformed proxy response, a missing function,
a refused permission, a throttled or unready function: 502/500 `{"message": "Internal server
error"}` (502 for what the function answered, 500 for what kept it from answering); the
integration timeout (`timeoutInMillis`, 29 s by default): 504 `{"message": "Endpoint request
timed out"}`; an event over Lambda's 6 MB: 413 `{"message": "Request Entity Too Large"}`.

A binary answer (`isBase64Encoded`) is decoded only for a client whose `Accept` names one of
the API's `binaryMediaTypes`; others get the base64 text, as API Gateway sends it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from typing import Any

from fireside.gateway.integration import (
    ApiGatewaySource,
    Failure,
    FunctionAnswer,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.gateway.payload_v1 import MalformedResponse, build_event, interpret, is_binary
from fireside.gateway.rest_api_door import RestCall
from fireside.gateway.rest_api_errors import gateway_error
from fireside.gateway.rest_api_mock import map_request, no_response, reply, select_response
from fireside.http.types import Response

__all__ = ["LambdaProxy"]

log = logging.getLogger(__name__)

_URI = re.compile(
    r"arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/[0-9-]+/functions/(.+)/invocations"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.-]+)\}")


def _base64_answer(payload: bytes) -> bool:
    try:
        answer = json.loads(payload)
    except (ValueError, RecursionError):  # nested too deep to read is not JSON to us
        return False
    return isinstance(answer, dict) and answer.get("isBase64Encoded") is True


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


class LambdaProxy:
    """The `Integrate` hook of `RestApiDoor` for Lambda integrations: AWS_PROXY, and AWS
    (non-proxy) with a Lambda invocations URI."""

    def __init__(self, caller: FunctionCaller) -> None:
        self._caller = caller

    async def __call__(self, call: RestCall, integration: dict[str, Any]) -> Response:
        variables = call.stage.get("variables") or {}
        uri = _STAGE_VARIABLE.sub(lambda m: variables.get(m[1], ""), integration.get("uri", ""))
        match = _URI.fullmatch(uri)
        if match is None:
            log.warning("REST API %s: not a Lambda invocations URI: %s", call.api["id"], uri)
            return gateway_error(500, "Internal server error", call.request_id)
        function = FunctionRef.parse(match[1], call.account, call.region)
        if integration.get("type") == "AWS":
            return await self._custom(call, integration, function)
        return await self._proxy(call, integration, function)

    async def _invoke(
        self,
        call: RestCall,
        integration: dict[str, Any],
        function: FunctionRef,
        event: bytes,
        trace_id: str,
    ) -> FunctionAnswer | Response:
        """The function's answer, or the response a failure to run it gets."""
        request = call.request
        source = ApiGatewaySource(
            f"arn:aws:execute-api:{call.region}:{call.account}:{call.api['id']}/"
            f"{call.stage['stageName']}/{request.method}{call.path}",
            call.account,
        )
        timeout = float(integration.get("timeoutInMillis", 29000)) / 1000
        try:
            return await self._caller.call(
                function,
                event,
                source,
                request_id=call.request_id,
                trace_id=trace_id,
                timeout=timeout,
            )
        except IntegrationFailure as failure:
            log.warning(
                "REST API %s: Lambda integration failed (%s), request id %s",
                call.api["id"],
                failure,
                call.request_id,
            )
            if failure.reason is Failure.TIMED_OUT:
                return gateway_error(
                    504,
                    "Endpoint request timed out",
                    call.request_id,
                    "IntegrationTimeoutException",
                )
            if failure.reason is Failure.TOO_LARGE:
                return gateway_error(
                    413, "Request Entity Too Large", call.request_id, "RequestTooLargeException"
                )
            return gateway_error(500, "Internal server error", call.request_id)

    async def _proxy(
        self, call: RestCall, integration: dict[str, Any], function: FunctionRef
    ) -> Response:
        request = call.request
        binary_types = call.deployment.get("_api", {}).get("binaryMediaTypes") or []
        trace_id = _trace_id(call.started)
        event = build_event(
            request,
            path=call.path,
            resource=call.resource_path,
            api_id=call.api["id"],
            account_id=call.account,
            domain_name=call.address.host.rsplit(":", 1)[0],
            stage=call.stage["stageName"],
            request_id=call.request_id,
            now=call.started,
            trace_id=trace_id,
            resource_id=call.match.resource["id"],
            path_parameters=call.match.path_parameters,
            stage_variables=call.stage.get("variables") or {},
            authorizer=call.authorizer,
            identity=call.identity or None,
            binary=is_binary(request.headers.get("content-type"), binary_types),
        )
        answer = await self._invoke(
            call, integration, function, json.dumps(event).encode(), trace_id
        )
        if isinstance(answer, Response):
            return answer
        if answer.function_error is not None:
            log.warning(
                "REST API %s: the function failed (%s), request id %s: %s",
                call.api["id"],
                answer.function_error,
                call.request_id,
                answer.payload[:500],
            )
            return gateway_error(502, "Internal server error", call.request_id)
        try:
            response = interpret(answer.payload)
        except MalformedResponse as error:
            log.warning(
                "REST API %s: Malformed Lambda proxy response (%s), request id %s",
                call.api["id"],
                error,
                call.request_id,
            )
            return gateway_error(502, "Internal server error", call.request_id)
        if not any(name.lower() == "content-type" for name, _ in response.headers):
            response.headers.append(("Content-Type", "application/json"))
        if _base64_answer(answer.payload) and not any(
            is_binary(media, binary_types) for media in request.headers.get("accept", "").split(",")
        ):
            # A REST API sends a binary answer as bytes only to a client that accepts one of
            # its binary media types; anyone else gets the base64 text the function wrote.
            response.body = base64.b64encode(response.body)
        return response

    async def _custom(
        self, call: RestCall, integration: dict[str, Any], function: FunctionRef
    ) -> Response:
        """A non-proxy (AWS) integration: the request template's output is the event; the
        function's `errorMessage` (when it fails) picks the integration response by
        `selectionPattern`, else the default one answers; its template sees the function's
        answer as `$input`."""
        source = call.template_input()
        mapped = map_request(source, integration, call.request)
        if isinstance(mapped, Response):
            return mapped
        answer = await self._invoke(
            call, integration, function, mapped.encode() or b"{}", _trace_id(call.started)
        )
        if isinstance(answer, Response):
            return answer
        responses: dict[str, dict[str, Any]] = integration.get("integrationResponses") or {}
        if answer.function_error is None:
            chosen = next((r for r in responses.values() if not r.get("selectionPattern")), None)
            selected_by = "(success)"
        else:
            try:
                error = json.loads(answer.payload)
            except (ValueError, RecursionError):
                error = None
            message = error.get("errorMessage") if isinstance(error, dict) else None
            selected_by = str(message or "")
            chosen = select_response(responses, selected_by)
        if chosen is None:
            return no_response("Lambda", selected_by)
        return reply(source, chosen, call.request, answer.payload)
