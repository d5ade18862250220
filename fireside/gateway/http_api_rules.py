"""What API Gateway accepts in an HTTP API's resources, and its errors, worded as AWS words them.

Shared by the control plane (`http_api_provider`) and the OpenAPI import (`openapi_import`),
so an imported route is held to the same rules as one made with CreateRoute.
"""

from __future__ import annotations

import re
from typing import Any

from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.gateway import service_integrations

__all__ = [
    "HTTP_METHODS",
    "bad_request",
    "conflict",
    "lambda_arn_of",
    "not_found",
    "parse_route_key",
    "validate_integration",
]

apigatewayv2_error = ModelledErrors("apigatewayv2")

#: The methods an HTTP API route may name (`ANY` matches every method).
HTTP_METHODS = frozenset({"ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
INTEGRATION_TYPES = frozenset({"AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"})
MAX_TIMEOUT_MS = 30_000
MIN_TIMEOUT_MS = 50

_SEGMENT = re.compile(r"\{[A-Za-z0-9_.-]+\+?\}|[A-Za-z0-9._~:@!$&'()*,;=%-]+")
# `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations`
_INVOCATION_URI = re.compile(
    r"arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/[0-9-]+/functions/(.+)/invocations"
)
_LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?"
)


def bad_request(message: str) -> ServiceError:
    return apigatewayv2_error("BadRequestException", message)


def conflict(message: str) -> ServiceError:
    return apigatewayv2_error("ConflictException", message)


def not_found(message: str, resource_type: str | None = None) -> ServiceError:
    if resource_type is None:
        return apigatewayv2_error("NotFoundException", message)
    return apigatewayv2_error("NotFoundException", message, ResourceType=resource_type)


def member(items: dict[str, dict[str, Any]], item_id: str, kind: str) -> dict[str, Any]:
    """An API's route, integration, authorizer or deployment by id; AWS's NotFound if absent
    (`Invalid <kind> identifier specified <id>`)."""
    item = items.get(item_id)
    if item is None:
        raise not_found(f"Invalid {kind} identifier specified {item_id}")
    return item


def parse_route_key(route_key: str) -> tuple[str, str] | None:
    """(method, path) of an HTTP API route key, None for `$default`; BadRequest if invalid.

    A path starts with `/`; each segment is literal text or one `{name}` parameter; a greedy
    `{name+}` may only be the last segment."""
    if route_key == "$default":
        return None
    method, _, path = route_key.partition(" ")
    if method not in HTTP_METHODS or not path.startswith("/") or " " in path:
        raise bad_request(
            f"Unable to create route {route_key}. The route key must be '$default' or an "
            "HTTP method and a resource path separated by a space, e.g. 'GET /pets'."
        )
    if path != "/":
        segments = path[1:].split("/")
        for index, segment in enumerate(segments):
            if not _SEGMENT.fullmatch(segment):
                raise bad_request(f"Unable to create route {route_key}. Invalid path: {path}")
            if segment.endswith("+}") and index != len(segments) - 1:
                raise bad_request(
                    f"Unable to create route {route_key}. A greedy path variable must be the "
                    "last segment of the path."
                )
    return method, path


def lambda_arn_of(uri: str) -> str | None:
    """The function ARN an AWS_PROXY integration's URI names (a Lambda ARN, or API Gateway's
    `.../functions/<arn>/invocations` form), or None when it names no function."""
    match = _INVOCATION_URI.fullmatch(uri)
    if match is not None:
        uri = match[1]
    return uri if _LAMBDA_ARN.fullmatch(uri) else None


def validate_integration(integration: dict[str, Any], protocol: str) -> None:
    """Check an integration's members after a create or an update."""
    kind = integration.get("IntegrationType")
    if kind not in INTEGRATION_TYPES:
        raise bad_request(
            f"Invalid integration type specified. Must be one of {sorted(INTEGRATION_TYPES)}"
        )
    if protocol == "HTTP" and kind not in ("AWS_PROXY", "HTTP_PROXY"):
        raise bad_request(
            "Currently, an API with a protocol type of HTTP may only be associated with proxy "
            "integrations (AWS_PROXY, HTTP_PROXY)"
        )
    timeout = integration.get("TimeoutInMillis")
    if timeout is not None and not (MIN_TIMEOUT_MS <= timeout <= MAX_TIMEOUT_MS):
        raise bad_request("Timeout must be between 50 milliseconds and 30 seconds.")
    version = integration.get("PayloadFormatVersion")
    if version not in (None, "1.0", "2.0"):
        raise bad_request("PayloadFormatVersion must be 1.0 or 2.0")
    if kind == "HTTP_PROXY" and version == "2.0":
        raise bad_request("PayloadFormatVersion 2.0 is not supported for HTTP_PROXY integrations.")
    uri = integration.get("IntegrationUri")
    if kind == "AWS_PROXY" and protocol == "HTTP" and integration.get("IntegrationSubtype"):
        service_integrations.check(integration)
    elif kind == "AWS_PROXY" and protocol == "HTTP":
        if not uri:
            raise bad_request("IntegrationUri is required for AWS_PROXY integrations.")
        if lambda_arn_of(uri) is None and not uri.startswith("arn:"):
            raise bad_request(f"Invalid integration URI specified: {uri}")
