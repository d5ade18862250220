"""MOCK integrations: the request template picks a status, the integration response built on
it is the reply.

As API Gateway does it: the request's mapping template is chosen by its `Content-Type`
(`application/json` when it has none); with no matching template, the body passes through
under `WHEN_NO_MATCH` (and `WHEN_NO_TEMPLATES` when the integration has no templates at all),
else 415. The result's `statusCode` (200 when absent) is the integration's status: the
integration response whose `selectionPattern` matches it (a regular expression over the
whole status) is chosen, else the one without a pattern, else 500 (AWS's "no default output
mapping" configuration error). That response's status is the reply's; its template, chosen
by the request's `Accept` (falling back to `application/json`, then the first), is the body
(none for MOCK otherwise); its `responseParameters` set the reply's headers.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fireside.gateway.rest_api_errors import gateway_error
from fireside.gateway.rest_api_templates import Overrides, TemplateInput, map_parameter, render
from fireside.http.types import Request, Response

__all__ = [
    "map_request",
    "mock_response",
    "no_response",
    "reply",
    "select_response",
    "select_template",
]

log = logging.getLogger(__name__)

_HEADER = "method.response.header."


def select_template(templates: dict[str, str], wanted: str) -> tuple[str, str] | None:
    """(content type, template) of `templates` for a `wanted` media type (a header value)."""
    for media in (m.split(";")[0].strip().lower() for m in wanted.split(",")):
        for key, template in templates.items():
            if key.lower() == media:
                return key, template
    return None


def select_response(responses: dict[str, dict[str, Any]], status: str) -> dict[str, Any] | None:
    default = None
    for response in responses.values():
        pattern = response.get("selectionPattern")
        if not pattern:
            default = default or response
            continue
        try:
            if re.fullmatch(pattern, status, re.DOTALL):
                return response
        except re.error:
            continue
    return default


def _error(status: int, message: str) -> Response:
    return Response(
        status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode()
    )


def map_request(
    source: TemplateInput,
    integration: dict[str, Any],
    request: Request,
    overrides: Overrides | None = None,
) -> str | Response:
    """The integration request: the request template chosen by `Content-Type` rendered (what
    it sets in `$context.requestOverride` into `overrides`), or the body passed through; a
    415 response when `passthroughBehavior` forbids that."""
    templates: dict[str, str] = integration.get("requestTemplates") or {}
    content_type = request.headers.get("content-type") or "application/json"
    chosen = select_template(templates, content_type)
    if chosen is not None:
        return render(chosen[1], source, overrides)
    behaviour = integration.get("passthroughBehavior", "WHEN_NO_MATCH")
    if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and templates):
        request_id = str(source.context.get("requestId", ""))
        return gateway_error(
            415, "Unsupported Media Type", request_id, "UnsupportedMediaTypeException"
        )
    return request.body.decode("utf-8", "replace")


def no_response(kind: str, selected_by: str) -> Response:
    log.warning(
        "%s integration: no integration response matches %r and none is the default (AWS: "
        "'No match for output mapping and no default output mapping')",
        kind,
        selected_by,
    )
    return _error(500, "Internal server error")


def reply(
    source: TemplateInput,
    response: dict[str, Any],
    request: Request,
    body: bytes,
    integration_headers: list[tuple[str, str]] | None = None,
) -> Response:
    """The method's response from the chosen integration response, whose templates and
    parameter mappings see the integration's output `body` as `$input` /
    `integration.response.body`; with no template, `body` itself."""
    answer = TemplateInput(
        body=body,
        context=source.context,
        stage_variables=source.stage_variables,
        path_params=source.path_params,
        query=source.query,
        headers=source.headers,
        response_headers={k.lower(): v for k, v in integration_headers or []},
    )
    headers: list[tuple[str, str]] = []
    overrides = Overrides()
    reply_type = "application/json"
    response_templates: dict[str, str] = response.get("responseTemplates") or {}
    if response_templates:
        picked = select_template(response_templates, request.headers.get("accept", ""))
        picked = picked or select_template(response_templates, "application/json")
        if picked is None:
            picked = next(iter(response_templates.items()))
        reply_type = picked[0]
        body = render(picked[1] or "", answer, overrides).encode()
    for name, expression in (response.get("responseParameters") or {}).items():
        if name.startswith(_HEADER):
            value = map_parameter(str(expression), answer)
            if value is not None:
                headers.append((name[len(_HEADER) :], value))
    if overrides.response_headers:
        replaced = {name.lower() for name in overrides.response_headers}
        headers = [h for h in headers if h[0].lower() not in replaced]
        headers.extend(overrides.response_headers.items())
    if not any(h[0].lower() == "content-type" for h in headers):
        headers.insert(0, ("Content-Type", reply_type))
    return Response(overrides.status or int(response["statusCode"]), headers, body)


def mock_response(source: TemplateInput, integration: dict[str, Any], request: Request) -> Response:
    rendered = map_request(source, integration, request)
    if isinstance(rendered, Response):
        return rendered
    status = "200"
    try:
        parsed = json.loads(rendered) if rendered.strip() else {}
    except (ValueError, RecursionError):  # nested too deep to read is not JSON to us
        parsed = None
    if isinstance(parsed, dict) and "statusCode" in parsed:
        status = str(parsed["statusCode"])
    responses: dict[str, dict[str, Any]] = integration.get("integrationResponses") or {}
    response = select_response(responses, status)
    if response is None:
        return no_response("MOCK", status)
    return reply(source, response, request, b"")
