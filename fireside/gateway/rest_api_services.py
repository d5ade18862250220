"""REST APIs' `AWS` (non-proxy) integrations with AWS services: SQS, SNS, EventBridge and
DynamoDB (any served service), the request written by a mapping template.

The integration's URI names the call, as API Gateway's do:
`arn:aws:apigateway:<region>:<service>:action/<Action>` or
`arn:aws:apigateway:<region>:<service>:path/<path>` (SQS: `path/<account>/<queue>`). The
request API Gateway would send is built from the request template's output (chosen by the
method request's `Content-Type`, or the body passed through) and the integration's
`requestParameters` (`integration.request.header.*`, `integration.request.querystring.*`,
`integration.request.path.*` for `{name}` in the path), then decoded with the service's own
wire protocol (`LocalServiceCalls.call_raw`): a form (`Action=...&...`, with the action and,
for SQS, the queue's URL taken from the URI) for SQS and SNS, else JSON with
`X-Amz-Target: <prefix>.<Action>` (EventBridge, DynamoDB). It runs as the API's account: the
integration's `credentials` role is not evaluated, so the account's own resources are open
to it and another account's only through their resource policies.

The service's answer picks the integration response by its HTTP status (`selectionPattern`,
e.g. `4\\d{2}`, else the default one), whose template sees the service's response body as
`$input`. A service Fireside does not serve, a malformed URI or a failed call to it answers
500 `{"message": "Internal server error"}`, the cause in the server log.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode

from fireside.gateway.rest_api_door import Integrate, RestCall
from fireside.gateway.rest_api_errors import gateway_error
from fireside.gateway.rest_api_mock import map_request, no_response, reply, select_response
from fireside.gateway.rest_api_templates import Overrides, TemplateInput, map_parameter
from fireside.http.types import Request, Response

__all__ = ["RawServiceCalls", "RestIntegrations", "ServiceIntegration"]

log = logging.getLogger(__name__)

_URI = re.compile(
    r"arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]*):(?P<service>[a-z0-9-]+)(?:\.[a-z0-9-]+)?:"
    r"(?P<kind>action|path)/(?P<rest>.+)"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.-]+)\}")
_PARAM = "integration.request."
#: The json protocol version of services whose is not 1.1.
_JSON_TYPES = {"dynamodb": "application/x-amz-json-1.0"}


class RawServiceCalls(Protocol):
    """`fireside.service_calls.LocalServiceCalls` as this module uses it."""

    endpoint_url: str

    def serves(self, service: str) -> bool: ...

    def target_prefix(self, service: str) -> str | None: ...

    async def call_raw(
        self, account: str, region: str, service: str, request: Request, request_id: str
    ) -> Response: ...


def _fail(call: RestCall, why: str, *args: Any) -> Response:
    log.warning("REST API %s: AWS integration: " + why + " (request id %s)",
                call.api["id"], *args, call.request_id)  # fmt: skip
    return gateway_error(500, "Internal server error", call.request_id)


class ServiceIntegration:
    """The `Integrate` hook for `AWS` integrations whose URI names a service's action."""

    def __init__(self, calls: RawServiceCalls) -> None:
        self._calls = calls

    async def __call__(self, call: RestCall, integration: dict[str, Any]) -> Response:
        variables = call.stage.get("variables") or {}
        uri = _STAGE_VARIABLE.sub(lambda m: variables.get(m[1], ""), integration.get("uri", ""))
        match = _URI.fullmatch(uri)
        if match is None:
            return _fail(call, "not an AWS service URI: %s", uri)
        service = match["service"]
        if not self._calls.serves(service):
            return _fail(call, "Fireside does not serve %s", service)
        source = call.template_input()
        overrides = Overrides()
        mapped = map_request(source, integration, call.request, overrides)
        if isinstance(mapped, Response):
            return mapped
        request = self._request(call, integration, source, match, mapped, overrides)
        if isinstance(request, Response):
            return request
        region = match["region"] or call.region
        try:
            answer = await self._calls.call_raw(
                call.account, region, service, request, call.request_id
            )
        except Exception:
            log.exception("REST API %s: the %s call failed", call.api["id"], service)
            return gateway_error(500, "Internal server error", call.request_id)
        if answer.status >= 400:
            log.info("REST API %s: %s answered %s: %s", call.api["id"], service,
                     answer.status, answer.body[:500])  # fmt: skip
        responses: dict[str, dict[str, Any]] = integration.get("integrationResponses") or {}
        chosen = select_response(responses, str(answer.status))
        if chosen is None:
            return no_response("AWS", str(answer.status))
        return reply(source, chosen, call.request, answer.body, answer.headers)

    def _request(
        self,
        call: RestCall,
        integration: dict[str, Any],
        source: TemplateInput,
        match: re.Match[str],
        body: str,
        overrides: Overrides,
    ) -> Request | Response:
        headers: dict[str, str] = {}
        query: list[tuple[str, str]] = []
        path_values: dict[str, str] = {}
        for name, expression in (integration.get("requestParameters") or {}).items():
            if not name.startswith(_PARAM):
                continue
            where, _, key = name[len(_PARAM) :].partition(".")
            value = map_parameter(str(expression), source)
            if value is None:
                continue
            if where == "header":
                headers[key.lower()] = value
            elif where == "querystring":
                query.append((key, value))
            elif where == "path":
                path_values[key] = value
        headers.update((k.lower(), v) for k, v in overrides.request_headers.items())
        query = [q for q in query if q[0] not in overrides.request_query]
        query.extend(overrides.request_query.items())
        path_values.update(overrides.request_path)
        service, kind, rest = match["service"], match["kind"], match["rest"]
        method = str(integration.get("httpMethod") or "POST").upper()
        if service in ("sqs", "sns"):
            pairs = list(query)
            if kind == "action":
                action, _, tail = rest.partition("&")
                pairs.insert(0, ("Action", action))
                pairs.extend(parse_qsl(tail, keep_blank_values=True))
                path = "/"
            else:
                path = "/" + re.sub(
                    r"\{([^}]+)\}", lambda m: quote(path_values.get(m[1], ""), safe=""), rest
                )
                path, _, tail = path.partition("?")
                pairs.extend(parse_qsl(tail, keep_blank_values=True))
                if service == "sqs" and "QueueUrl=" not in body:
                    parts = [p for p in path.split("/") if p]
                    if len(parts) == 1:
                        parts.insert(0, call.account)
                    url = f"{self._calls.endpoint_url}/{'/'.join(parts[-2:])}"
                    pairs.append(("QueueUrl", url))
            form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
            text = body if form else ""
            if pairs:
                text = urlencode(pairs) + ("&" + text if text else "")
            headers["content-type"] = "application/x-www-form-urlencoded"
            return Request("POST", path, "", headers, text.encode())
        if kind != "action":
            return _fail(call, "%s is called by action (action/<Action>), not %s", service, rest)
        prefix = self._calls.target_prefix(service)
        headers.setdefault("x-amz-target", f"{prefix}.{rest}")
        headers.setdefault("content-type", _JSON_TYPES.get(service, "application/x-amz-json-1.1"))
        return Request(method, "/", urlencode(query), headers, body.encode())


class RestIntegrations:
    """The REST door's `integrate`: Lambda URIs to the Lambda integration, others (type AWS)
    to services."""

    def __init__(self, functions: Integrate, services: Integrate) -> None:
        self._functions = functions
        self._services = services

    async def __call__(self, call: RestCall, integration: dict[str, Any]) -> Response:
        uri = str(integration.get("uri", ""))
        if integration.get("type") == "AWS" and ":lambda:path/" not in uri:
            return await self._services(call, integration)
        return await self._functions(call, integration)
