"""The `@connections` management API (`apigatewaymanagementapi`, signed as `execute-api`).

Functions (and any client) send to, look at and close WebSocket connections:
`POST|GET|DELETE /@connections/{id}`. AWS serves it on each API's own endpoint
(`https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`): the stage is a path prefix,
which `management_path` strips after the signature is checked (the signature covers it), so the
same operations answer at Fireside's endpoint, on an API's `execute-api.localhost` host, and at
AWS's host name from inside an execution environment. Shapes come from botocore's model
through the protocol layer. Accounts are walls: a connection of another account's API is
`ForbiddenException`, an unknown or closed id `GoneException`. A request addressed to an API
(its host, `<api-id>.execute-api...`, or the `/_aws/execute-api/<api-id>` path) or a stage
(the path's prefix) reaches only that API's or stage's connections: another's is
`GoneException`, as a connection id that API never had. At Fireside's own endpoint with no
stage, any of the account's connections answers.
"""

from __future__ import annotations

import re
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.edge import Operation
from fireside.gateway.websocket_connections import (
    BusyError,
    ConnectionInfo,
    GoneError,
    WebSocketConnections,
)

__all__ = ["MAX_DATA", "ManagementApi", "management_path"]

#: PostToConnection's largest `Data` (API Gateway's 128 KB message quota).
MAX_DATA = 128 * 1024
#: The request body the edge reads for it: the quota plus slack, so a client a little over it
#: reads our 413 rather than a reset connection.
MAX_REQUEST = MAX_DATA + 64 * 1024

_MARKERS = ("/@connections", "/%40connections")
_API_HOST = re.compile(r"([a-z0-9]{1,64})\.execute-api\.", re.IGNORECASE)
_API_PATH = re.compile(r"/_aws/execute-api/([A-Za-z0-9]{1,64})(/.*)?")


def management_path(path: str) -> str:
    """`/<stage>/@connections/<id>` (any prefix, `@` escaped or not) as `/@connections/<id>`."""
    lowered = path.lower()
    for marker in _MARKERS:
        at = lowered.find(marker)
        if at >= 0:
            return "/@connections" + path[at + len(marker) :]
    return path


def addressed(host: str, path: str) -> tuple[str | None, str | None]:
    """The API and the stage a management request names (None for what it does not name):
    the API by its host or by `/_aws/execute-api/<api-id>`, the stage by the path's prefix
    before `/@connections`."""
    api = None
    found = _API_HOST.match(host)
    if found is not None:
        api = found[1]
    lowered = path.lower()
    at = min((i for i in (lowered.find(m) for m in _MARKERS) if i >= 0), default=-1)
    prefix = path[:at] if at >= 0 else ""
    by_path = _API_PATH.fullmatch(prefix)
    if by_path is not None:
        api, prefix = by_path[1], by_path[2] or ""
    stage = prefix.strip("/") or None
    return api, stage


def _gone(connection_id: str) -> ServiceError:
    return ServiceError("GoneException", f"Connection {connection_id} is gone", 410)


class ManagementApi:
    def __init__(self, connections: WebSocketConnections) -> None:
        self.connections = connections

    def operations(self) -> dict[str, Operation]:
        return {
            "PostToConnection": self.post_to_connection,
            "GetConnection": self.get_connection,
            "DeleteConnection": self.delete_connection,
        }

    def _owned(self, ctx: RequestContext, connection_id: str) -> ConnectionInfo:
        info = self.connections.get(connection_id)
        if info is None:
            raise _gone(connection_id)
        if info.account != ctx.account_id:
            raise ServiceError("ForbiddenException", "Forbidden", 403)
        api, stage = addressed(ctx.host, ctx.path)
        if (api is not None and api != info.api_id) or (stage is not None and stage != info.stage):
            raise _gone(connection_id)
        return info

    async def post_to_connection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        connection_id = str(params["ConnectionId"])
        data = params.get("Data") or b""
        if isinstance(data, str):
            data = data.encode()
        if len(data) > MAX_DATA:
            raise ServiceError(
                "PayloadTooLargeException",
                f"Message too long: {len(data)} bytes (at most {MAX_DATA})",
                413,
            )
        self._owned(ctx, connection_id)
        try:
            data.decode("utf-8")
            text = True
        except UnicodeDecodeError:
            text = False  # bytes that are not text go as a binary message
        try:
            await self.connections.send(connection_id, data, text)
        except GoneError:
            raise _gone(connection_id) from None
        except BusyError:
            raise ServiceError(
                "LimitExceededException", "The client side buffer is full", 429
            ) from None
        return {}

    async def get_connection(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        info = self._owned(ctx, str(params["ConnectionId"]))
        return {
            "ConnectedAt": info.connected_at / 1000,
            "LastActiveAt": info.last_active_at / 1000,
            "Identity": {"SourceIp": info.source_ip, "UserAgent": info.user_agent},
        }

    async def delete_connection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        connection_id = str(params["ConnectionId"])
        self._owned(ctx, connection_id)
        try:
            await self.connections.close(connection_id)
        except GoneError:
            raise _gone(connection_id) from None
        return {}
