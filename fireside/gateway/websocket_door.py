"""The WebSocket APIs' data plane: the `$connect` handshake, then each message and the close.

The handshake (`ws://<api-id>.execute-api.localhost:<port>/<stage>`, or the path-based
`/_aws/execute-api/<api-id>/<stage>`), as API Gateway takes it:
1. the API (another front door's id, or an HTTP API's, gets None: the next door is asked);
2. the stage, the path's one segment: none, or more path below it: 403 `{"message":
   "Forbidden"}` (API Gateway's answer to what it does not serve);
3. a request that is not a WebSocket upgrade: 426 `{"message":"Upgrade Required"}` (Fireside's
   answer; API Gateway serves nothing else there);
4. the account's new-connection rate (`connections.admit`, 500/s): 429;
   a handshake RFC 6455 forbids accepting gets the transport's refusal (400, 426), before
   any function runs;
5. the `$connect` route's required request parameters (`RequestParameters` with `Required`:
   a header or query parameter missing or empty: 400 `{"message":"Bad Request"}`); its
   authorization (`websocket_authorizer`: a Lambda REQUEST authorizer,
   401, 403 or 500; or `AWS_IAM`, a SigV4-signed handshake, 403);
6. the `$connect` route's integration: a function's non-2xx `statusCode` refuses the
   upgrade with that status, a failing function with 502 (a MOCK integration, or no
   `$connect` route, accepts);
7. `connections.accept`, which answers 101 and hands the connection to the transport.

Then the door is the connection's `ConnectionHandler`. A message's route comes from the API's
`RouteSelectionExpression` (`websocket_routes`), in the stage's current deployment; its
integration (AWS_PROXY: the function, with the permission check for
`arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<routeKey>`; MOCK: the integration
response's template) runs, and on a two-way route (one with a route response) its answer is
sent back to the client. A message no route takes, or whose integration fails, gets API
Gateway's error frame: `{"message": "Forbidden", "connectionId":"...", "requestId":"..."}`
(or "Internal server error"). A close runs `$disconnect` (best effort, as on AWS: its
answer is not anyone's).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fireside.aws.auth import Authenticator
from fireside.gateway import payload_websocket
from fireside.gateway.addresses import FrontDoorAddress
from fireside.gateway.http_api_rules import lambda_arn_of
from fireside.gateway.http_api_store import HttpApi, HttpApiStore
from fireside.gateway.integration import (
    ApiGatewaySource,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.gateway.websocket_authorizer import Denied, WebSocketAuthorizer, iam_identity
from fireside.gateway.websocket_connections import (
    BusyError,
    ConnectionInfo,
    GoneError,
    WebSocketConnections,
)
from fireside.gateway.websocket_handshake import is_upgrade, malformed, missing_parameter
from fireside.gateway.websocket_mock import mock_reply
from fireside.gateway.websocket_routes import RouteSelector
from fireside.http.types import Request, Response

__all__ = ["WebSocketDoor"]

log = logging.getLogger(__name__)

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.:/?#&=,-]+)\}")
_TABLES_KEPT = 256
#: A connection's authorizer results kept at most (each connection's is dropped on its close).
_SESSIONS_KEPT = 200_000
#: Seconds a `$disconnect` throttled by a full machine is tried again: AWS runs it within
#: the account's concurrency, so it is not dropped when a thousand connections close at once
#: on a machine with 64 environments.
_DISCONNECT_PATIENCE = 60.0


def _request_id() -> str:
    # API Gateway's WebSocket ids look like `R1knPH17NjMFftw=`: 10 random bytes in base64.
    return base64.b64encode(os.urandom(10)).decode()


def _message(status: int, message: str) -> Response:
    return Response(
        status,
        [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))],
        json.dumps({"message": message}, separators=(",", ":")).encode(),
    )


def error_frame(message: str, connection_id: str, request_id: str) -> bytes:
    """API Gateway's error frame, spaced as AWS spaces it."""
    return (
        f'{{"message": {json.dumps(message)}, "connectionId":{json.dumps(connection_id)}, '
        f'"requestId":{json.dumps(request_id)}}}'
    ).encode()


