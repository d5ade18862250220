"""The parts of an HTTP request every front door's event is made of, read the way AWS reads
them: the query string decoded into parameters, cookies, whether a body travels as text or
base64, the caller's address and the request time in API Gateway's two formats.

Shared by payload format 1.0 (`payload_v1`) and 2.0 (`payload_v2`).
"""

from __future__ import annotations

import base64
import time
from urllib.parse import unquote_plus

from fireside.http.types import Request

__all__ = [
    "body_for_event",
    "cookies_of",
    "domain_prefix",
    "forwarded_headers",
    "is_text",
    "query_pairs",
    "request_time",
    "source_ip",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Media types whose bodies reach a function as text (everything else as base64), as Lambda's
#: HTTP front doors treat them: `text/*`, JSON, XML and JavaScript, with or without a
#: structured suffix (`application/ld+json`, `image/svg+xml`). A form post
#: (`application/x-www-form-urlencoded`, `multipart/form-data`) arrives base64-encoded, as
#: AWS sends it (LocalStack's AWS-validated `test_lambda_url_form_payload`).
_TEXT_SUBTYPES = ("json", "xml", "javascript")


def is_text(content_type: str | None) -> bool:
    """Whether a body of this content type is passed to a function as text."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind == "text":
        return True
    if kind != "application" and not subtype.endswith(("+json", "+xml")):
        return False
    return subtype in _TEXT_SUBTYPES or subtype.endswith(("+json", "+xml"))


def body_for_event(body: bytes, text: bool) -> tuple[str | None, bool]:
    """(`body`, `isBase64Encoded`) of an event: None for no body; text only when the content
    type says so *and* the bytes are UTF-8 (a JSON body that is not is sent as base64)."""
    if not body:
        return None, False
    if text:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def query_pairs(raw: str) -> list[tuple[str, str]]:
    """The query string's parameters in order, decoded (`+` is a space), blanks kept."""
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def cookies_of(request: Request) -> list[str]:
    """Each cookie the `Cookie` header(s) carry, as `name=value` (the edge joins repeated
    headers with commas; a cookie's own separator is `;`)."""
    header = request.headers.get("cookie", "")
    return [c.strip() for part in header.split(";") for c in part.split(",") if c.strip()]


def source_ip(request: Request) -> str:
    return request.client[0] if request.client else "127.0.0.1"


def domain_prefix(domain_name: str) -> str:
    """The first label of a host name, port left out."""
    return domain_name.split(":", 1)[0].split(".", 1)[0]


def forwarded_headers(request: Request, trace_id: str) -> dict[str, str]:
    """The headers AWS's front ends add to what a function sees: the caller's address, the
    scheme and port it connected to, and the trace id."""
    host = request.headers.get("host", "")
    port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else "80"
    forwarded = request.headers.get("x-forwarded-for")
    ip = source_ip(request)
    return {
        "x-amzn-trace-id": request.headers.get("x-amzn-trace-id", trace_id),
        "x-forwarded-for": f"{forwarded}, {ip}" if forwarded else ip,
        "x-forwarded-port": port,
        "x-forwarded-proto": "http",
    }


def request_time(epoch: float) -> str:
    """`12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time` (and v1's
    `requestTime`), locale-independent."""
    t = time.gmtime(epoch)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )
