"""API Gateway REST APIs: AWS::ApiGateway::RestApi, ::Resource, ::Method (::Deployment and
::Stage are in `apigateway_stages`, the smaller types in `apigateway_parts`), through API
Gateway's own operations.

A RestApi with a `Body` (what SAM's `Api` becomes) or a `BodyS3Location` is imported with
ImportRestApi, and a changed body re-imported with PutRestApi (`Mode`, default overwrite),
so the API's resources, methods and integrations are exactly what an import gives; the
properties beside the body (Name, BinaryMediaTypes, ...) are then patched on. Deployments
snapshot the API; a `StageName` on a deployment creates (or moves) that stage, as on AWS.
AWS::ApiGateway::DomainName and ::BasePathMapping are not registered: Fireside's API Gateway
has no custom domain names.
"""

from __future__ import annotations

import json
from typing import Any

from fireside.cloudformation.providers.apigateway_parts import (
    REST_TAGS,
    lower,
    parts_providers,
    patch,
    pick_lower,
    rest_arn,
)
from fireside.cloudformation.providers.apigateway_stages import stage_providers
from fireside.cloudformation.providers.service_support import (
    Provider,
    read_s3_document,
    retag,
    tags_of,
)
from fireside.cloudformation.providers.support import (
    call,
    name_for,
    refused,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["providers"]

#: The REST API's own members, patched after an import (API Gateway's names).
_API_SCALARS = (
    "name",
    "description",
    "minimumCompressionSize",
    "apiKeySource",
    "disableExecuteApiEndpoint",
    "policy",
)
_BODY = frozenset({"Body", "BodyS3Location", "Parameters", "Mode", "FailOnWarnings"})


def _api_members(properties: dict[str, Any]) -> dict[str, Any]:
    """The template's RestApi properties as API Gateway's members."""
    members: dict[str, Any] = {}
    for key in ("Name", "Description", "MinimumCompressionSize", "DisableExecuteApiEndpoint"):
        if properties.get(key) is not None:
            members[lower(key)] = properties[key]
    if properties.get("ApiKeySourceType"):
        members["apiKeySource"] = properties["ApiKeySourceType"]
    policy = properties.get("Policy")
    if policy:
        members["policy"] = policy if isinstance(policy, str) else json.dumps(policy)
    if properties.get("BinaryMediaTypes"):
        members["binaryMediaTypes"] = list(properties["BinaryMediaTypes"])
    endpoint = properties.get("EndpointConfiguration") or {}
    if endpoint.get("Types"):
        members["types"] = list(endpoint["Types"])
    return members


class RestApi(Provider):
    type_name = "AWS::ApiGateway::RestApi"
    replace_on = frozenset()

    async def _body(self, ctx: ResourceContext, properties: dict[str, Any]) -> bytes | None:
        body = properties.get("Body")
        if body is not None:
            if isinstance(body, str):
                return body.encode()
            document = dict(body)
            if properties.get("Name"):  # the template's Name wins over info.title
                document["info"] = {**(document.get("info") or {}), "title": properties["Name"]}
            return json.dumps(document).encode()
        location = properties.get("BodyS3Location")
        if location:
            return await read_s3_document(ctx, location)
        return None

    @staticmethod
    def _import_parameters(properties: dict[str, Any]) -> dict[str, Any]:
        parameters = {str(k): str(v) for k, v in (properties.get("Parameters") or {}).items()}
        types = (properties.get("EndpointConfiguration") or {}).get("Types")
        if types:
            parameters.setdefault("endpointConfigurationTypes", ",".join(types))
        return parameters

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        if properties.get("CloneFrom"):
            raise refused("Fireside does not support cloning a REST API (CloneFrom) yet.")
        body = await self._body(ctx, properties)
        members = _api_members(properties)
        if body is None:
            if not members.get("name"):
                raise refused("Name is required when the REST API has no Body or BodyS3Location.")
            params = {k: v for k, v in members.items() if k != "types"}
            endpoint = properties.get("EndpointConfiguration") or {}
            if endpoint:
                params["endpointConfiguration"] = {lower(k): v for k, v in endpoint.items()}
            tags = tags_of(ctx, properties.get("Tags"))
            if tags:
                params["tags"] = tags
            api = await call(ctx, "apigateway", "CreateRestApi", params)
            return self._created(api)
        params = {"body": body, "parameters": self._import_parameters(properties)}
        if properties.get("FailOnWarnings") is not None:
            params["failOnWarnings"] = properties["FailOnWarnings"]
        api = await call(ctx, "apigateway", "ImportRestApi", params)
        try:
            await self._patch(ctx, str(api["id"]), {}, members)
            tags = tags_of(ctx, properties.get("Tags"))
            await retag(ctx, "apigateway", rest_arn(ctx, str(api["id"])), {}, tags, REST_TAGS)
        except BaseException:
            await call(ctx, "apigateway", "DeleteRestApi", {"restApiId": api["id"]})
            raise
        return self._created(api)

    @staticmethod
    def _created(api: dict[str, Any]) -> Created:
        api_id = str(api["id"])
        return Created(api_id, {"RestApiId": api_id, "RootResourceId": api["rootResourceId"]})

    async def _patch(
        self, ctx: ResourceContext, api_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        ops = patch(old, new, _API_SCALARS, lists=("binaryMediaTypes",))
        before, after = old.get("types") or [], new.get("types") or []
        if after and before != after:
            current = await call(ctx, "apigateway", "GetRestApi", {"restApiId": api_id})
            now = (current.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
            ops.append(
                {"op": "replace", "path": f"/endpointConfiguration/types/{now[0]}",
                 "value": after[0]}
            )  # fmt: skip
        if not ops:
            return await call(ctx, "apigateway", "GetRestApi", {"restApiId": api_id})
        params = {"restApiId": api_id, "patchOperations": ops}
        return await call(ctx, "apigateway", "UpdateRestApi", params)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        old_members, new_members = _api_members(old), _api_members(new)
        if any(old.get(key) != new.get(key) for key in _BODY):
            body = await self._body(ctx, new)
            if body is not None:
                params = {
                    "restApiId": physical_id,
                    "body": body,
                    "mode": new.get("Mode") or "overwrite",
                    "parameters": self._import_parameters(new),
                }
                await call(ctx, "apigateway", "PutRestApi", params)
                old_members = {}  # the import may have set them: set the template's again
        before, after = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        await retag(ctx, "apigateway", rest_arn(ctx, physical_id), before, after, REST_TAGS)
        return self._created(await self._patch(ctx, physical_id, old_members, new_members))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"restApiId": physical_id}
        await call(ctx, "apigateway", "DeleteRestApi", params, missing_ok=True)


class Resource(Provider):
    """Every property of a resource needs a new one (AWS's documentation)."""

    type_name = "AWS::ApiGateway::Resource"
    replace_on = frozenset({"RestApiId", "ParentId", "PathPart"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = pick_lower(properties, ("RestApiId", "ParentId", "PathPart"))
        answer = await call(ctx, "apigateway", "CreateResource", params)
        return Created(str(answer["id"]), {"ResourceId": answer["id"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"restApiId": properties["RestApiId"], "resourceId": physical_id}
        await call(ctx, "apigateway", "DeleteResource", params, missing_ok=True)


class Method(Provider):
    """A method with its integration and responses, put as a whole; an update (of any
    property, even its resource or HTTP method) puts it again. Ref is a generated method id,
    as CloudFormation's (`<stack>-<logical id>-<random>`)."""

    type_name = "AWS::ApiGateway::Method"
    replace_on = frozenset()
    _METHOD = (
        "AuthorizationType",
        "AuthorizerId",
        "ApiKeyRequired",
        "OperationName",
        "RequestParameters",
        "RequestModels",
        "RequestValidatorId",
        "AuthorizationScopes",
    )
    _INTEGRATION = (
        "Type",
        "IntegrationHttpMethod",
        "Uri",
        "Credentials",
        "RequestParameters",
        "RequestTemplates",
        "PassthroughBehavior",
        "CacheNamespace",
        "CacheKeyParameters",
        "ContentHandling",
        "TimeoutInMillis",
        "ConnectionType",
        "ConnectionId",
    )

    @staticmethod
    def _address(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "restApiId": properties["RestApiId"],
            "resourceId": properties["ResourceId"],
            "httpMethod": str(properties["HttpMethod"]).upper(),
        }

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        await self._put(ctx, properties)
        return Created(name_for(ctx, None, 128))

    async def _put(self, ctx: ResourceContext, properties: dict[str, Any]) -> None:
        address = self._address(properties)
        method = pick_lower(properties, self._METHOD)
        method.setdefault("authorizationType", "NONE")
        await call(ctx, "apigateway", "PutMethod", {**address, **method})
        try:
            for response in properties.get("MethodResponses") or []:
                params = pick_lower(
                    response, ("StatusCode", "ResponseParameters", "ResponseModels")
                )
                await call(ctx, "apigateway", "PutMethodResponse", {**address, **params})
            integration = properties.get("Integration")
            if integration:
                params = pick_lower(integration, self._INTEGRATION)
                await call(ctx, "apigateway", "PutIntegration", {**address, **params})
                for response in integration.get("IntegrationResponses") or []:
                    params = pick_lower(
                        response,
                        ("StatusCode", "SelectionPattern", "ResponseParameters",
                         "ResponseTemplates", "ContentHandling"),
                    )  # fmt: skip
                    await call(ctx, "apigateway", "PutIntegrationResponse", {**address, **params})
        except BaseException:
            await call(ctx, "apigateway", "DeleteMethod", address, missing_ok=True)
            raise

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        await self.delete(ctx, physical_id, old)
        await self._put(ctx, new)
        return Created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(ctx, "apigateway", "DeleteMethod", self._address(properties), missing_ok=True)


def providers() -> list[ResourceType]:
    return [RestApi(), Resource(), Method(), *stage_providers(), *parts_providers()]
