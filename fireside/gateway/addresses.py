"""Where a front door's request is addressed: a Function URL or an API Gateway API.

On AWS each has a host of its own: `<url-id>.lambda-url.<region>.on.aws` and
`<api-id>.execute-api.<region>.amazonaws.com`. Fireside serves both on its one endpoint:
- by host: `<url-id>.lambda-url.<region>.localhost:<port>` and
  `<api-id>.execute-api.localhost:<port>` (browsers resolve every `*.localhost` name to
  loopback; `<api-id>.execute-api.<region>.localhost` too), and AWS's own host names, which
  reach Fireside from inside its execution environments (`fireside.compute.aws_names`);
- by path, for clients that cannot choose a host: `/_aws/lambda-url/<url-id>/...` and
  `/_aws/execute-api/<api-id>/...` (the paths LocalStack uses, so scripts written for it work).

A request addressed so never reaches the AWS APIs: a Function URL with `AWS_IAM` auth is signed
for the `lambda` service, yet is not a call to Lambda's control plane. The one exception is
API Gateway's management API (`/<stage>/@connections/...` on an API's host, as AWS's
documentation tells functions to build its endpoint): that is an AWS API, signed for
`execute-api`, and goes where the edge routes AWS APIs (by path too:
`/_aws/execute-api/<api-id>/<stage>/@connections/...`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from fireside.http.types import Request, Response

__all__ = [
    "EXECUTE_API",
    "LAMBDA_URL",
    "MAX_BODY",
    "FrontDoorAddress",
    "FrontDoors",
    "body_limit",
    "recognize",
]

log = logging.getLogger(__name__)

LAMBDA_URL = "lambda-url"
EXECUTE_API = "execute-api"

#: A front door's host, with the port if any (a port that is no port, `:abc`, `:-1`,
#: `:99999999`, makes the Host header invalid: RFC 9110 7.2 wants a 400, and Fireside's edge
#: answers such a request as no front door's).
_HOST = re.compile(
    r"([a-z0-9]{1,64})\.(lambda-url|execute-api)(?:\.([a-z0-9-]{1,32}))?"
    r"\.(?:localhost|on\.aws|amazonaws\.com)\.?(?::([0-9]{1,5}))?"
)
_PATH = re.compile(r"/_aws/(lambda-url|execute-api)/([A-Za-z0-9]{1,64})(/.*)?")
_ABSOLUTE = re.compile(r"https?://([^/?#]*)(/.*)?", re.IGNORECASE)
#: The largest body the edge reads for a front door. API Gateway's payload limit is 10 MB
#: ("Amazon API Gateway quotas"), a Function URL's 6 MB: each door answers its own 413, in
#: AWS's words, to a body it has read. With slack above 10 MB (a client a little over the
#: limit reads the door's answer rather than a reset connection), a larger body is refused by
#: the HTTP layer from its head, unread: without this bound the server's 80 MB applied, and a
#: client could make it buffer 80 MB for a certain 413.
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FrontDoorAddress:
    #: `LAMBDA_URL` or `EXECUTE_API`.
    kind: str
    #: The URL id or the API id (as sent: ids are matched by the front door's store).
    resource_id: str
    #: The region the host names, if it names one.
    region: str | None
    #: The request's path as the front door sees it: "/..." (still percent-encoded).
    path: str
    #: The host the client sent, in lower case, port included.
    host: str
    #: Whether the request named its front door by path rather than by host.
    by_path: bool


def recognize(request: Request) -> FrontDoorAddress | None:
    """The front door a request is addressed to, or None for a call to an AWS API."""
    return address_of(request.path, request.headers)


def address_of(path: str, headers: Mapping[str, str]) -> FrontDoorAddress | None:
    """`recognize` from a request's path (without its query) and headers alone."""
    host = headers.get("host", "").lower()
    if not path.startswith("/"):
        absolute = _ABSOLUTE.fullmatch(path)
        if absolute is None:
            # `CONNECT host:port`, `OPTIONS *`: no front door has such a resource (the
            # target reached functions as their `rawPath`, which must start with `/`).
            return None
        # The absolute form (`GET http://host/path`, RFC 9112 3.2.2): its authority is the
        # request's host and its path the path (it was handed to the function as its path).
        host, path = absolute[1].lower(), absolute[2] or "/"
    if ".lambda-url." in host or ".execute-api." in host:
        match = _HOST.fullmatch(host)
        if (
            match is not None
            and not (match[2] == EXECUTE_API and _management(path))
            and (match[4] is None or 0 < int(match[4]) <= 65535)
        ):
            return FrontDoorAddress(match[2], match[1], match[3], path, host, by_path=False)
    if path.startswith("/_aws/"):
        match = _PATH.fullmatch(path)
        if match is not None and not (match[1] == EXECUTE_API and _management(path)):
            return FrontDoorAddress(match[1], match[2], None, match[3] or "/", host, by_path=True)
    return None


