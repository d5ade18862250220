"""API Gateway HTTP APIs: AWS::ApiGatewayV2::Api, ::Stage, ::Route, ::Integration,
::Authorizer, ::Deployment, through apigatewayv2's own operations.

An Api with a `Body` (what SAM's `HttpApi` becomes) or `BodyS3Location` is imported with
ImportApi and re-imported with ReimportApi when the body changes; the properties beside the
body are then set with UpdateApi. Without a body it is CreateApi, quick create (`Target`,
`RouteKey`, `CredentialsArn`) included. CloudFormation's names are apigatewayv2's, so the
properties pass through as they are. Updates call the type's `Update*` with the template's
current properties. WebSocket APIs use the same types (their properties are apigatewayv2's
too: `RouteSelectionExpression`, `RouteResponseSelectionExpression`, `RequestTemplates`...)
and two of their own, RouteResponse and IntegrationResponse, parts of a route or an
integration (Ref is their id).
"""

from __future__ import annotations

import json
from typing import Any

from fireside.cloudformation.providers.service_support import (
    Provider,
    read_s3_document,
    retag,
    tags_of,
)
from fireside.cloudformation.providers.support import (
    call,
    refused,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["providers"]

_API_MEMBERS = (
    "Name",
    "Description",
    "Version",
    "CorsConfiguration",
    "DisableExecuteApiEndpoint",
    "DisableSchemaValidation",
    "RouteSelectionExpression",
    "ApiKeySelectionExpression",
    "IpAddressType",
)
_QUICK_CREATE = ("Target", "RouteKey", "CredentialsArn")
_BODY = ("Body", "BodyS3Location", "BasePath", "FailOnWarnings")


def _arn(ctx: ResourceContext, path: str) -> str:
    """The ARN apigatewayv2 tags by: `/apis/<id>` or `/apis/<id>/stages/<name>`."""
    return f"arn:aws:apigateway:{ctx.region}::/apis/{path}"


def _pick(properties: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: properties[key] for key in keys if properties.get(key) is not None}


class Api(Provider):
    type_name = "AWS::ApiGatewayV2::Api"
    replace_on = frozenset({"ProtocolType"})

    @staticmethod
    async def _body(ctx: ResourceContext, properties: dict[str, Any]) -> str | None:
        body = properties.get("Body")
        if body is not None:
            return body if isinstance(body, str) else json.dumps(body)
        location = properties.get("BodyS3Location")
        if location:
            return (await read_s3_document(ctx, location)).decode("utf-8", "replace")
        return None

    @staticmethod
    def _import_params(properties: dict[str, Any], body: str) -> dict[str, Any]:
        params: dict[str, Any] = {"Body": body}
        if properties.get("BasePath"):
            params["Basepath"] = properties["BasePath"]
        if properties.get("FailOnWarnings") is not None:
            params["FailOnWarnings"] = properties["FailOnWarnings"]
        return params

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        body = await self._body(ctx, properties)
        tags = tags_of(ctx, properties.get("Tags"))
        if body is None:
            params = _pick(properties, (*_API_MEMBERS, *_QUICK_CREATE, "ProtocolType"))
            if tags:
                params["Tags"] = tags
            if not params.get("Name") or not params.get("ProtocolType"):
                raise refused("Name and ProtocolType are required when the API has no Body.")
            return self._created(await call(ctx, "apigatewayv2", "CreateApi", params))
        api = await call(ctx, "apigatewayv2", "ImportApi", self._import_params(properties, body))
        try:
            api = await self._set(ctx, str(api["ApiId"]), properties)
            await retag(ctx, "apigatewayv2", _arn(ctx, str(api["ApiId"])), {}, tags)
        except BaseException:
            await call(ctx, "apigatewayv2", "DeleteApi", {"ApiId": api["ApiId"]})
            raise
        return self._created(api)

    @staticmethod
    async def _set(ctx: ResourceContext, api_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        params = _pick(properties, (*_API_MEMBERS, *_QUICK_CREATE))
        return await call(ctx, "apigatewayv2", "UpdateApi", {"ApiId": api_id, **params})

    @staticmethod
    def _created(api: dict[str, Any]) -> Created:
        api_id = str(api["ApiId"])
        return Created(api_id, {"ApiId": api_id, "ApiEndpoint": api.get("ApiEndpoint", "")})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        if any(old.get(key) != new.get(key) for key in _BODY):
            body = await self._body(ctx, new)
            if body is not None:
                params = {"ApiId": physical_id, **self._import_params(new, body)}
                await call(ctx, "apigatewayv2", "ReimportApi", params)
        before, after = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        await retag(ctx, "apigatewayv2", _arn(ctx, physical_id), before, after)
        if old.get("CorsConfiguration") and not new.get("CorsConfiguration"):
            params = {"ApiId": physical_id}
            await call(ctx, "apigatewayv2", "DeleteCorsConfiguration", params, missing_ok=True)
        return self._created(await self._set(ctx, physical_id, new))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(ctx, "apigatewayv2", "DeleteApi", {"ApiId": physical_id}, missing_ok=True)


class _Part(Provider):
    """A part of an HTTP API made by Create*, changed by Update* (with every current
    property), removed by Delete*; Ref is its id."""

    create_op = update_op = delete_op = ""
    id_member = ""
    keys: tuple[str, ...] = ()
    replace_on = frozenset({"ApiId"})

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        return {"ApiId": properties["ApiId"], **_pick(properties, self.keys)}

    def _created(self, resource_id: str) -> Created:
        return Created(resource_id, {self.id_member: resource_id})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        answer = await call(ctx, "apigatewayv2", self.create_op, self._params(ctx, properties))
        return self._created(str(answer[self.id_member]))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = {**self._params(ctx, new), self.id_member: physical_id}
        await call(ctx, "apigatewayv2", self.update_op, params)
        return self._created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"ApiId": properties["ApiId"], self.id_member: physical_id}
        await call(ctx, "apigatewayv2", self.delete_op, params, missing_ok=True)


class Route(_Part):
    type_name = "AWS::ApiGatewayV2::Route"
    create_op, update_op, delete_op = "CreateRoute", "UpdateRoute", "DeleteRoute"
    id_member = "RouteId"
    keys = (
        "RouteKey",
        "Target",
        "AuthorizationType",
        "AuthorizerId",
        "AuthorizationScopes",
        "ApiKeyRequired",
        "OperationName",
        "RequestModels",
        "RequestParameters",
        "ModelSelectionExpression",
        "RouteResponseSelectionExpression",
    )

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        if "RequestParameters" in params:  # CloudFormation: {name: {Required}}
            params["RequestParameters"] = {
                name: {"Required": (spec or {}).get("Required", False)}
                for name, spec in params["RequestParameters"].items()
            }
        return params


class Integration(_Part):
    type_name = "AWS::ApiGatewayV2::Integration"
    create_op, update_op = "CreateIntegration", "UpdateIntegration"
    delete_op, id_member = "DeleteIntegration", "IntegrationId"
    keys = (
        "IntegrationType",
        "IntegrationSubtype",
        "IntegrationUri",
        "IntegrationMethod",
        "PayloadFormatVersion",
        "ConnectionType",
        "ConnectionId",
        "CredentialsArn",
        "Description",
        "RequestParameters",
        "RequestTemplates",
        "ResponseParameters",
        "TimeoutInMillis",
        "TlsConfig",
        "PassthroughBehavior",
        "TemplateSelectionExpression",
        "ContentHandlingStrategy",
    )

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        responses = params.get("ResponseParameters")
        if responses:  # CloudFormation: {status: {ResponseParameters: [{Destination, Source}]}}
            params["ResponseParameters"] = {
                status: (
                    {p["Destination"]: p["Source"] for p in spec.get("ResponseParameters", [])}
                    if isinstance(spec.get("ResponseParameters"), list)
                    else spec
                )
                for status, spec in responses.items()
            }
        return params


class Authorizer(_Part):
    type_name = "AWS::ApiGatewayV2::Authorizer"
    create_op, update_op = "CreateAuthorizer", "UpdateAuthorizer"
    delete_op, id_member = "DeleteAuthorizer", "AuthorizerId"
    keys = (
        "AuthorizerType",
        "Name",
        "IdentitySource",
        "AuthorizerUri",
        "AuthorizerCredentialsArn",
        "AuthorizerPayloadFormatVersion",
        "AuthorizerResultTtlInSeconds",
        "EnableSimpleResponses",
        "IdentityValidationExpression",
        "JwtConfiguration",
    )


class Deployment(_Part):
    type_name = "AWS::ApiGatewayV2::Deployment"
    create_op, update_op = "CreateDeployment", "UpdateDeployment"
    delete_op, id_member = "DeleteDeployment", "DeploymentId"
    keys = ("Description", "StageName")

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = {"ApiId": new["ApiId"], "DeploymentId": physical_id}
        if new.get("Description") is not None:
            params["Description"] = new["Description"]
        await call(ctx, "apigatewayv2", "UpdateDeployment", params)
        if new.get("StageName") and new.get("StageName") != old.get("StageName"):
            params = {"ApiId": new["ApiId"], "StageName": new["StageName"],
                      "DeploymentId": physical_id}  # fmt: skip
            await call(ctx, "apigatewayv2", "UpdateStage", params)
        return self._created(physical_id)


class Stage(_Part):
    """Ref is the stage's name."""

    type_name = "AWS::ApiGatewayV2::Stage"
    replace_on = frozenset({"ApiId", "StageName"})
    create_op, update_op, delete_op = "CreateStage", "UpdateStage", "DeleteStage"
    id_member = "StageName"
    keys = (
        "StageName",
        "AutoDeploy",
        "DeploymentId",
        "Description",
        "StageVariables",
        "DefaultRouteSettings",
        "RouteSettings",
        "AccessLogSettings",
        "ClientCertificateId",
    )

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        tags = tags_of(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        return params

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = {k: v for k, v in self._params(ctx, new).items() if k != "Tags"}
        params["StageName"] = physical_id
        await call(ctx, "apigatewayv2", "UpdateStage", params)
        before, after = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        await retag(
            ctx, "apigatewayv2", _arn(ctx, f"{new['ApiId']}/stages/{physical_id}"), before, after
        )
        return self._created(physical_id)


class RouteResponse(_Part):
    """A WebSocket route's response (what makes the route two-way)."""

    type_name = "AWS::ApiGatewayV2::RouteResponse"
    replace_on = frozenset({"ApiId", "RouteId"})
    create_op, update_op = "CreateRouteResponse", "UpdateRouteResponse"
    delete_op, id_member = "DeleteRouteResponse", "RouteResponseId"
    keys = ("RouteId", "RouteResponseKey", "ModelSelectionExpression", "ResponseModels")

    def _params(self, ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        params = super()._params(ctx, properties)
        if properties.get("ResponseParameters"):  # CloudFormation: {name: {Required}}
            params["ResponseParameters"] = {
                name: {"Required": bool((spec or {}).get("Required", False))}
                for name, spec in properties["ResponseParameters"].items()
            }
        return params

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"ApiId": properties["ApiId"], "RouteId": properties["RouteId"],
                  "RouteResponseId": physical_id}  # fmt: skip
        await call(ctx, "apigatewayv2", self.delete_op, params, missing_ok=True)


class IntegrationResponse(_Part):
    """A WebSocket integration's response (its templates and the status it is for)."""

    type_name = "AWS::ApiGatewayV2::IntegrationResponse"
    replace_on = frozenset({"ApiId", "IntegrationId"})
    create_op, update_op = "CreateIntegrationResponse", "UpdateIntegrationResponse"
    delete_op, id_member = "DeleteIntegrationResponse", "IntegrationResponseId"
    keys = (
        "IntegrationId",
        "IntegrationResponseKey",
        "ContentHandlingStrategy",
        "ResponseParameters",
        "ResponseTemplates",
        "TemplateSelectionExpression",
    )

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"ApiId": properties["ApiId"], "IntegrationId": properties["IntegrationId"],
                  "IntegrationResponseId": physical_id}  # fmt: skip
        await call(ctx, "apigatewayv2", self.delete_op, params, missing_ok=True)


def providers() -> list[ResourceType]:
    return [
        Api(),
        Stage(),
        Route(),
        Integration(),
        Authorizer(),
        Deployment(),
        RouteResponse(),
        IntegrationResponse(),
    ]
