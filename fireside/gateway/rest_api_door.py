"""The data plane of REST APIs: `/<stage>/<path>` of an API, by host or by path
(`fireside.gateway.addresses`), answered as API Gateway answers it.

A request goes: API (None when the id is not a REST API's: another front door may own it) ->
stage (403 Forbidden when absent) -> resource and method of the stage's deployment (403
"Missing Authentication Token" when none) -> API key and usage plan when the method requires a
key (403 Forbidden; 429 when throttled or over quota) -> stage throttling -> the integration:
MOCK (`rest_api_mock`), AWS_PROXY and AWS to Lambda (`rest_api_proxy`, through the gateway
core), AWS to services (`rest_api_services`); other types answer 500 "Internal server error"
and log that Fireside lacks them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.compute.logs import LogStore
from fireside.gateway.addresses import FrontDoorAddress
from fireside.gateway.rest_api_errors import customized, gateway_error
from fireside.gateway.rest_api_mock import mock_response
from fireside.gateway.rest_api_provider import RestApiProvider
from fireside.gateway.rest_api_routes import Match, RouteTree
from fireside.gateway.rest_api_store import REST_API
from fireside.gateway.rest_api_templates import TemplateInput, UnsupportedTemplate, render
from fireside.gateway.rest_api_usage import Limited, UsageLimits
from fireside.http.types import Request, Response

__all__ = ["Authorize", "Integrate", "RestApiDoor", "RestCall", "gateway_error"]

log = logging.getLogger(__name__)

#: The HTTP methods a REST API's method can have (and `ANY` stands for).
METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
#: API Gateway's payload limit for REST APIs (10 MB; Lambda's own 6 MB applies after it).
MAX_PAYLOAD = 10 * 1024 * 1024

#: How an integration of a type other than MOCK is called (set by the app once the gateway
#: core can invoke functions): (the call, the method's integration) -> the response.
Integrate = Callable[["RestCall", dict[str, Any]], Awaitable[Response]]
#: How a CUSTOM method's Lambda authorizer is run: (the call, the authorizer) -> a refusal, or
#: None to let the request on (having set `call.authorizer`, and `call.usage_key` if any).
Authorize = Callable[["RestCall", dict[str, Any]], Awaitable[Response | None]]


class RestCall:
    """One request to a REST API, resolved to its stage, resource and method."""

    __slots__ = (
        "account",
        "address",
        "api",
        "authorizer",
        "deployment",
        "identity",
        "match",
        "method",
        "region",
        "request",
        "request_id",
        "stage",
        "started",
        "usage_key",
    )

    def __init__(
        self,
        address: FrontDoorAddress,
        request: Request,
        request_id: str,
        account: str,
        region: str,
        api: dict[str, Any],
        stage: dict[str, Any],
        deployment: dict[str, Any],
        match: Match,
        method: dict[str, Any],
    ) -> None:
        self.address = address
        self.request = request
        self.request_id = request_id
        self.account = account
        self.region = region
        self.api = api
        self.stage = stage
        self.deployment = deployment
        self.match = match
        self.method = method
        self.started = time.time()
        #: What `requestContext.identity` adds for a signed (AWS_IAM) caller.
        self.identity: dict[str, Any] = {}
        #: What a Lambda authorizer said of the caller (`principalId` and its `context`).
        self.authorizer: dict[str, Any] | None = None
        #: The API key a Lambda authorizer chose (`usageIdentifierKey`).
        self.usage_key: str | None = None

    @property
    def resource_path(self) -> str:
        path: str = self.match.resource["path"]
        return path

    @property
    def path(self) -> str:
        """The request's path after the stage, decoded: `/items/1`."""
        _, _, rest = self.address.path.lstrip("/").partition("/")
        return "/" + unquote(rest)

    def context(self) -> dict[str, Any]:
        """`$context` as templates and parameter mappings see it."""
        request = self.request
        return {
            "accountId": self.account,
            "apiId": self.api["id"],
            "domainName": self.address.host.rsplit(":", 1)[0],
            "httpMethod": request.method,
            "path": f"/{self.stage['stageName']}{self.path}",
            "protocol": "HTTP/1.1",
            "requestId": self.request_id,
            "extendedRequestId": self.request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(self.started)),
            "requestTimeEpoch": int(self.started * 1000),
            "resourceId": self.match.resource["id"],
            "resourcePath": self.resource_path,
            "stage": self.stage["stageName"],
            "authorizer": self.authorizer or {},
            "identity": {
                "sourceIp": request.client[0] if request.client else "127.0.0.1",
                "userAgent": request.headers.get("user-agent"),
                "apiKey": request.headers.get("x-api-key"),
                **self.identity,
            },
        }

    def template_input(self) -> TemplateInput:
        return TemplateInput(
            body=self.request.body,
            context=self.context(),
            stage_variables=self.stage.get("variables") or {},
            path_params=self.match.path_parameters,
            query=dict(parse_qsl(self.request.query, keep_blank_values=True)),
            headers=self.request.headers,
        )


