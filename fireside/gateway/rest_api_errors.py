"""The REST API front door's own error responses (API Gateway's "gateway responses"):
`{"message": ...}` with an `x-amzn-ErrorType`, made by `gateway_error` anywhere in the door,
then shaped by the deployed API's gateway responses in one place (`customized`).
"""

from __future__ import annotations

import json
from typing import Any

from fireside.gateway.rest_api_definitions import apply_gateway_response
from fireside.http.types import Response

__all__ = ["customized", "gateway_error"]

_ERROR_TYPES = {
    403: "ForbiddenException",
    429: "TooManyRequestsException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    504: "IntegrationTimeoutException",
}


#: Marks the front door's own errors until the door applies the API's gateway responses.
_GATEWAY_MARK = "x-fireside-gateway-response"
#: The gateway response type of each error type the front door answers with.
_RESPONSE_TYPES = {
    "MissingAuthenticationTokenException": "MISSING_AUTHENTICATION_TOKEN",
    "ForbiddenException": "INVALID_API_KEY",
    "TooManyRequestsException": "THROTTLED",
    "LimitExceededException": "QUOTA_EXCEEDED",
    "InvalidSignatureException": "INVALID_SIGNATURE",
    "IncompleteSignatureException": "INVALID_SIGNATURE",
    "UnauthorizedException": "UNAUTHORIZED",
    "AccessDeniedException": "ACCESS_DENIED",
    "AuthorizerConfigurationException": "AUTHORIZER_CONFIGURATION_ERROR",
    "IntegrationTimeoutException": "INTEGRATION_TIMEOUT",
    "RequestTooLargeException": "REQUEST_TOO_LARGE",
    "UnsupportedMediaTypeException": "UNSUPPORTED_MEDIA_TYPE",
    "BadRequestException": "BAD_REQUEST_PARAMETERS",
}


def gateway_error(
    status: int, message: str, request_id: str, error_type: str | None = None
) -> Response:
    """One of API Gateway's own (gateway) responses: `{"message": ...}` with its error type."""
    return Response(
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error_type or _ERROR_TYPES.get(status, "ForbiddenException")),
            (_GATEWAY_MARK, message),
        ],
        json.dumps({"message": message}, separators=(",", ":")).encode(),
    )


def customized(response: Response, deployment: dict[str, Any] | None) -> Response:
    """A front-door error as the deployment's gateway responses shape it (the mark removed)."""
    message = next((v for k, v in response.headers if k == _GATEWAY_MARK), None)
    if message is None:
        return response
    response.headers = [(k, v) for k, v in response.headers if k != _GATEWAY_MARK]
    responses = (deployment or {}).get("_gatewayResponses")
    if not responses:
        return response
    error_type = next((v for k, v in response.headers if k == "x-amzn-ErrorType"), "")
    kind = _RESPONSE_TYPES.get(
        error_type, "DEFAULT_5XX" if response.status >= 500 else "DEFAULT_4XX"
    )
    return apply_gateway_response(responses, kind, response, message)
