"""The API Gateway v2 control plane for HTTP APIs: APIs, routes, integrations, authorizers.

Stages, deployments and tags are in `http_api_stages.StageOperations` (mixed in here); the
OpenAPI import in `openapi_import`. Each operation reads the API's record, changes a copy,
and stores it (durably) before answering. A change to what a deployment freezes (routes,
integrations, authorizers) redeploys every stage with AutoDeploy, as API Gateway does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.model import load_service
from fireside.aws.protocol import ParsedRequest
from fireside.aws.restjson import RestJsonProtocol
from fireside.gateway.http_api_rules import (
    bad_request,
    conflict,
    lambda_arn_of,
    member,
    not_found,
    parse_route_key,
    validate_integration,
)
from fireside.gateway.http_api_stages import StageOperations
from fireside.gateway.http_api_store import HttpApi, HttpApiStore, new_id
from fireside.gateway.openapi_import import ImportedApi, parse_openapi
from fireside.gateway.websocket_api_parts import (
    WebSocketParts,
    check_websocket_authorizer,
    check_websocket_integration,
    check_websocket_route,
    websocket_integration_defaults,
)
from fireside.http.types import Request

__all__ = ["HttpApiProvider", "apigatewayv2_protocol"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_PROTOCOLS = ("HTTP", "WEBSOCKET")
_API_MEMBERS = (
    "ApiKeySelectionExpression",
    "CorsConfiguration",
    "Description",
    "DisableSchemaValidation",
    "DisableExecuteApiEndpoint",
    "IpAddressType",
    "Name",
    "RouteSelectionExpression",
    "Version",
)
_ROUTE_MEMBERS = (
    "ApiKeyRequired",
    "AuthorizationScopes",
    "AuthorizationType",
    "AuthorizerId",
    "ModelSelectionExpression",
    "OperationName",
    "RequestModels",
    "RequestParameters",
    "RouteKey",
    "RouteResponseSelectionExpression",
    "Target",
)
_INTEGRATION_MEMBERS = (
    "ConnectionId",
    "ConnectionType",
    "ContentHandlingStrategy",
    "CredentialsArn",
    "Description",
    "IntegrationMethod",
    "IntegrationSubtype",
    "IntegrationType",
    "IntegrationUri",
    "PassthroughBehavior",
    "PayloadFormatVersion",
    "RequestParameters",
    "RequestTemplates",
    "ResponseParameters",
    "TemplateSelectionExpression",
    "TimeoutInMillis",
    "TlsConfig",
)
_AUTHORIZER_MEMBERS = (
    "AuthorizerCredentialsArn",
    "AuthorizerPayloadFormatVersion",
    "AuthorizerResultTtlInSeconds",
    "AuthorizerType",
    "AuthorizerUri",
    "EnableSimpleResponses",
    "IdentitySource",
    "IdentityValidationExpression",
    "JwtConfiguration",
    "Name",
)
_AUTHORIZATION_TYPES = frozenset({"NONE", "JWT", "AWS_IAM", "CUSTOM"})


def _pick(params: dict[str, Any], members: tuple[str, ...]) -> dict[str, Any]:
    return {name: params[name] for name in members if params.get(name) is not None}


def api_endpoint(ctx: RequestContext, api_id: str) -> str:
    """`http://<api-id>.execute-api.localhost:<port>`: a host every browser resolves to
    loopback, on the port clients reach Fireside at."""
    parts = urlsplit(ctx.endpoint_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or 'http'}://{api_id}.execute-api.localhost{port}"


class _ApiGatewayV2Protocol(RestJsonProtocol):
    """API Gateway is not validated as Coral services are: a request breaking the model's
    constraints is a BadRequestException (its model declares no ValidationException)."""

    def parse(self, request: Request) -> ParsedRequest:
        try:
            return super().parse(request)
        except ServiceError as error:
            if error.code != "ValidationException":
                raise
            raise bad_request(error.message) from None


def apigatewayv2_protocol() -> RestJsonProtocol:
    """apigatewayv2's wire protocol; CreateApi's ProtocolType is checked by the provider, in
    API Gateway's words."""
    return _ApiGatewayV2Protocol(
        load_service("apigatewayv2"),
        content_error_code="BadRequestException",
        unchecked={"CreateApi": frozenset({"ProtocolType"})},
    )


