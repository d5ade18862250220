"""A WebSocket API's MOCK integration answering on a two-way route.

API Gateway runs no backend for a MOCK integration: the integration response for the status
the request template gives (200) is selected (`$default`, or a `/regex/` key matching
`200`: a regex wins over `$default`), and its response template (the `$default` one, or the
only one) is rendered with API Gateway's VTL (`rest_api_templates`) over the message (`$input`)
and the connection's `$context` (`connectionId`, `routeKey`, `requestId`...). The result is
the message sent back to the client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fireside.gateway.rest_api_templates import TemplateInput, UnsupportedTemplate, render
from fireside.gateway.websocket_connections import ConnectionInfo

__all__ = ["mock_reply"]

log = logging.getLogger(__name__)


def _chosen(responses: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    chosen = None
    for response in responses.values():
        key = str(response.get("IntegrationResponseKey", ""))
        if key != "$default":
            try:
                if re.fullmatch(key[1:-1], "200"):
                    return response
            except re.error:
                continue
        elif chosen is None:
            chosen = response
    return chosen


def mock_reply(
    info: ConnectionInfo,
    responses: dict[str, dict[str, Any]],
    route_key: str,
    data: bytes,
    request_id: str,
) -> bytes | None:
    """The message a MOCK integration with these integration responses sends back, or None
    (no response for 200, no template, or a template Fireside cannot run: logged)."""
    chosen = _chosen(responses)
    if chosen is None:
        return None
    templates: dict[str, str] = dict(chosen.get("ResponseTemplates") or {})
    template = templates.get("$default") or next(iter(templates.values()), None)
    if template is None:
        return None
    source = TemplateInput(
        body=data,
        context={
            "apiId": info.api_id,
            "connectionId": info.connection_id,
            "domainName": info.domain_name,
            "requestId": request_id,
            "routeKey": route_key,
            "stage": info.stage,
        },
    )
    try:
        return render(template, source).encode()
    except UnsupportedTemplate as unsupported:
        log.warning("WebSocket API %s: template not served: %s", info.api_id, unsupported)
        return None