def _validate(call: RestCall, deployment: dict[str, Any]) -> Response | None:
    """The method's request validator: required request parameters (headers, query string,
    path) must be present, else 400 as AWS says it. (Bodies are not checked against models.)"""
    validator_id = call.method.get("requestValidatorId")
    validator = deployment.get("_validators", {}).get(validator_id) if validator_id else None
    if validator is None or not validator.get("validateRequestParameters"):
        return None
    request = call.request
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    missing = []
    for key, required in (call.method.get("requestParameters") or {}).items():
        where, _, name = key.removeprefix("method.request.").partition(".")
        if not required:
            continue
        present = (
            name.lower() in request.headers
            if where == "header"
            else name in query
            if where in ("querystring", "multivaluequerystring")
            else name in call.match.path_parameters
            if where == "path"
            else True
        )
        if not present:
            missing.append(name)
    if not missing:
        return None
    return gateway_error(
        400,
        f"Missing required request parameters: [{', '.join(missing)}]",
        call.request_id,
        "BadRequestException",
    )


class RestApiDoor:
    def __init__(
        self,
        provider: RestApiProvider,
        authenticator: Authenticator | None = None,
        limits: UsageLimits | None = None,
        access_logs: LogStore | None = None,
    ) -> None:
        self._provider = provider
        self._authenticator = authenticator
        #: Where stages' access logs go (the function log store, by log group name).
        self._access_logs = access_logs
        self._store = provider.store
        self._limits = limits or UsageLimits()
        self._routes: dict[tuple[str, str], RouteTree] = {}
        #: Calls integrations of types other than MOCK; None until the app wires one.
        self.integrate: Integrate | None = None
        #: Runs Lambda authorizers; None until the app wires one (CUSTOM methods then fail).
        self.authorize: Authorize | None = None

    def _tree(self, api_id: str, deployment_id: str, deployment: dict[str, Any]) -> RouteTree:
        key = (api_id, deployment_id)
        tree = self._routes.get(key)
        if tree is None:
            if len(self._routes) > 1000:  # deleted APIs' trees go eventually
                self._routes.clear()
            tree = self._routes[key] = RouteTree(deployment["_resources"])
        return tree

    async def __call__(self, address: FrontDoorAddress, request: Request) -> Response | None:
        found = await self._serve(address, request)
        if found is None:
            return None
        response, deployment, call = found
        response = customized(response, deployment)
        if call is not None and self._access_logs is not None:
            settings = call.stage.get("accessLogSettings") or {}
            if settings.get("format") and settings.get("destinationArn"):
                self._log_access(call, response, settings)
        return response

    def _log_access(self, call: RestCall, response: Response, settings: dict[str, Any]) -> None:
        """One line of the stage's access log (its `format` with `$context` filled in), in the
        log named after the destination's log group (`fireside logs <name>`)."""
        assert self._access_logs is not None
        group = str(settings["destinationArn"]).split(":log-group:", 1)[-1].split(":", 1)[0]
        context = call.context()
        context.update(
            status=response.status,
            responseLength=len(response.body),
            responseLatency=int((time.time() - call.started) * 1000),
        )
        try:
            line = render(str(settings["format"]), TemplateInput(context=context))
        except UnsupportedTemplate as error:
            line = f"(access log format not supported: {error})"
        log = self._access_logs.get(call.account, call.region, group.strip("/").replace("/", "_"))
        log.write("access", line.encode())
        log.flush_soon()

    async def _serve(
        self, address: FrontDoorAddress, request: Request
    ) -> tuple[Response, dict[str, Any] | None, RestCall | None] | None:
        owner = self._store.owner(REST_API, address.resource_id)
        if owner is None:
            return None  # not a REST API: perhaps an HTTP API's
        account, region = owner
        record = self._store.get(account, region, REST_API, address.resource_id)
        if record is None:
            return None
        request_id = str(uuid.uuid4())
        stage_name, _, rest = address.path.lstrip("/").partition("/")
        stage = record["stages"].get(unquote(stage_name)) if stage_name else None
        deployment = record["deployments"].get(stage["deploymentId"]) if stage else None
        if stage is None or deployment is None:
            return gateway_error(403, "Forbidden", request_id), None, None
        if len(request.body) > MAX_PAYLOAD:
            too_large = gateway_error(
                413, "Request Entity Too Large", request_id, "RequestTooLargeException"
            )
            return too_large, deployment, None
        match = self._tree(record["api"]["id"], stage["deploymentId"], deployment).match(rest)
        methods = match.resource.get("resourceMethods", {}) if match is not None else {}
        # Only API Gateway's seven methods reach an integration (`ANY` stands for them); a
        # request with another (`PROPFIND`, `TRACE`) has no method to match. AWS documents no
        # answer for it; Fireside gives the one for a method the resource lacks.
        known = request.method in METHODS
        method = (methods.get(request.method) or methods.get("ANY")) if known else None
        if match is None or method is None:
            missing = gateway_error(
                403,
                "Missing Authentication Token",
                request_id,
                "MissingAuthenticationTokenException",
            )
            return missing, deployment, None
        call = RestCall(
            address,
            request,
            request_id,
            account,
            region,
            record["api"],
            stage,
            deployment,
            match,
            method,
        )
        if str(method.get("authorizationType", "")).upper() in ("CUSTOM", "COGNITO_USER_POOLS"):
            refused = await self._run_authorizer(call, deployment)
            if refused is not None:
                return refused, deployment, call
        refused = self._admit(call) or _validate(call, deployment)
        if refused is not None:
            return refused, deployment, call
        return await self._integrate(call), deployment, call

    async def _run_authorizer(self, call: RestCall, deployment: dict[str, Any]) -> Response | None:
        authorizer = deployment.get("_authorizers", {}).get(call.method.get("authorizerId", ""))
        if authorizer is None or self.authorize is None:
            # Fail closed: a method that needs an authorizer is never served without one.
            log.warning(
                "REST API %s: the authorizer of %s %s cannot be run (request id %s)",
                call.api["id"],
                call.request.method,
                call.resource_path,
                call.request_id,
            )
            return gateway_error(
                500, "Internal server error", call.request_id, "AuthorizerConfigurationException"
            )
        return await self.authorize(call, authorizer)

    def _admit(self, call: RestCall) -> Response | None:
        """The IAM, API key, usage plan and stage throttling checks: a refusal, or None."""
        if str(call.method.get("authorizationType", "")).upper() == "AWS_IAM":
            refused = self._check_signature(call)
            if refused is not None:
                return refused
        if call.method.get("apiKeyRequired"):
            if str(call.api.get("apiKeySource", "HEADER")).upper() == "AUTHORIZER":
                value = call.usage_key or ""
            else:
                value = call.request.headers.get("x-api-key", "")
            found = (
                self._provider.keys.plan_for(
                    call.account, call.region, call.api["id"], call.stage["stageName"], value
                )
                if value
                else None
            )
            if found is None:
                return gateway_error(403, "Forbidden", call.request_id)
            key, plan = found
            limited = self._limits.check_plan(plan, key["id"])
            if limited is Limited.THROTTLED:
                return gateway_error(429, limited.value, call.request_id)
            if limited is Limited.QUOTA:
                return gateway_error(429, limited.value, call.request_id, "LimitExceededException")
        settings = call.stage.get("methodSettings") or {}
        chosen = (
            settings.get(f"{call.resource_path.lstrip('/')}/{call.method['httpMethod']}")
            or settings.get("*/*")
            or {}
        )
        stage_throttled = "throttlingRateLimit" in chosen or "throttlingBurstLimit" in chosen
        if stage_throttled and not self._limits.take(
            ("stage", call.api["id"], call.stage["stageName"]),
            float(chosen.get("throttlingRateLimit", 10000.0)),
            float(chosen.get("throttlingBurstLimit", 5000)),
        ):
            return gateway_error(429, Limited.THROTTLED.value, call.request_id)
        return None

    def _check_signature(self, call: RestCall) -> Response | None:
        """AWS_IAM authorization: the request must be signed with SigV4 for `execute-api`
        (verified when the server has credentials). Without IAM there are no policies to
        evaluate: any valid signature is let in."""
        request = call.request
        if "authorization" not in request.headers and "X-Amz-Signature" not in request.query:
            return gateway_error(
                403,
                "Missing Authentication Token",
                call.request_id,
                "MissingAuthenticationTokenException",
            )
        if self._authenticator is None:
            return None
        try:
            caller = self._authenticator.authenticate(request)
        except ServiceError as error:
            return gateway_error(403, error.message, call.request_id, error.code)
        if caller.service != "execute-api":
            return gateway_error(
                403,
                "Credential should be scoped to correct service: 'execute-api'. ",
                call.request_id,
                "InvalidSignatureException",
            )
        call.identity = {
            "accessKey": caller.access_key_id,
            "accountId": caller.account_id,
            "caller": caller.access_key_id,
            "user": caller.access_key_id,
            "userArn": f"arn:aws:iam::{caller.account_id}:root",
        }
        return None

    async def _integrate(self, call: RestCall) -> Response:
        integration = call.method.get("methodIntegration") or {}
        kind = integration.get("type")
        try:
            if kind == "MOCK":
                response = mock_response(call.template_input(), integration, call.request)
            elif self.integrate is not None and kind in ("AWS_PROXY", "AWS"):
                response = await self.integrate(call, integration)
            else:
                log.warning(
                    "REST API %s: %s integrations are not supported (request id %s)",
                    call.api["id"],
                    kind,
                    call.request_id,
                )
                return gateway_error(500, "Internal server error", call.request_id)
        except UnsupportedTemplate as error:
            log.warning(
                "REST API %s %s %s: %s (request id %s)",
                call.api["id"],
                call.request.method,
                call.resource_path,
                error,
                call.request_id,
            )
            return gateway_error(500, "Internal server error", call.request_id)
        response.headers.append(("x-amzn-RequestId", call.request_id))
        return response
