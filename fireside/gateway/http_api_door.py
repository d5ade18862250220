"""The HTTP APIs' data plane: a request to `<api-id>.execute-api...` becomes a function's event.

The steps, as API Gateway takes them for an HTTP API:
1. the API (by id; another front door's id gets None, so REST APIs are asked next);
2. the stage: the first path segment when a stage has that name, else `$default`, which serves
   at the root; none: 404 `{"message":"Not Found"}`;
3. CORS: with a `CorsConfiguration`, a preflight is answered here (204), whatever the routes;
4. the route of the stage's deployment (`http_api_routes`: most specific first, `$default`
   last); none: 404 `{"message":"Not Found"}`;
5. the route's authorization (`http_api_authorizers`: JWT, Lambda, AWS_IAM): 401, 403 or
   500 when refused;
6. the route's integration, an `AWS_PROXY` to a function (its URI may use
   `${stageVariables.name}`), run through the gateway core (`integration.FunctionCaller`)
   with payload format 1.0 or 2.0 and the permission check for
   `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>`.

HTTP APIs' own answers ("Troubleshooting issues with HTTP API Lambda integrations", and what
an HTTP API returns at its integration timeout):
- a function that fails, answers malformed, cannot be found, run or invoked by API Gateway:
  500 `{"message":"Internal Server Error"}`;
- an integration that outlasts `TimeoutInMillis` (30 s at most): 503
  `{"message":"Service Unavailable"}`;
- a stage's throttle (`DefaultRouteSettings` rate and burst) exceeded: 429
  `{"message":"Too Many Requests"}`;
- an HTTP_PROXY integration (stored, not served by Fireside): 500, with the reason logged.
Each response carries `apigw-requestid`, as HTTP APIs' do.
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

from fireside.aws.errors import ServiceError
from fireside.compute.logs import LogStore
from fireside.gateway import payload_v1, payload_v2, service_integrations
from fireside.gateway.access_log import destination_name, format_line
from fireside.gateway.addresses import FrontDoorAddress
from fireside.gateway.cors import CorsRules
from fireside.gateway.http_api_authorizers import Authorizers, AuthRequest, Refused
from fireside.gateway.http_api_routes import Match, RouteTable
from fireside.gateway.http_api_rules import lambda_arn_of
from fireside.gateway.http_api_store import HttpApi, HttpApiStore
from fireside.gateway.integration import (
    ApiGatewaySource,
    Failure,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.gateway.request_parts import is_text, request_time
from fireside.gateway.service_integrations import ServiceCalls
from fireside.http.types import Request, Response

__all__ = ["HttpApiDoor"]

log = logging.getLogger(__name__)

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.:/?#&=,-]+)\}")
#: Compiled route tables kept, by (API id, deployment id).
_TABLES_KEPT = 256
#: Throttled stages' token buckets kept.
_BUCKETS_KEPT = 10_000
#: The methods a route can have (`ANY` stands for these): API Gateway's seven. A request with
#: another (`PROPFIND`, `TRACE`) matches no route, `$default` included. (AWS documents no
#: answer for them; Fireside gives the one for a request no route matches.)
METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})


def _message(status: int, message: str, request_id: str) -> Response:
    """API Gateway's own answer, written compactly as AWS writes it: `{"message":"Not
    Found"}` (an HTTP API's access log records 35 bytes for `{"message":"Internal Server
    Error"}`)."""
    return Response(
        status,
        [("Content-Type", "application/json"), ("apigw-requestid", request_id)],
        json.dumps({"message": message}, separators=(",", ":")).encode(),
    )


def _request_id() -> str:
    # HTTP APIs' request ids look like `JKJaXmPLvHcESHA=`: 10 random bytes in base64.
    return base64.b64encode(os.urandom(10)).decode()


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{os.urandom(12).hex()}"


