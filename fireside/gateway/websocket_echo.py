"""An echo WebSocket door at `/_fireside/websocket-echo`, served only with `FIRESIDE_BENCH_ECHO=1`.

It opens connections straight through `WebSocketConnections` (no API, no function): the floor
`bench/realtime.py` measures the transport against, and what the `@connections` tests connect
through without depending on the WebSocket API door. Every message is sent back as it came;
`GET /_fireside/websocket-echo/disconnects` lists the close codes `on_disconnect` received, by
connection id (so tests can check it ran exactly once). Query: `account` (default
000000000000) is the account the connection belongs to.
"""

from __future__ import annotations

import contextlib
import json
import time
from urllib.parse import parse_qs

from fireside.aws.auth import DEFAULT_ACCOUNT
from fireside.gateway.websocket_connections import (
    ConnectionInfo,
    GoneError,
    WebSocketConnections,
)
from fireside.http.types import Request, Response

PATH = "/_fireside/websocket-echo"
_KEPT = 10_000


class EchoDoor:
    def __init__(self, connections: WebSocketConnections, region: str) -> None:
        self.connections = connections
        self.region = region
        #: connection id -> the codes of its disconnects (one, unless something is wrong).
        self.disconnects: dict[str, list[int]] = {}

    async def on_message(self, info: ConnectionInfo, data: bytes, text: bool) -> None:
        with contextlib.suppress(GoneError):
            await self.connections.send(info.connection_id, data, text)

    async def on_disconnect(self, info: ConnectionInfo, code: int, reason: str) -> None:
        if len(self.disconnects) >= _KEPT:
            self.disconnects.pop(next(iter(self.disconnects)))
        self.disconnects.setdefault(info.connection_id, []).append(code)

    def __call__(self, request: Request) -> Response:
        if request.path == PATH + "/disconnects":
            body = json.dumps(self.disconnects).encode()
            return Response(200, [("Content-Type", "application/json")], body)
        query = parse_qs(request.query)
        account = query.get("account", [DEFAULT_ACCOUNT])[0]
        # Tests and benchmarks name the API and stage a connection belongs to.
        api_id = query.get("api", ["echo"])[0]
        stage = query.get("stage", ["bench"])[0]
        if not self.connections.admit(account):
            return Response(429, [("Content-Type", "application/json")], b'{"message":"Too Many Requests"}')  # fmt: skip
        now = int(time.time() * 1000)
        client = request.client
        info = ConnectionInfo(
            connection_id=self.connections.new_id(),
            api_id=api_id,
            stage=stage,
            account=account,
            region=self.region,
            domain_name=f"{api_id}.execute-api.{self.region}.amazonaws.com",
            connected_at=now,
            last_active_at=now,
            source_ip=client[0] if client else "127.0.0.1",
            user_agent=request.headers.get("user-agent", ""),
        )
        response = self.connections.accept(request, info, self)
        if response.upgrade is not None:
            response.headers.append(("X-Connection-Id", info.connection_id))
        return response
