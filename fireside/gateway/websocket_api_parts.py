"""What only WebSocket APIs have in API Gateway v2's control plane: route responses,
integration responses, and the rules their routes, integrations and authorizers follow.

A WebSocket API is stored as an HTTP API is (`http_api_store`: one record per API, frozen by
deployments); these are the parts HTTP APIs refuse. The rules, as API Gateway applies them
("Working with routes / integrations / authorizers for WebSocket APIs"):
- a route key is any text (`$connect`, `$disconnect`, `$default` or a custom key the route
  selection expression yields); authorization (`AWS_IAM`, `CUSTOM`) only on `$connect`, and
  never `JWT`; `RouteResponseSelectionExpression` only `$default` (two-way routes);
- integrations are `AWS_PROXY`, `AWS`, `HTTP_PROXY`, `HTTP` or `MOCK`, with payload format
  1.0 and a timeout of 50 ms to 29 s;
- authorizers are `REQUEST` (Lambda) authorizers whose identity sources are
  `route.request.header.<name>`, `route.request.querystring.<name>`,
  `stageVariables.<name>` or `context.<name>`, without a payload format or simple responses;
- an integration response's key is `$default` or a `/regex/` on the integration's status; a
  route's response keys are unique (a route with any response is two-way).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.pagination import Key
from fireside.gateway.http_api_rules import bad_request, lambda_arn_of, member, not_found
from fireside.gateway.http_api_store import HttpApi, HttpApiStore, new_id

__all__ = [
    "WEBSOCKET_IDENTITY",
    "WebSocketParts",
    "check_websocket_authorizer",
    "check_websocket_integration",
    "check_websocket_route",
    "websocket_integration_defaults",
]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

WEBSOCKET_IDENTITY = re.compile(
    r"(route\.request\.header|route\.request\.querystring|stageVariables|context)\.(.+)"
)
_REQUEST_PARAMETER = re.compile(r"route\.request\.(header|querystring)\.[^.\s][^\s]*")
_INTEGRATION_TYPES = ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK")
_MAX_TIMEOUT_MS = 29_000
_MIN_TIMEOUT_MS = 50
_MAX_ROUTE_KEY = 128
_ROUTE_RESPONSE_MEMBERS = (
    "ModelSelectionExpression",
    "ResponseModels",
    "ResponseParameters",
    "RouteResponseKey",
)
_INTEGRATION_RESPONSE_MEMBERS = (
    "ContentHandlingStrategy",
    "IntegrationResponseKey",
    "ResponseParameters",
    "ResponseTemplates",
    "TemplateSelectionExpression",
)
_CONTENT_HANDLING = ("CONVERT_TO_BINARY", "CONVERT_TO_TEXT")


def _pick(params: dict[str, Any], members: tuple[str, ...]) -> dict[str, Any]:
    return {name: params[name] for name in members if params.get(name) is not None}


def check_websocket_route(route: dict[str, Any]) -> None:
    """A WebSocket route's key, authorization and route response selection."""
    key = str(route.get("RouteKey") or "")
    if not key or len(key) > _MAX_ROUTE_KEY:
        raise bad_request(f"Invalid route key specified: {key!r}. It must be 1 to 128 characters.")
    kind = route.get("AuthorizationType") or "NONE"
    if kind == "JWT":
        raise bad_request("JWT authorization is only supported for HTTP APIs.")
    if kind != "NONE" and key != "$connect":
        raise bad_request("Currently, authorization is restricted to the $connect route only")
    for name in route.get("RequestParameters") or {}:
        if not _REQUEST_PARAMETER.fullmatch(str(name)):
            raise bad_request(
                f"Invalid request parameter {name}: use route.request.header.<name> or "
                "route.request.querystring.<name>."
            )
    selection = route.get("RouteResponseSelectionExpression")
    if selection is not None and selection != "$default":
        raise bad_request(
            f"Invalid RouteResponseSelectionExpression specified: {selection}. "
            "Currently only $default is supported."
        )


def websocket_integration_defaults(integration: dict[str, Any]) -> None:
    """What API Gateway fills in on a WebSocket API's new integration."""
    integration.setdefault("PayloadFormatVersion", "1.0")
    integration.setdefault("TimeoutInMillis", _MAX_TIMEOUT_MS)
    if integration.get("IntegrationType") in ("AWS", "HTTP", "MOCK"):
        integration.setdefault("PassthroughBehavior", "WHEN_NO_MATCH")
    if integration.get("IntegrationType") == "AWS_PROXY":
        integration.setdefault("IntegrationMethod", "POST")


