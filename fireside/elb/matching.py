"""Which rule a request matches: ELB's condition semantics, evaluated per request.

Within a condition any value may match; every condition of a rule must. Path patterns are
case-sensitive, host names, header values and query strings are not; `*` matches any run of
characters and `?` exactly one. A query-string condition's pair matches a pair of the request
(its key when given, its value), compared after percent-decoding both. Source IP conditions
are CIDR blocks matched against the client's address.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any
from urllib.parse import unquote_plus

from fireside.http.types import Request

__all__ = ["matches"]


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts) + r"\Z", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=1024)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


def _any(patterns: list[str], text: str, case_sensitive: bool) -> bool:
    return any(_wildcard(p, case_sensitive).match(text) for p in patterns)


def _host(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def _query(request: Request, pairs: list[dict[str, Any]]) -> bool:
    sent = []
    for part in request.query.split("&"):
        if part:
            key, _, value = part.partition("=")
            sent.append((unquote_plus(key), unquote_plus(value)))
    for pair in pairs:
        wanted_key: str | None = pair.get("Key")
        value = unquote_plus(pair.get("Value", ""))
        for sent_key, sent_value in sent:
            if wanted_key is not None and not _wildcard(unquote_plus(wanted_key), False).match(
                sent_key
            ):
                continue
            if _wildcard(value, False).match(sent_value):
                return True
    return False


def _source(request: Request, cidrs: list[str]) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client[0])
    except ValueError:
        return False
    return any(address.version == _network(c).version and address in _network(c) for c in cidrs)


def _condition(request: Request, condition: dict[str, Any]) -> bool:
    field = condition["Field"]
    if field == "path-pattern":
        return _any(condition["Values"], request.path, True)
    if field == "host-header":
        return _any(condition["Values"], _host(request), False)
    if field == "http-request-method":
        return request.method in condition["Values"]
    if field == "http-header":
        config = condition["HttpHeaderConfig"]
        value = request.headers.get(config["HttpHeaderName"].lower())
        return value is not None and _any(config["Values"], value, False)
    if field == "query-string":
        return _query(request, condition["QueryStringConfig"]["Values"])
    if field == "source-ip":
        return _source(request, condition["Values"])
    return False


def matches(request: Request, conditions: list[dict[str, Any]]) -> bool:
    return all(_condition(request, c) for c in conditions)
