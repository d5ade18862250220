"""CORS for HTTP APIs, from the API's `CorsConfiguration`, as API Gateway applies it.

With a CORS configuration, API Gateway answers every preflight (`OPTIONS` with `Origin` and
`Access-Control-Request-Method`) itself, whether or not an `OPTIONS` route exists, and it
replaces the CORS headers of the integration's responses with its own ("Configuring CORS for
an HTTP API"). Without one, requests pass to the routes as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["cors_headers", "is_preflight", "preflight_headers", "strip_cors"]


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return (
        method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers
    )


def _allowed_origin(cors: dict[str, Any], origin: str | None) -> str | None:
    if origin is None:
        return None
    allowed = [str(o) for o in cors.get("AllowOrigins") or ()]
    if "*" in allowed:
        # A wildcard cannot be sent with credentials: browsers refuse it, so the origin is.
        return origin if cors.get("AllowCredentials") else "*"
    lowered = origin.lower()
    for candidate in allowed:
        if candidate.lower() == lowered:
            return origin
        # `https://*.example.com`: one wildcard label in front.
        if "*." in candidate:
            scheme, _, host = candidate.partition("*.")
            if lowered.startswith(scheme.lower()) and lowered.endswith("." + host.lower()):
                return origin
    return None


def _join(values: Any) -> str:
    return ",".join(str(v) for v in values or ())


def preflight_headers(cors: dict[str, Any], headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The headers of API Gateway's answer (204) to a preflight, empty for an origin it does
    not allow."""
    origin = _allowed_origin(cors, headers.get("origin"))
    if origin is None:
        return []
    answer = [("Access-Control-Allow-Origin", origin)]
    methods = [str(m).upper() for m in cors.get("AllowMethods") or ()]
    requested = headers.get("access-control-request-method", "").upper()
    if methods:
        answer.append(
            ("Access-Control-Allow-Methods", requested if "*" in methods else ",".join(methods))
        )
    allow_headers = [str(h).lower() for h in cors.get("AllowHeaders") or ()]
    if allow_headers:
        if "*" in allow_headers:
            value = headers.get("access-control-request-headers", "*")
        else:
            value = ",".join(allow_headers)
        answer.append(("Access-Control-Allow-Headers", value))
    if cors.get("MaxAge") is not None:
        answer.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        answer.append(("Access-Control-Allow-Credentials", "true"))
    if origin != "*":
        answer.append(("Vary", "Origin"))
    return answer


def cors_headers(cors: dict[str, Any], headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The CORS headers API Gateway adds to an actual (not preflight) response."""
    origin = _allowed_origin(cors, headers.get("origin"))
    if origin is None:
        return []
    answer = [("Access-Control-Allow-Origin", origin)]
    if cors.get("ExposeHeaders"):
        answer.append(("Access-Control-Expose-Headers", _join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        answer.append(("Access-Control-Allow-Credentials", "true"))
    if origin != "*":
        answer.append(("Vary", "Origin"))
    return answer


def strip_cors(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The integration's headers without its own CORS headers (API Gateway's replace them)."""
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