def check_websocket_integration(integration: dict[str, Any]) -> None:
    kind = integration.get("IntegrationType")
    if kind not in _INTEGRATION_TYPES:
        raise bad_request(
            f"Invalid integration type specified. Must be one of {list(_INTEGRATION_TYPES)}"
        )
    if integration.get("IntegrationSubtype"):
        raise bad_request("IntegrationSubtype is only supported for HTTP APIs.")
    version = integration.get("PayloadFormatVersion")
    if version not in (None, "1.0"):
        raise bad_request(
            f"Invalid PayloadFormatVersion {version}: WebSocket APIs support only 1.0."
        )
    timeout = integration.get("TimeoutInMillis")
    if timeout is not None and not _MIN_TIMEOUT_MS <= timeout <= _MAX_TIMEOUT_MS:
        raise bad_request("Timeout must be between 50 milliseconds and 29 seconds.")
    strategy = integration.get("ContentHandlingStrategy")
    if strategy is not None and strategy not in _CONTENT_HANDLING:
        raise bad_request(f"Invalid content handling strategy specified: {strategy}")
    uri = integration.get("IntegrationUri")
    if kind == "AWS_PROXY" and not uri:
        raise bad_request("IntegrationUri is required for AWS_PROXY integrations.")
    if kind == "AWS_PROXY" and uri and lambda_arn_of(str(uri)) is None:
        raise bad_request(f"Invalid integration URI specified: {uri}")


def check_websocket_authorizer(authorizer: dict[str, Any]) -> None:
    kind = authorizer.get("AuthorizerType")
    if kind != "REQUEST":
        raise bad_request(
            f"Invalid authorizer type {kind}: WebSocket APIs support only REQUEST authorizers."
        )
    if not authorizer.get("AuthorizerUri"):
        raise bad_request("AuthorizerUri is required for REQUEST authorizers.")
    if authorizer.get("AuthorizerPayloadFormatVersion") is not None:
        raise bad_request("AuthorizerPayloadFormatVersion is only supported for HTTP APIs.")
    if authorizer.get("EnableSimpleResponses"):
        raise bad_request("EnableSimpleResponses is only supported for HTTP APIs.")
    if authorizer.get("JwtConfiguration"):
        raise bad_request("JwtConfiguration is only supported for JWT authorizers.")
    for source in authorizer.get("IdentitySource") or ():
        if not WEBSOCKET_IDENTITY.fullmatch(str(source).strip()):
            raise bad_request(
                f"Invalid identity source {source}: use route.request.header.<name>, "
                "route.request.querystring.<name>, stageVariables.<name> or context.<name>."
            )
    ttl = authorizer.get("AuthorizerResultTtlInSeconds")
    if ttl is not None and not 0 <= ttl <= 3600:
        raise bad_request("AuthorizerResultTtlInSeconds must be between 0 and 3600.")


