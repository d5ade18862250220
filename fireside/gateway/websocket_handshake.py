"""What the WebSocket door checks of a handshake before any function runs: that it is one
(`Upgrade: websocket` on a GET), that RFC 6455 allows accepting it, and that it carries the
request parameters the `$connect` route requires (`RequestParameters` with `Required`, as
API Gateway validates `$connect` requests).
"""

from __future__ import annotations

import base64
from typing import Any

from fireside.gateway.request_parts import query_pairs
from fireside.http.types import Request

__all__ = ["is_upgrade", "malformed", "missing_parameter"]


def is_upgrade(request: Request) -> bool:
    upgrade = request.headers.get("upgrade", "")
    return request.method == "GET" and "websocket" in upgrade.lower()


def malformed(request: Request) -> bool:
    """A handshake RFC 6455 forbids accepting (no `Connection: Upgrade`, a key that is not 16
    bytes in base64, a version other than 13): the transport refuses it, before `$connect`
    runs a function for a connection that will never open."""
    tokens = {t.strip().lower() for t in request.headers.get("connection", "").split(",")}
    try:
        key = base64.b64decode(request.headers.get("sec-websocket-key", ""), validate=True)
    except ValueError:
        return True
    version = request.headers.get("sec-websocket-version", "").strip()
    return "upgrade" not in tokens or len(key) != 16 or version != "13"


def missing_parameter(route: dict[str, Any], request: Request) -> bool:
    """Whether the handshake lacks a request parameter the `$connect` route requires."""
    query: dict[str, str] | None = None
    for name, spec in (route.get("RequestParameters") or {}).items():
        if not isinstance(spec, dict) or not spec.get("Required"):
            continue
        where, _, key = str(name).removeprefix("route.request.").partition(".")
        if where == "header" and not request.headers.get(key.lower()):
            return True
        if where == "querystring":
            if query is None:
                query = dict(query_pairs(request.query))
            if not query.get(key):
                return True
    return False