def body_limit(target: str, headers: Mapping[str, str]) -> int | None:
    """`MAX_BODY` for a request head addressed to a front door (`target` is the request
    target as sent, query string included); None for any other."""
    return MAX_BODY if address_of(target.partition("?")[0], headers) is not None else None


def _management(path: str) -> bool:
    """Whether a path on an API's host is the management API's (`/<stage>/@connections`)."""
    return "/@connections" in path or "/%40connections" in path.lower()


#: A front door's handler: its response, or None when it has no resource with that id (the
#: next handler of the kind is asked: REST and HTTP APIs share `execute-api` addresses).
FrontDoor = Callable[[FrontDoorAddress, Request], Awaitable[Response | None]]


class FrontDoors:
    """The front doors the edge hands addressed requests to, by kind."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[FrontDoor]] = {}

    def register(self, kind: str, handler: FrontDoor) -> None:
        self._by_kind.setdefault(kind, []).append(handler)

    async def __call__(self, address: FrontDoorAddress, request: Request) -> Response:
        for handler in self._by_kind.get(address.kind, ()):
            response = await handler(address, request)
            if response is not None:
                response.headers = _wire_headers(response.headers, address)
                return response
        # What API Gateway and Function URLs answer for a resource they do not have.
        return Response(
            404,
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", "NotFoundException")],
            b'{"message":"Not Found"}',
        )


#: An HTTP field name (RFC 9110 5.1: a token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BREAKS = re.compile(r"[\r\n\0]")
#: Headers that frame the message: the HTTP layer writes its own (`Content-Length`), and one
#: from a configuration (a REST API's mapped `Content-Length`) would break the framing of the
#: connection's next answer. (A function's own are dropped by the payload formats.)
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
     "trailer", "proxy-connection"}
)  # fmt: skip


def _wire_headers(
    headers: list[tuple[str, str]], address: FrontDoorAddress
) -> list[tuple[str, str]]:
    """A front door's response headers as they may go on the wire. Besides a function's own
    headers (checked by the payload formats), a response carries headers made of an API's or
    URL's configuration: CORS members, a REST API's mapped headers and gateway responses, which
    the control planes store as any text (as AWS's do). Text outside Latin-1 (`€`) is sent as
    its UTF-8 bytes: left as it was, the HTTP layer could not encode the head and the client
    got no answer at all. A name that is not a token, or a value with CR, LF or NUL, would
    split the head and smuggle in headers: it is dropped, and logged for the API's owner.
    Framing headers are dropped (the HTTP layer frames the message)."""
    safe = []
    for name, value in headers:
        if not _TOKEN.fullmatch(name) or _BREAKS.search(value):
            log.warning(
                "%s %s: response header %r dropped: not valid in HTTP",
                address.kind,
                address.resource_id,
                name,
            )
            continue
        if name.lower() in _FRAMING:
            continue
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            value = value.encode("utf-8").decode("latin-1")
        safe.append((name, value))
    return safe