@dataclass(frozen=True, slots=True)
class _Session:
    """What a connection's `$connect` authorization gave every later event."""

    authorizer: dict[str, Any] | None
    identity: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Deployed:
    selector: RouteSelector
    integrations: dict[str, dict[str, Any]]
    authorizers: dict[str, dict[str, Any]]
    route_responses: dict[str, dict[str, dict[str, Any]]]
    integration_responses: dict[str, dict[str, dict[str, Any]]]

    def integration_of(self, route: dict[str, Any]) -> dict[str, Any] | None:
        target = str(route.get("Target") or "")
        return self.integrations.get(target.removeprefix("integrations/"))

    def two_way(self, route: dict[str, Any]) -> bool:
        """Whether the route sends its integration's answer back (it has a route response)."""
        return bool(self.route_responses.get(str(route.get("RouteId"))))


_NO_SESSION = _Session(None, None)


class WebSocketDoor:
    """The front door of WebSocket APIs (registered for `EXECUTE_API` before HTTP APIs')."""

    def __init__(
        self,
        store: HttpApiStore,
        caller: FunctionCaller,
        connections: WebSocketConnections,
        *,
        authenticator: Authenticator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._caller = caller
        self._connections = connections
        self._authorizer = WebSocketAuthorizer(caller, clock=clock)
        self._authenticator = authenticator
        self._clock = clock
        self._tables: OrderedDict[tuple[str, str, str], _Deployed] = OrderedDict()
        #: The authorizer's result and the IAM signer of each connection that had them.
        self._sessions: dict[str, _Session] = {}

    # -- the handshake ---------------------------------------------------------------------
    async def __call__(self, address: FrontDoorAddress, request: Request) -> Response | None:
        api = self._store.get(address.resource_id)
        if api is None or api.api.get("ProtocolType") != "WEBSOCKET":
            return None
        if api.api.get("DisableExecuteApiEndpoint"):
            return _message(403, "Forbidden")
        name, _, rest = address.path[1:].partition("/")
        stage = api.stages.get(name) if name else None
        if stage is None or rest:
            return _message(403, "Forbidden")
        if not is_upgrade(request):
            response = _message(426, "Upgrade Required")
            response.headers.append(("Upgrade", "websocket"))
            return response
        if not self._connections.admit(api.account):
            return _message(429, "Too Many Requests")
        return await self._connect(api, stage, request)

    async def _connect(self, api: HttpApi, stage: dict[str, Any], request: Request) -> Response:
        now = self._clock()
        info = ConnectionInfo(
            connection_id=self._connections.new_id(),
            api_id=api.api_id,
            stage=str(stage["StageName"]),
            account=api.account,
            region=api.region,
            domain_name=f"{api.api_id}.execute-api.{api.region}.amazonaws.com",
            connected_at=int(now * 1000),
            last_active_at=int(now * 1000),
            source_ip=request.client[0] if request.client else "127.0.0.1",
            user_agent=request.headers.get("user-agent", ""),
        )
        deployed = self._deployed(api, stage)
        variables = dict(stage.get("StageVariables") or {})
        request_id = _request_id()
        trace_id = f"Root=1-{int(now):08x}-{os.urandom(12).hex()}"
        if malformed(request):
            return self._connections.accept(request, info, self)  # its refusal
        route = deployed.selector.route("$connect")
        if route is not None and missing_parameter(route, request):
            return _message(400, "Bad Request")
        kind = route.get("AuthorizationType") if route is not None else None
        identity: dict[str, Any] | None = None
        if kind == "AWS_IAM":
            try:
                identity = iam_identity(self._authenticator, request)
            except Denied as denied:
                log.info("WebSocket API %s: $connect refused: %s", api.api_id, denied)
                return _message(403, "Forbidden")
        event = payload_websocket.connect_event(
            request, info, request_id=request_id, now=now, trace_id=trace_id,
            stage_variables=variables, identity=identity,
        )  # fmt: skip
        authorizer: dict[str, Any] | None = None
        if route is not None and kind == "CUSTOM":
            found = deployed.authorizers.get(str(route.get("AuthorizerId")))
            if found is None:
                return _message(500, "Internal server error")
            try:
                authorizer = await self._authorizer.check(
                    found, request, event, account=api.account, region=api.region,
                    api_id=api.api_id, method_arn=self._route_arn(info, "$connect"),
                    stage_variables=variables, trace_id=trace_id,
                )  # fmt: skip
            except Denied as denied:
                log.info("WebSocket API %s: $connect refused: %s", api.api_id, denied)
                words = {401: "Unauthorized", 403: "Forbidden"}
                return _message(denied.status, words.get(denied.status, "Internal server error"))
            event["requestContext"]["authorizer"] = authorizer
        headers: list[tuple[str, str]] = []
        integration = deployed.integration_of(route) if route is not None else None
        if integration is not None and integration.get("IntegrationType") == "AWS_PROXY":
            answer = await self._invoke(info, "$connect", integration, event, variables, trace_id)
            if answer is None:
                return _message(502, "Internal server error")
            if not 200 <= answer.status < 300:
                return Response(answer.status, answer.headers, answer.body or b"")
            headers = answer.headers
        response = self._connections.accept(request, info, self, headers=headers)
        if response.status == 101 and (authorizer is not None or identity is not None):
            if len(self._sessions) >= _SESSIONS_KEPT:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[info.connection_id] = _Session(authorizer, identity)
        return response

    # -- the connection --------------------------------------------------------------------
    async def on_message(self, info: ConnectionInfo, data: bytes, text: bool) -> None:
        request_id = _request_id()
        api = self._store.get(info.api_id)
        stage = api.stages.get(info.stage) if api is not None else None
        if api is None or stage is None:
            await self._send(info, error_frame("Forbidden", info.connection_id, request_id))
            return
        deployed = self._deployed(api, stage)
        selection = deployed.selector.select(data, text)
        route = selection.route
        if route is None:
            await self._send(info, error_frame("Forbidden", info.connection_id, request_id))
            return
        route_key = str(route["RouteKey"])
        integration = deployed.integration_of(route)
        kind = integration.get("IntegrationType") if integration is not None else None
        now = self._clock()
        variables = dict(stage.get("StageVariables") or {})
        if integration is not None and kind == "AWS_PROXY":
            session = self._sessions.get(info.connection_id) or _NO_SESSION
            event = payload_websocket.message_event(
                info, route_key, data, text, request_id=request_id, message_id=_request_id(),
                now=now, stage_variables=variables, authorizer=session.authorizer,
                identity=session.identity,
            )  # fmt: skip
            trace_id = f"Root=1-{int(now):08x}-{os.urandom(12).hex()}"
            answer = await self._invoke(info, route_key, integration, event, variables, trace_id)
            if answer is None:
                frame = error_frame("Internal server error", info.connection_id, request_id)
                await self._send(info, frame)
            elif deployed.two_way(route) and answer.body is not None:
                await self._send(info, answer.body, answer.text)
        elif integration is not None and kind == "MOCK":
            if deployed.two_way(route):
                responses = deployed.integration_responses.get(
                    str(integration.get("IntegrationId")), {}
                )
                reply = mock_reply(info, responses, route_key, data, request_id)
                if reply is not None:
                    await self._send(info, reply)
        else:
            log.warning(
                "WebSocket API %s: route %s has a %s integration, which Fireside does not serve",
                api.api_id,
                route_key,
                kind,
            )
            await self._send(
                info, error_frame("Internal server error", info.connection_id, request_id)
            )

    async def on_disconnect(self, info: ConnectionInfo, code: int, reason: str) -> None:
        session = self._sessions.pop(info.connection_id, None) or _NO_SESSION
        api = self._store.get(info.api_id)
        stage = api.stages.get(info.stage) if api is not None else None
        if api is None or stage is None:
            return
        deployed = self._deployed(api, stage)
        route = deployed.selector.route("$disconnect")
        integration = deployed.integration_of(route) if route is not None else None
        if integration is None or integration.get("IntegrationType") != "AWS_PROXY":
            return
        now = self._clock()
        variables = dict(stage.get("StageVariables") or {})
        event = payload_websocket.disconnect_event(
            info, code, reason, request_id=_request_id(), now=now,
            host=info.domain_name, stage_variables=variables, authorizer=session.authorizer,
            identity=session.identity,
        )  # fmt: skip
        trace_id = f"Root=1-{int(now):08x}-{os.urandom(12).hex()}"
        await self._invoke(
            info, "$disconnect", integration, event, variables, trace_id,
            patience=_DISCONNECT_PATIENCE,
        )  # fmt: skip

    # -- integrations ----------------------------------------------------------------------
    @staticmethod
    def _route_arn(info: ConnectionInfo, route_key: str) -> str:
        return (
            f"arn:aws:execute-api:{info.region}:{info.account}:{info.api_id}"
            f"/{info.stage}/{route_key}"
        )

    async def _invoke(
        self,
        info: ConnectionInfo,
        route_key: str,
        integration: dict[str, Any],
        event: dict[str, Any],
        variables: dict[str, str],
        trace_id: str,
        *,
        patience: float = 0.0,
    ) -> payload_websocket.Answer | None:
        """The function's answer, or None when it could not run, failed or answered
        malformed (each logged). A throttled invoke is tried again for `patience` seconds."""
        uri = _STAGE_VARIABLE.sub(
            lambda m: variables.get(m[1], ""), str(integration.get("IntegrationUri", ""))
        )
        arn = lambda_arn_of(uri)
        where = f"WebSocket API {info.api_id} route {route_key}"
        if arn is None:
            log.warning("%s: integration URI %s names no function", where, uri)
            return None
        timeout = int(integration.get("TimeoutInMillis") or 29000) / 1000
        try:
            answer = await self._caller.call_patiently(
                FunctionRef.parse(arn, info.account, info.region),
                json.dumps(event).encode(),
                ApiGatewaySource(self._route_arn(info, route_key), info.account),
                request_id=str(uuid.uuid4()),
                trace_id=trace_id,
                timeout=timeout,
                patience=patience,
            )
        except IntegrationFailure as failure:
            log.warning("%s: %s", where, failure)
            return None
        if answer.function_error is not None:
            log.info("%s: the function failed: %r", where, answer.payload[:500])
            return None
        try:
            return payload_websocket.read_answer(answer.payload)
        except payload_websocket.MalformedResponse as malformed:
            log.info("%s: malformed response: %s", where, malformed)
            return None

    async def _send(self, info: ConnectionInfo, data: bytes, text: bool = True) -> None:
        try:
            await self._connections.send(info.connection_id, data, text)
        except GoneError:
            pass  # the client left meanwhile: the answer is no one's
        except BusyError:
            log.info("WebSocket %s does not read: an answer is dropped", info.connection_id)

    def _deployed(self, api: HttpApi, stage: dict[str, Any]) -> _Deployed:
        deployment_id = str(stage.get("DeploymentId") or "")
        expression = str(api.api.get("RouteSelectionExpression") or "")
        key = (api.api_id, deployment_id, expression)
        cached = self._tables.get(key)
        if cached is not None:
            self._tables.move_to_end(key)
            return cached
        deployment = api.deployments.get(deployment_id)
        snapshot = deployment.get("_snapshot", {}) if deployment is not None else {}
        built = _Deployed(
            RouteSelector(expression, list(snapshot.get("routes", {}).values())),
            dict(snapshot.get("integrations", {})),
            dict(snapshot.get("authorizers", {})),
            dict(snapshot.get("route_responses", {})),
            dict(snapshot.get("integration_responses", {})),
        )
        self._tables[key] = built
        if len(self._tables) > _TABLES_KEPT:
            self._tables.popitem(last=False)
        return built