class WebSocketParts:
    """The Create/Get/Update/Delete operations of route responses and integration responses
    (mixed into the apigatewayv2 provider)."""

    store: HttpApiStore
    _api: Callable[[RequestContext, str], HttpApi]
    _save: Callable[..., None]
    _page: Callable[..., dict[str, Any]]

    def websocket_operations(self) -> dict[str, Operation]:
        return {
            "CreateRouteResponse": self.create_route_response,
            "GetRouteResponse": self.get_route_response,
            "GetRouteResponses": self.get_route_responses,
            "UpdateRouteResponse": self.update_route_response,
            "DeleteRouteResponse": self.delete_route_response,
            "CreateIntegrationResponse": self.create_integration_response,
            "GetIntegrationResponse": self.get_integration_response,
            "GetIntegrationResponses": self.get_integration_responses,
            "UpdateIntegrationResponse": self.update_integration_response,
            "DeleteIntegrationResponse": self.delete_integration_response,
        }

    def _websocket(self, ctx: RequestContext, api_id: str, what: str) -> HttpApi:
        api = self._api(ctx, api_id)
        if api.api.get("ProtocolType") != "WEBSOCKET":
            raise bad_request(f"{what} are supported only for WebSocket APIs.")
        return api

    # -- route responses -------------------------------------------------------------------
    def _route_responses(self, api: HttpApi, route_id: str) -> dict[str, dict[str, Any]]:
        member(api.routes, route_id, "Route")
        return api.route_responses.setdefault(route_id, {})

    @staticmethod
    def _check_route_response(response: dict[str, Any]) -> None:
        key = response.get("RouteResponseKey")
        if not isinstance(key, str) or not key.strip():
            raise bad_request("RouteResponseKey must not be empty.")

    async def create_route_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Route responses").copy()
        responses = self._route_responses(api, params["RouteId"])
        response = _pick(params, _ROUTE_RESPONSE_MEMBERS)
        self._check_route_response(response)
        if any(r["RouteResponseKey"] == response["RouteResponseKey"] for r in responses.values()):
            raise bad_request(
                f"Unable to create route response {response['RouteResponseKey']}. "
                "A route response with that key already exists."
            )
        response["RouteResponseId"] = new_id(6)
        responses[response["RouteResponseId"]] = response
        self._save(api, redeploy=True)
        return dict(response)

    @staticmethod
    def _route_response(responses: dict[str, dict[str, Any]], response_id: str) -> dict[str, Any]:
        found = responses.get(response_id)
        if found is None:
            raise not_found(f"Invalid RouteResponse identifier specified {response_id}")
        return found

    async def get_route_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Route responses")
        member(api.routes, params["RouteId"], "Route")
        responses = api.route_responses.get(params["RouteId"], {})
        return dict(self._route_response(responses, params["RouteResponseId"]))

    async def get_route_responses(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Route responses")
        member(api.routes, params["RouteId"], "Route")
        items = list(api.route_responses.get(params["RouteId"], {}).values())
        return self._page(items, params, _by("RouteResponseId"), f"RR:{params['RouteId']}")

    async def update_route_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Route responses").copy()
        responses = self._route_responses(api, params["RouteId"])
        response = self._route_response(responses, params["RouteResponseId"])
        response.update(_pick(params, _ROUTE_RESPONSE_MEMBERS))
        self._check_route_response(response)
        self._save(api, redeploy=True)
        return dict(response)

    async def delete_route_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Route responses").copy()
        responses = self._route_responses(api, params["RouteId"])
        self._route_response(responses, params["RouteResponseId"])
        del responses[params["RouteResponseId"]]
        self._save(api, redeploy=True)
        return {}

    # -- integration responses -------------------------------------------------------------
    def _integration_responses(
        self, api: HttpApi, integration_id: str
    ) -> dict[str, dict[str, Any]]:
        member(api.integrations, integration_id, "Integration")
        return api.integration_responses.setdefault(integration_id, {})

    @staticmethod
    def _check_integration_response(response: dict[str, Any]) -> None:
        key = str(response.get("IntegrationResponseKey") or "")
        if key != "$default" and not (len(key) >= 2 and key[0] == key[-1] == "/"):
            raise bad_request(
                f"Invalid IntegrationResponseKey specified: {key}. It must be $default or a "
                "regular expression between slashes, e.g. /4\\d\\d/."
            )
        if key != "$default":
            try:
                re.compile(key[1:-1])
            except re.error:
                raise bad_request(f"Invalid IntegrationResponseKey specified: {key}") from None
        strategy = response.get("ContentHandlingStrategy")
        if strategy is not None and strategy not in _CONTENT_HANDLING:
            raise bad_request(f"Invalid content handling strategy specified: {strategy}")

    @staticmethod
    def _integration_response(
        responses: dict[str, dict[str, Any]], response_id: str
    ) -> dict[str, Any]:
        found = responses.get(response_id)
        if found is None:
            raise not_found(f"Invalid IntegrationResponse identifier specified {response_id}")
        return found

    async def create_integration_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Integration responses").copy()
        responses = self._integration_responses(api, params["IntegrationId"])
        response = _pick(params, _INTEGRATION_RESPONSE_MEMBERS)
        self._check_integration_response(response)
        key = response["IntegrationResponseKey"]
        if any(r["IntegrationResponseKey"] == key for r in responses.values()):
            raise bad_request(
                f"Unable to create integration response {key}. "
                "An integration response with that key already exists."
            )
        response["IntegrationResponseId"] = new_id(6)
        responses[response["IntegrationResponseId"]] = response
        self._save(api, redeploy=True)
        return dict(response)

    async def get_integration_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Integration responses")
        member(api.integrations, params["IntegrationId"], "Integration")
        responses = api.integration_responses.get(params["IntegrationId"], {})
        return dict(self._integration_response(responses, params["IntegrationResponseId"]))

    async def get_integration_responses(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Integration responses")
        member(api.integrations, params["IntegrationId"], "Integration")
        items = list(api.integration_responses.get(params["IntegrationId"], {}).values())
        scope = f"IR:{params['IntegrationId']}"
        return self._page(items, params, _by("IntegrationResponseId"), scope)

    async def update_integration_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Integration responses").copy()
        responses = self._integration_responses(api, params["IntegrationId"])
        response = self._integration_response(responses, params["IntegrationResponseId"])
        response.update(_pick(params, _INTEGRATION_RESPONSE_MEMBERS))
        self._check_integration_response(response)
        self._save(api, redeploy=True)
        return dict(response)

    async def delete_integration_response(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        api = self._websocket(ctx, params["ApiId"], "Integration responses").copy()
        responses = self._integration_responses(api, params["IntegrationId"])
        self._integration_response(responses, params["IntegrationResponseId"])
        del responses[params["IntegrationResponseId"]]
        self._save(api, redeploy=True)
        return {}


def _by(name: str) -> Callable[[dict[str, Any]], Key]:
    return lambda item: (str(item[name]),)
