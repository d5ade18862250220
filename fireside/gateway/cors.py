"""CORS as Lambda Function URLs and API Gateway HTTP APIs apply their `Cors` configuration
(both use the same members: AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders, MaxAge,
AllowCredentials).

From the Lambda guide ("Cross-origin resource sharing (CORS)") and the HTTP API guide
("Configuring CORS for an HTTP API"): with CORS configured, the front door answers a preflight
(`OPTIONS` with `Origin` and `Access-Control-Request-Method`) itself, without invoking the
function, and adds the configured headers to every response to an allowed origin; where the
function sets `Access-Control-*` headers too, the configured ones take precedence (the
function's are dropped). Without a configuration nothing is added and `OPTIONS` reaches the
function like any method.

The details follow the Fetch standard's CORS protocol, which is what browsers check: an origin
not allowed (or a method or header not allowed, in a preflight) gets no `Access-Control-*`
headers at all, so the browser refuses the call; `*` is answered as `*` unless credentials are
allowed (a credentialed answer must name the origin); an answer that names the origin carries
`Vary: Origin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fireside.http.types import Request, Response

__all__ = ["CorsRules"]


def _lower(values: Any) -> tuple[str, ...]:
    return tuple(str(v).strip().lower() for v in values or () if str(v).strip())


@dataclass(frozen=True, slots=True)
class CorsRules:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def from_config(cls, cors: Mapping[str, Any]) -> CorsRules:
        """From the API's `Cors` member (Lambda's or API Gateway v2's shape)."""
        return cls(
            allow_origins=tuple(str(o).strip() for o in cors.get("AllowOrigins") or ()),
            allow_methods=tuple(str(m).strip().upper() for m in cors.get("AllowMethods") or ()),
            allow_headers=tuple(str(h).strip() for h in cors.get("AllowHeaders") or ()),
            expose_headers=tuple(str(h).strip() for h in cors.get("ExposeHeaders") or ()),
            max_age=cors.get("MaxAge"),
            allow_credentials=bool(cors.get("AllowCredentials")),
        )

    @staticmethod
    def is_preflight(request: Request) -> bool:
        return (
            request.method == "OPTIONS"
            and "origin" in request.headers
            and "access-control-request-method" in request.headers
        )

    def _origin_header(self, origin: str) -> list[tuple[str, str]]:
        """`Access-Control-Allow-Origin` (and `Vary`) for an allowed `origin`; [] if not."""
        if "*" in self.allow_origins and not self.allow_credentials:
            return [("Access-Control-Allow-Origin", "*")]
        wanted = origin.lower().rstrip("/")
        if "*" in self.allow_origins or any(
            o.lower().rstrip("/") == wanted for o in self.allow_origins
        ):
            return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        return []

    def _credentials(self) -> list[tuple[str, str]]:
        return [("Access-Control-Allow-Credentials", "true")] if self.allow_credentials else []

    def preflight(self, request: Request) -> Response:
        """The front door's own answer to a preflight: 200, no body."""
        headers = self._origin_header(request.headers.get("origin", ""))
        method = request.headers.get("access-control-request-method", "").strip().upper()
        if headers and "*" not in self.allow_methods and method not in self.allow_methods:
            headers = []
        asked = _lower(request.headers.get("access-control-request-headers", "").split(","))
        allowed_headers = _lower(self.allow_headers)
        if headers and "*" not in allowed_headers and not set(asked) <= set(allowed_headers):
            headers = []
        if headers:
            methods = "*" if "*" in self.allow_methods else ",".join(self.allow_methods)
            headers.append(("Access-Control-Allow-Methods", methods))
            if self.allow_headers:
                headers.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
            headers.extend(self._credentials())
            if self.max_age is not None:
                headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return Response(200, headers, b"")

    def apply(self, request: Request, response: Response) -> Response:
        """`response` with the configured CORS headers for the request's origin (and any
        `Access-Control-*` headers the function set left out)."""
        headers = [
            (name, value)
            for name, value in response.headers
            if not name.lower().startswith("access-control-")
        ]
        origin = request.headers.get("origin")
        if origin is not None:
            allowed = self._origin_header(origin)
            if allowed:
                headers.extend(allowed)
                headers.extend(self._credentials())
                if self.expose_headers:
                    headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        return Response(response.status, headers, response.body, response.stream)