class _Bucket:
    """A stage's token bucket: `rate` requests a second, bursts of `burst`."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class HttpApiDoor:
    """The front door of HTTP APIs (registered for `EXECUTE_API`)."""

    def __init__(
        self,
        store: HttpApiStore,
        caller: FunctionCaller,
        authorizers: Authorizers | None = None,
        *,
        logs: LogStore | None = None,
        services: ServiceCalls | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._logs = logs
        #: Runs first-class AWS service integrations (`service_integrations`).
        self._services = services
        self._caller = caller
        self._authorizers = authorizers or Authorizers(caller, clock=clock)
        self._clock = clock
        self._tables: OrderedDict[tuple[str, str], _Deployed] = OrderedDict()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    async def __call__(self, address: FrontDoorAddress, request: Request) -> Response | None:
        api = self._store.get(address.resource_id)
        if api is None or api.api.get("ProtocolType") != "HTTP":
            return None
        request_id = _request_id()
        if api.api.get("DisableExecuteApiEndpoint"):
            return _message(403, "Forbidden", request_id)
        found = self._stage(api, address.path)
        if found is None:
            return _message(404, "Not Found", request_id)
        stage, path = found
        started = self._clock()
        notes: dict[str, str] = {}
        cors = api.api.get("CorsConfiguration")
        rules = CorsRules.from_config(cors) if cors else None
        if rules is not None and rules.is_preflight(request):
            # HTTP APIs answer preflights 204 (Function URLs 200).
            response = rules.preflight(request)
            response.status = 204
            response.headers.append(("apigw-requestid", request_id))
        else:
            response = await self._serve(api, stage, path, address, request, request_id, notes)
            if rules is not None:
                response = rules.apply(request, response)
        settings = stage.get("AccessLogSettings") or {}
        if self._logs is not None and settings.get("DestinationArn") and settings.get("Format"):
            self._access_log(api, stage, address, request, request_id, response, started, notes)
        return response

    def _access_log(
        self,
        api: HttpApi,
        stage: dict[str, Any],
        address: FrontDoorAddress,
        request: Request,
        request_id: str,
        response: Response,
        started: float,
        notes: dict[str, str],
    ) -> None:
        """One line of the stage's access log (`access_log`), in its own format."""
        assert self._logs is not None
        settings = stage["AccessLogSettings"]
        name = destination_name(str(settings["DestinationArn"]))
        if name is None:
            return
        domain = address.host.rsplit(":", 1)[0] if not address.by_path else api.api_id
        variables = {
            "accountId": api.account,
            "apiId": api.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity.sourceIp": request.client[0] if request.client else "127.0.0.1",
            "identity.userAgent": request.headers.get("user-agent", "-"),
            "path": address.path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": request_time(started),
            "requestTimeEpoch": str(int(started * 1000)),
            "responseLatency": str(int((self._clock() - started) * 1000)),
            "responseLength": str(len(response.body)),
            "routeKey": notes.get("routeKey", "-"),
            "stage": str(stage["StageName"]),
            "status": str(response.status),
            **notes,
        }
        log_file = self._logs.get(api.account, api.region, name)
        log_file.write(
            f"{api.api_id}/{stage['StageName']}",
            format_line(str(settings["Format"]), variables).encode(),
        )
        log_file.flush_soon()

    def _stage(self, api: HttpApi, path: str) -> tuple[dict[str, Any], str] | None:
        """The stage a path is for, and the path below it."""
        first, _, rest = path[1:].partition("/")
        stage = api.stages.get(first) if first and first != "$default" else None
        if stage is not None:
            return stage, "/" + rest
        default = api.stages.get("$default")
        return (default, path) if default is not None else None

    def _deployed(self, api: HttpApi, stage: dict[str, Any]) -> _Deployed:
        """The route table, integrations and authorizers of the stage's deployment."""
        deployment_id = str(stage.get("DeploymentId") or "")
        key = (api.api_id, deployment_id)
        cached = self._tables.get(key)
        if cached is not None:
            self._tables.move_to_end(key)
            return cached
        deployment = api.deployments.get(deployment_id)
        snapshot = deployment.get("_snapshot", {}) if deployment is not None else {}
        built = _Deployed(
            RouteTable(list(snapshot.get("routes", {}).values())),
            dict(snapshot.get("integrations", {})),
            dict(snapshot.get("authorizers", {})),
        )
        self._tables[key] = built
        if len(self._tables) > _TABLES_KEPT:
            self._tables.popitem(last=False)
        return built

    def _throttled(self, api: HttpApi, stage: dict[str, Any], now: float) -> bool:
        settings = stage.get("DefaultRouteSettings") or {}
        rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
        if rate is None or burst is None:
            return False
        key = (api.api_id, str(stage["StageName"]))
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.rate, bucket.burst) != (float(rate), int(burst)):
            if len(self._buckets) >= _BUCKETS_KEPT:  # stages of deleted APIs linger otherwise
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(rate), int(burst), now)
        return not bucket.take(now)

    async def _serve(
        self,
        api: HttpApi,
        stage: dict[str, Any],
        path: str,
        address: FrontDoorAddress,
        request: Request,
        request_id: str,
        notes: dict[str, str],
    ) -> Response:
        """The route's answer; `notes` gathers what the access log tells of it."""
        now = self._clock()
        if self._throttled(api, stage, now):
            return _message(429, "Too Many Requests", request_id)
        deployed = self._deployed(api, stage)
        match = deployed.table.match(request.method, path) if request.method in METHODS else None
        if match is None:
            notes["error.message"] = "Not Found"
            return _message(404, "Not Found", request_id)
        notes["routeKey"] = match.route_key
        stage_name = str(stage["StageName"])
        call = _Call(
            api,
            stage_name,
            dict(stage.get("StageVariables") or {}),
            path,
            match,
            request,
            request_id,
            now,
            _trace_id(now),
            address.host.rsplit(":", 1)[0]
            if not address.by_path
            else f"{api.api_id}.execute-api.localhost",
        )
        try:
            authorizer = await self._authorizers.check(
                match.route, deployed.authorizers, request, call.auth_request()
            )
        except Refused as refused:
            notes["error.message"] = refused.message
            response = _message(refused.status, refused.message, request_id)
            response.headers.extend(refused.headers)
            return response
        target = str(match.route.get("Target") or "")
        integration = deployed.integrations.get(target.removeprefix("integrations/"))
        if integration is None:
            return _message(404, "Not Found", request_id)
        if integration.get("IntegrationType") != "AWS_PROXY":
            log.warning(
                "HTTP API %s: route %s has a %s integration, which Fireside does not serve",
                api.api_id,
                match.route_key,
                integration.get("IntegrationType"),
            )
            return _message(500, "Internal Server Error", request_id)
        before = self._clock()
        if integration.get("IntegrationSubtype"):
            response = await self._service(call, integration, notes)
        else:
            response = await self._invoke(call, integration, authorizer, notes)
        notes["integrationLatency"] = str(int((self._clock() - before) * 1000))
        response.headers.append(("apigw-requestid", request_id))
        return response

    async def _service(
        self, call: _Call, integration: dict[str, Any], notes: dict[str, str]
    ) -> Response:
        """A first-class AWS service integration: the mapped action, run as the API's
        account; the service's own answer."""
        api, request_id = call.api, call.request_id
        subtype = service_integrations.SUBTYPES.get(str(integration["IntegrationSubtype"]))
        if subtype is None or self._services is None:
            return _message(500, "Internal Server Error", request_id)
        mapped = dict(integration.get("RequestParameters") or {})
        about = call.auth_request()
        source = service_integrations.Source(
            call.request, call.match.path_parameters, about.context, call.stage_variables
        )
        try:
            params = service_integrations.parameters(subtype, mapped, source)
        except ServiceError as error:
            notes["integrationErrorMessage"] = error.message
            return _message(400, error.message, request_id)
        region = service_integrations.value_of(str(mapped.get("Region", api.region)), source)
        answer = await self._services.call(
            api.account, region or api.region, subtype.service, subtype.operation, params,
            request_id,
        )  # fmt: skip
        notes["integrationStatus"] = str(answer.status)
        return answer

    async def _invoke(
        self,
        call: _Call,
        integration: dict[str, Any],
        authorizer: dict[str, Any] | None,
        notes: dict[str, str],
    ) -> Response:
        """Run the route's function with the payload format's event; its answer as the
        payload format reads it, or HTTP APIs' error answers."""
        api, request_id = call.api, call.request_id
        uri = _STAGE_VARIABLE.sub(
            lambda m: call.stage_variables.get(m[1], ""), str(integration.get("IntegrationUri", ""))
        )
        arn = lambda_arn_of(uri)
        if arn is None:
            log.warning("HTTP API %s: integration URI %s names no function", api.api_id, uri)
            return _message(500, "Internal Server Error", request_id)
        version = str(integration.get("PayloadFormatVersion") or "2.0")
        event = call.event(version, authorizer)
        source = ApiGatewaySource(call.route_arn(), api.account)
        timeout = int(integration.get("TimeoutInMillis") or 30000) / 1000
        try:
            answer = await self._caller.call(
                FunctionRef.parse(arn, api.account, api.region),
                json.dumps(event).encode(),
                source,
                # Lambda's own request id: API Gateway's (`requestContext.requestId`) is not
                # a UUID and may hold `/`, which a Runtime API path cannot carry.
                request_id=str(uuid.uuid4()),
                trace_id=call.trace_id,
                timeout=timeout,
            )
        except IntegrationFailure as failure:
            log.warning("HTTP API %s: %s on %s", api.api_id, failure, call.match.route_key)
            notes["integrationErrorMessage"] = str(failure)
            if failure.reason is Failure.TIMED_OUT:
                return _message(503, "Service Unavailable", request_id)
            if failure.reason is Failure.TOO_LARGE:
                return _message(413, "Request Entity Too Large", request_id)
            return _message(500, "Internal Server Error", request_id)
        notes["integrationStatus"] = "200"
        if answer.function_error is not None:
            notes["integrationErrorMessage"] = answer.payload[:200].decode(errors="replace")
            log.info(
                "HTTP API %s: the function of %s failed: %s",
                api.api_id,
                call.match.route_key,
                answer.payload[:500].decode(errors="replace"),
            )
            return _message(500, "Internal Server Error", request_id)
        try:
            if version == "1.0":
                return payload_v1.interpret(answer.payload)
            return payload_v2.interpret(answer.payload, payload_v2.HTTP_API_DEFAULT_TYPE)
        except payload_v2.MalformedResponse as malformed:
            log.info(
                "HTTP API %s: malformed response on %s: %s",
                api.api_id,
                call.match.route_key,
                malformed,
            )
            return _message(500, "Internal Server Error", request_id)


