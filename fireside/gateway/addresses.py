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
`execute-api`, and goes where the edge routes AWS APIs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fireside.http.types import Request, Response

__all__ = ["EXECUTE_API", "LAMBDA_URL", "FrontDoorAddress", "FrontDoors", "recognize"]

LAMBDA_URL = "lambda-url"
EXECUTE_API = "execute-api"

_HOST = re.compile(
    r"([a-z0-9]{1,64})\.(lambda-url|execute-api)(?:\.([a-z0-9-]{1,32}))?"
    r"\.(?:localhost|on\.aws|amazonaws\.com)\.?"
)
_PATH = re.compile(r"/_aws/(lambda-url|execute-api)/([A-Za-z0-9]{1,64})(/.*)?")


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
    host = request.headers.get("host", "").lower()
    if ".lambda-url." in host or ".execute-api." in host:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        match = _HOST.fullmatch(name)
        if match is not None and not (match[2] == EXECUTE_API and _management(request.path)):
            return FrontDoorAddress(
                match[2], match[1], match[3], request.path or "/", host, by_path=False
            )
    if request.path.startswith("/_aws/"):
        match = _PATH.fullmatch(request.path)
        if match is not None:
            return FrontDoorAddress(match[1], match[2], None, match[3] or "/", host, by_path=True)
    return None


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
                return response
        # What API Gateway and Function URLs answer for a resource they do not have.
        return Response(
            404,
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", "NotFoundException")],
            b'{"message":"Not Found"}',
        )