class HttpApiProvider(StageOperations, WebSocketParts):
    def __init__(self, store: HttpApiStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateApi": self.create_api,
            "GetApi": self.get_api,
            "GetApis": self.get_apis,
            "UpdateApi": self.update_api,
            "DeleteApi": self.delete_api,
            "DeleteCorsConfiguration": self.delete_cors_configuration,
            "ImportApi": self.import_api,
            "ReimportApi": self.reimport_api,
            "CreateRoute": self.create_route,
            "GetRoute": self.get_route,
            "GetRoutes": self.get_routes,
            "UpdateRoute": self.update_route,
            "DeleteRoute": self.delete_route,
            "DeleteRouteRequestParameter": self.delete_route_request_parameter,
            "CreateIntegration": self.create_integration,
            "GetIntegration": self.get_integration,
            "GetIntegrations": self.get_integrations,
            "UpdateIntegration": self.update_integration,
            "DeleteIntegration": self.delete_integration,
            "CreateAuthorizer": self.create_authorizer,
            "GetAuthorizer": self.get_authorizer,
            "GetAuthorizers": self.get_authorizers,
            "UpdateAuthorizer": self.update_authorizer,
            "DeleteAuthorizer": self.delete_authorizer,
            **self.stage_operations(),
            **self.websocket_operations(),
        }

    # -- the API ---------------------------------------------------------------------------
    def _api_view(self, ctx: RequestContext, api: HttpApi) -> dict[str, Any]:
        view = dict(api.api)
        view["ApiEndpoint"] = api_endpoint(ctx, api.api_id)
        if api.api.get("ProtocolType") == "WEBSOCKET":  # `wss://...` on AWS
            view["ApiEndpoint"] = "ws" + view["ApiEndpoint"].removeprefix("http")
        view.setdefault("Tags", {})
        return view

    def _new_api(self, ctx: RequestContext, params: dict[str, Any]) -> HttpApi:
        protocol = params.get("ProtocolType")
        if protocol not in _PROTOCOLS:
            raise bad_request("Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]")
        record: dict[str, Any] = {
            "ApiId": self.store.new_api_id(),
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "CreatedDate": self._clock(),
            "DisableExecuteApiEndpoint": False,
            "IpAddressType": "ipv4",
            "ProtocolType": protocol,
            "RouteSelectionExpression": (
                "$request.method $request.path" if protocol == "HTTP" else None
            ),
            "Tags": dict(params.get("Tags") or {}),
        }
        record.update(_pick(params, _API_MEMBERS))
        if record["RouteSelectionExpression"] is None:
            raise bad_request("RouteSelectionExpression is required for WEBSOCKET APIs.")
        if protocol == "WEBSOCKET" and record.get("CorsConfiguration"):
            raise bad_request("CorsConfiguration is only supported for HTTP APIs.")
        return HttpApi(ctx.account_id, ctx.region, record)

    async def create_api(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._new_api(ctx, params)
        target = params.get("Target")
        if target:
            self._quick_create(api, target, params.get("RouteKey") or "$default", params)
        elif params.get("RouteKey"):
            raise bad_request("RouteKey can only be specified together with Target.")
        self._save(api, redeploy=True)
        return self._api_view(ctx, api)

    def _quick_create(
        self, api: HttpApi, target: str, route_key: str, params: dict[str, Any]
    ) -> None:
        """Quick create: one integration to `target`, one route to it, a `$default` stage
        with AutoDeploy, all managed by API Gateway."""
        if api.api["ProtocolType"] != "HTTP":
            raise bad_request("Quick create is only supported for HTTP APIs.")
        parse_route_key(route_key)
        is_function = lambda_arn_of(target) is not None
        integration: dict[str, Any] = {
            "ApiGatewayManaged": True,
            "ConnectionType": "INTERNET",
            "IntegrationId": new_id(7),
            "IntegrationMethod": "POST" if is_function else "ANY",
            "IntegrationType": "AWS_PROXY" if is_function else "HTTP_PROXY",
            "IntegrationUri": target,
            "PayloadFormatVersion": "2.0" if is_function else "1.0",
            "TimeoutInMillis": 30000,
        }
        if params.get("CredentialsArn"):
            integration["CredentialsArn"] = params["CredentialsArn"]
        api.integrations[integration["IntegrationId"]] = integration
        route: dict[str, Any] = {
            "ApiGatewayManaged": True,
            "ApiKeyRequired": False,
            "AuthorizationType": "NONE",
            "RouteId": new_id(7),
            "RouteKey": route_key,
            "Target": f"integrations/{integration['IntegrationId']}",
        }
        api.routes[route["RouteId"]] = route
        now = self._clock()
        api.stages["$default"] = {
            "ApiGatewayManaged": True,
            "AutoDeploy": True,
            "CreatedDate": now,
            "DefaultRouteSettings": {"DetailedMetricsEnabled": False},
            "LastUpdatedDate": now,
            "RouteSettings": {},
            "StageName": "$default",
            "StageVariables": {},
        }

    async def get_api(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._api_view(ctx, self._api(ctx, params["ApiId"]))

    async def get_apis(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        apis = [self._api_view(ctx, a) for a in self.store.list(ctx.account_id, ctx.region)]
        return self._page(apis, params, lambda a: (str(a["ApiId"]),), "GetApis")

    async def update_api(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        if api.api["ProtocolType"] == "WEBSOCKET" and params.get("CorsConfiguration"):
            raise bad_request("CorsConfiguration is only supported for HTTP APIs.")
        api.api.update(_pick(params, _API_MEMBERS))
        redeploy = False
        if params.get("Target") or params.get("RouteKey"):
            redeploy = self._update_quick_create(api, params)
        self._save(api, redeploy=redeploy)
        return self._api_view(ctx, api)

    def _update_quick_create(self, api: HttpApi, params: dict[str, Any]) -> bool:
        managed = [r for r in api.routes.values() if r.get("ApiGatewayManaged")]
        if not managed:  # they are quick create's: an API made otherwise has nothing to update
            return False
        route = managed[0]
        if params.get("RouteKey"):
            parse_route_key(params["RouteKey"])
            route["RouteKey"] = params["RouteKey"]
        if params.get("Target"):
            integration_id = str(route.get("Target", "")).removeprefix("integrations/")
            integration = api.integrations.get(integration_id)
            if integration is not None:
                integration["IntegrationUri"] = params["Target"]
        return True

    async def delete_api(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        self.store.delete(api.api_id)
        return {}

    async def delete_cors_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        api.api.pop("CorsConfiguration", None)
        self._save(api, redeploy=False)
        return {}

    async def import_api(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        imported = parse_openapi(
            params["Body"], fail_on_warnings=bool(params.get("FailOnWarnings"))
        )
        api = self._new_api(ctx, {"ProtocolType": "HTTP", "Name": imported.name})
        self._apply_import(api, imported)
        self._save(api, redeploy=True)
        return self._api_view(ctx, api)

    async def reimport_api(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        imported = parse_openapi(
            params["Body"], fail_on_warnings=bool(params.get("FailOnWarnings"))
        )
        api.routes.clear()
        api.integrations.clear()
        api.authorizers.clear()
        api.api.pop("CorsConfiguration", None)
        self._apply_import(api, imported)
        self._save(api, redeploy=True)
        return self._api_view(ctx, api)

    def _apply_import(self, api: HttpApi, imported: ImportedApi) -> None:
        api.api["Name"] = imported.name
        if imported.version is not None:
            api.api["Version"] = imported.version
        if imported.description is not None:
            api.api["Description"] = imported.description
        if imported.cors is not None:
            api.api["CorsConfiguration"] = imported.cors
        api.api.setdefault("Tags", {}).update(imported.tags)
        if imported.warnings:
            api.api["Warnings"] = imported.warnings
        else:
            api.api.pop("Warnings", None)
        authorizer_ids: dict[str, str] = {}
        for name, authorizer in imported.authorizers.items():
            authorizer_id = new_id(7)
            authorizer_ids[name] = authorizer_id
            api.authorizers[authorizer_id] = {**authorizer, "AuthorizerId": authorizer_id}
        for route in imported.routes:
            record: dict[str, Any] = {
                "ApiKeyRequired": False,
                "AuthorizationScopes": [],
                "AuthorizationType": "NONE",
                "RequestParameters": {},
                "RouteId": new_id(7),
                "RouteKey": route.route_key,
            }
            if route.integration is not None:
                integration_id = new_id(7)
                api.integrations[integration_id] = {
                    "ConnectionType": "INTERNET",
                    "IntegrationId": integration_id,
                    "TimeoutInMillis": 30000,
                    **route.integration,
                }
                record["Target"] = f"integrations/{integration_id}"
            if route.authorizer is not None and route.authorizer in authorizer_ids:
                authorizer_id = authorizer_ids[route.authorizer]
                record["AuthorizerId"] = authorizer_id
                kind = api.authorizers[authorizer_id]["AuthorizerType"]
                record["AuthorizationType"] = "JWT" if kind == "JWT" else "CUSTOM"
                if route.scopes:
                    record["AuthorizationScopes"] = route.scopes
            elif route.iam:
                record["AuthorizationType"] = "AWS_IAM"
            api.routes[record["RouteId"]] = record

    # -- routes ----------------------------------------------------------------------------
    def _check_route(self, api: HttpApi, route: dict[str, Any], route_id: str) -> None:
        key = route["RouteKey"]
        if api.api["ProtocolType"] == "HTTP":
            parse_route_key(key)
        else:
            check_websocket_route(route)
        if any(r["RouteKey"] == key for rid, r in api.routes.items() if rid != route_id):
            raise conflict(f"Unable to create route {key}. A route with that key already exists.")
        kind = route.get("AuthorizationType", "NONE")
        if kind not in _AUTHORIZATION_TYPES:
            raise bad_request(f"Invalid authorization type specified: {kind}")
        authorizer_id = route.get("AuthorizerId")
        if authorizer_id is not None and authorizer_id not in api.authorizers:
            raise not_found(f"Invalid Authorizer identifier specified {authorizer_id}")
        if kind in ("JWT", "CUSTOM") and authorizer_id is None:
            raise bad_request(f"An authorizer must be specified for authorization type {kind}.")
        target = route.get("Target")
        if target is not None:
            integration_id = str(target).removeprefix("integrations/")
            if (
                not str(target).startswith("integrations/")
                or integration_id not in api.integrations
            ):
                raise bad_request(f"Invalid integration target specified: {target}")

    async def create_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        route: dict[str, Any] = {"ApiKeyRequired": False, "AuthorizationType": "NONE"}
        route.update(_pick(params, _ROUTE_MEMBERS))
        route["RouteId"] = new_id(7)
        self._check_route(api, route, route["RouteId"])
        api.routes[route["RouteId"]] = route
        self._save(api, redeploy=True)
        return dict(route)

    def _route(self, api: HttpApi, route_id: str) -> dict[str, Any]:
        return member(api.routes, route_id, "Route")

    async def get_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._route(self._api(ctx, params["ApiId"]), params["RouteId"]))

    async def get_routes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return self._page(
            list(api.routes.values()),
            params,
            lambda r: (str(r["RouteKey"]), str(r["RouteId"])),
            f"GetRoutes:{api.api_id}",
        )

    async def update_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        route = self._route(api, params["RouteId"])
        route.update(_pick(params, _ROUTE_MEMBERS))
        if route.get("AuthorizationType") == "NONE":
            route.pop("AuthorizerId", None)
        self._check_route(api, route, params["RouteId"])
        self._save(api, redeploy=True)
        return dict(route)

    async def delete_route(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        self._route(api, params["RouteId"])
        del api.routes[params["RouteId"]]
        api.route_responses.pop(params["RouteId"], None)
        self._save(api, redeploy=True)
        return {}

    async def delete_route_request_parameter(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        route = self._route(api, params["RouteId"])
        route.get("RequestParameters", {}).pop(params["RequestParameterKey"], None)
        self._save(api, redeploy=True)
        return {}

    # -- integrations ----------------------------------------------------------------------
    async def create_integration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        integration: dict[str, Any] = {"ConnectionType": "INTERNET"}
        integration.update(_pick(params, _INTEGRATION_MEMBERS))
        kind = integration.get("IntegrationType")
        if api.api["ProtocolType"] == "HTTP":
            integration.setdefault("TimeoutInMillis", 30000)
            if kind == "AWS_PROXY":
                integration.setdefault("IntegrationMethod", "POST")
            # AWS: "If you create a Lambda integration by using the AWS CLI, CloudFormation,
            # or an SDK, you must specify a payloadFormatVersion" (CDK, SAM and Terraform do).
            if (
                kind in ("AWS_PROXY", "HTTP_PROXY")
                and not integration.get("PayloadFormatVersion")
                and not integration.get("IntegrationSubtype")
            ):
                raise bad_request("PayloadFormatVersion is a required parameter for integration")
        else:
            websocket_integration_defaults(integration)
        self._check_integration(api, integration)
        integration["IntegrationId"] = new_id(7)
        api.integrations[integration["IntegrationId"]] = integration
        self._save(api, redeploy=True)
        return dict(integration)

    @staticmethod
    def _check_integration(api: HttpApi, integration: dict[str, Any]) -> None:
        if api.api["ProtocolType"] == "WEBSOCKET":
            check_websocket_integration(integration)
        else:
            validate_integration(integration, api.api["ProtocolType"])

    def _integration(self, api: HttpApi, integration_id: str) -> dict[str, Any]:
        return member(api.integrations, integration_id, "Integration")

    async def get_integration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return dict(self._integration(api, params["IntegrationId"]))

    async def get_integrations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return self._page(
            list(api.integrations.values()),
            params,
            lambda i: (str(i["IntegrationId"]),),
            f"GetIntegrations:{api.api_id}",
        )

    async def update_integration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        integration = self._integration(api, params["IntegrationId"])
        integration.update(_pick(params, _INTEGRATION_MEMBERS))
        self._check_integration(api, integration)
        self._save(api, redeploy=True)
        return dict(integration)

    async def delete_integration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        integration_id = params["IntegrationId"]
        self._integration(api, integration_id)
        target = f"integrations/{integration_id}"
        if any(r.get("Target") == target for r in api.routes.values()):
            raise conflict(
                f"Cannot delete integration {integration_id}: it is the target of a route."
            )
        del api.integrations[integration_id]
        api.integration_responses.pop(integration_id, None)
        self._save(api, redeploy=True)
        return {}

    # -- authorizers -----------------------------------------------------------------------
    def _check_authorizer(self, api: HttpApi, authorizer: dict[str, Any]) -> None:
        if api.api["ProtocolType"] == "WEBSOCKET":
            check_websocket_authorizer(authorizer)
            return
        kind = authorizer.get("AuthorizerType")
        if kind == "JWT":
            jwt = authorizer.get("JwtConfiguration") or {}
            if not jwt.get("Issuer"):
                raise bad_request("JwtConfiguration.Issuer is required for JWT authorizers.")
        elif kind == "REQUEST":
            if not authorizer.get("AuthorizerUri"):
                raise bad_request("AuthorizerUri is required for REQUEST authorizers.")
            version = authorizer.get("AuthorizerPayloadFormatVersion")
            if version not in ("1.0", "2.0"):
                raise bad_request(
                    "AuthorizerPayloadFormatVersion is a required parameter for REQUEST authorizer"
                )
            if authorizer.get("EnableSimpleResponses") and version != "2.0":
                raise bad_request(
                    "EnableSimpleResponses is only supported with payload format version 2.0."
                )
        else:
            raise bad_request(f"Invalid authorizer type {kind}: must be JWT or REQUEST.")
        ttl = authorizer.get("AuthorizerResultTtlInSeconds")
        if ttl is not None and not 0 <= ttl <= 3600:
            raise bad_request("AuthorizerResultTtlInSeconds must be between 0 and 3600.")

    async def create_authorizer(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        authorizer = _pick(params, _AUTHORIZER_MEMBERS)
        if authorizer.get("AuthorizerType") == "REQUEST":
            authorizer.setdefault("AuthorizerResultTtlInSeconds", 0)
        self._check_authorizer(api, authorizer)
        authorizer["AuthorizerId"] = new_id(7)
        api.authorizers[authorizer["AuthorizerId"]] = authorizer
        self._save(api, redeploy=True)
        return dict(authorizer)

    def _authorizer(self, api: HttpApi, authorizer_id: str) -> dict[str, Any]:
        return member(api.authorizers, authorizer_id, "Authorizer")

    async def get_authorizer(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return dict(self._authorizer(api, params["AuthorizerId"]))

    async def get_authorizers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"])
        return self._page(
            list(api.authorizers.values()),
            params,
            lambda a: (str(a["Name"]), str(a["AuthorizerId"])),
            f"GetAuthorizers:{api.api_id}",
        )

    async def update_authorizer(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        authorizer = self._authorizer(api, params["AuthorizerId"])
        authorizer.update(_pick(params, _AUTHORIZER_MEMBERS))
        self._check_authorizer(api, authorizer)
        self._save(api, redeploy=True)
        return dict(authorizer)

    async def delete_authorizer(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._api(ctx, params["ApiId"]).copy()
        authorizer_id = params["AuthorizerId"]
        self._authorizer(api, authorizer_id)
        if any(r.get("AuthorizerId") == authorizer_id for r in api.routes.values()):
            raise conflict(
                f"Cannot delete authorizer {authorizer_id}: it is used by one or more routes."
            )
        del api.authorizers[authorizer_id]
        self._save(api, redeploy=True)
        return {}