@dataclass(frozen=True, slots=True)
class _Deployed:
    table: RouteTable
    integrations: dict[str, dict[str, Any]]
    authorizers: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Call:
    """One request on its way to a route's function."""

    api: HttpApi
    stage: str
    stage_variables: dict[str, str]
    #: The path below the stage.
    path: str
    match: Match
    request: Request
    request_id: str
    now: float
    trace_id: str
    domain_name: str

    def route_arn(self) -> str:
        """`arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>`: what
        API Gateway invokes as (for resource policies) and names to Lambda authorizers."""
        api = self.api
        head = f"arn:aws:execute-api:{api.region}:{api.account}:{api.api_id}/{self.stage}"
        if self.match.route_key == "$default":
            return f"{head}/$default"
        return f"{head}/{self.request.method}{self.path}"

    def auth_request(self) -> AuthRequest:
        return AuthRequest(
            self.api.api_id,
            self.api.account,
            self.api.region,
            self.stage,
            self.match.route_key,
            self.route_arn(),
            self.stage_variables,
            {
                "apiId": self.api.api_id,
                "accountId": self.api.account,
                "domainName": self.domain_name,
                "httpMethod": self.request.method,
                "path": self.path,
                "requestId": self.request_id,
                "routeKey": self.match.route_key,
                "stage": self.stage,
            },
            lambda version: self.event(version, None),
            self.trace_id,
        )

    def event(self, version: str, authorizer: dict[str, Any] | None) -> dict[str, Any]:
        """The request's event in payload format `version`."""
        stage_prefix = "" if self.stage == "$default" else f"/{self.stage}"
        route_key = self.match.route_key
        request, api = self.request, self.api
        if version == "1.0":
            resource = "$default" if route_key == "$default" else route_key.split(" ", 1)[1]
            return payload_v1.build_event(
                request,
                path=self.path,
                resource=resource,
                api_id=api.api_id,
                account_id=api.account,
                domain_name=self.domain_name,
                stage=self.stage,
                request_id=self.request_id,
                now=self.now,
                trace_id=self.trace_id,
                stage_path=stage_prefix + self.path,
                path_parameters=self.match.path_parameters or None,
                stage_variables=self.stage_variables or None,
                authorizer=authorizer,
                binary=not is_text(request.headers.get("content-type")),
                version="1.0",
            )
        return payload_v2.build_event(
            request,
            path=stage_prefix + self.path,
            api_id=api.api_id,
            account_id=api.account,
            domain_name=self.domain_name,
            request_id=self.request_id,
            now=self.now,
            trace_id=self.trace_id,
            route_key=route_key,
            stage=self.stage,
            path_parameters=self.match.path_parameters or None,
            stage_variables=self.stage_variables or None,
            authorizer=authorizer,
        )
