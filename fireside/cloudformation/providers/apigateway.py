"""API Gateway REST APIs: AWS::ApiGateway::RestApi, ::Resource, ::Method, ::Deployment,
::Stage (the smaller types are in `apigateway_parts`), through API Gateway's own operations.

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
    lower,
    parts_providers,
    patch,
    pick_lower,
)
from fireside.cloudformation.providers.service_support import (
    Provider,
    call,
    failed,
    generated,
    tags_of,
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
            params = {"Bucket": location["Bucket"], "Key": location["Key"]}
            if location.get("Version"):
                params["VersionId"] = location["Version"]
            answer = await call(ctx, "s3", "GetObject", params)
            data = answer.get("Body", b"")
            return data if isinstance(data, bytes) else bytes(data)
        return None

    @staticmethod
    def _import_parameters(properties: dict[str, Any]) -> dict[str, Any]:
        parameters = {str(k): str(v) for k, v in (properties.get("Parameters") or {}).items()}
        types = (properties.get("EndpointConfiguration") or {}).get("Types")
        if types:
            parameters.setdefault("endpointConfigurationTypes", ",".join(types))
        return parameters

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        body = await self._body(ctx, properties)
        members = _api_members(properties)
        if body is None:
            if not members.get("name"):
                raise failed("Name is required when the REST API has no Body or BodyS3Location.")
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
        return Created(generated(ctx, 128))

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


class Deployment(Provider):
    """Fireside's API Gateway has no UpdateDeployment: a new Description makes a new
    deployment (which takes over the stage) where AWS would rename the old one."""

    type_name = "AWS::ApiGateway::Deployment"
    replace_on = frozenset({"RestApiId", "DeploymentCanarySettings", "Description"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = pick_lower(properties, ("RestApiId", "Description", "StageName"))
        stage = properties.get("StageDescription") or {}
        if stage.get("Description"):
            params["stageDescription"] = stage["Description"]
        if stage.get("Variables"):
            params["variables"] = stage["Variables"]
        answer = await call(ctx, "apigateway", "CreateDeployment", params)
        deployment_id = str(answer["id"])
        return Created(deployment_id, {"DeploymentId": deployment_id})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        api = new["RestApiId"]
        before, after = old.get("StageName"), new.get("StageName")
        if after and after != before:
            stage = await call(
                ctx, "apigateway", "GetStage", {"restApiId": api, "stageName": after},
                missing_ok=True,
            )  # fmt: skip
            if stage:
                ops = [{"op": "replace", "path": "/deploymentId", "value": physical_id}]
                params = {"restApiId": api, "stageName": after, "patchOperations": ops}
                await call(ctx, "apigateway", "UpdateStage", params)
            else:
                params = {"restApiId": api, "stageName": after, "deploymentId": physical_id}
                await call(ctx, "apigateway", "CreateStage", params)
        if before and before != after:
            await self._delete_own_stage(ctx, physical_id, api, before)
        return Created(physical_id, {"DeploymentId": physical_id})

    @staticmethod
    async def _delete_own_stage(
        ctx: ResourceContext, deployment_id: str, api: str, stage_name: str
    ) -> None:
        """The stage this deployment's StageName made, while it still serves this deployment."""
        address = {"restApiId": api, "stageName": stage_name}
        stage = await call(ctx, "apigateway", "GetStage", address, missing_ok=True)
        if stage and stage.get("deploymentId") == deployment_id:
            await call(ctx, "apigateway", "DeleteStage", address, missing_ok=True)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        api = properties["RestApiId"]
        if properties.get("StageName"):
            await self._delete_own_stage(ctx, physical_id, api, str(properties["StageName"]))
        params = {"restApiId": api, "deploymentId": physical_id}
        await call(ctx, "apigateway", "DeleteDeployment", params, missing_ok=True)


_STAGE_SCALARS = (
    "DeploymentId",
    "Description",
    "TracingEnabled",
    "CacheClusterEnabled",
    "CacheClusterSize",
    "ClientCertificateId",
    "DocumentationVersion",
)
_METHOD_SETTINGS = {
    "LoggingLevel": "logging/loglevel",
    "MetricsEnabled": "metrics/enabled",
    "DataTraceEnabled": "logging/dataTrace",
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "ThrottlingRateLimit": "throttling/rateLimit",
    "CachingEnabled": "caching/enabled",
    "CacheTtlInSeconds": "caching/ttlInSeconds",
    "CacheDataEncrypted": "caching/dataEncrypted",
}


def _settings_ops(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]]:
    """A stage's MethodSettings and AccessLogSetting as patch operations."""
    ops: list[dict[str, str]] = []

    def keyed(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for setting in props.get("MethodSettings") or []:
            path = str(setting.get("ResourcePath", "/*")).replace("~", "~0").replace("/", "~1")
            out[f"/{path}/{setting.get('HttpMethod', '*')}"] = setting
        return out

    before, after = keyed(old), keyed(new)
    for prefix in before.keys() | after.keys():
        for key, member in _METHOD_SETTINGS.items():
            was = before.get(prefix, {}).get(key)
            now = after.get(prefix, {}).get(key)
            if was != now:
                if now is None:
                    ops.append({"op": "remove", "path": f"{prefix}/{member}"})
                else:
                    value = str(now).lower() if isinstance(now, bool) else str(now)
                    ops.append({"op": "replace", "path": f"{prefix}/{member}", "value": value})
    logs_before = old.get("AccessLogSetting") or {}
    logs_after = new.get("AccessLogSetting") or {}
    if logs_before != logs_after:
        if not logs_after:
            ops.append({"op": "remove", "path": "/accessLogSettings"})
        for key in ("DestinationArn", "Format"):
            if logs_after.get(key) is not None:
                path = f"/accessLogSettings/{lower(key)}"
                ops.append({"op": "replace", "path": path, "value": str(logs_after[key])})
    return ops


class Stage(Provider):
    type_name = "AWS::ApiGateway::Stage"
    replace_on = frozenset({"RestApiId", "StageName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = pick_lower(
            properties,
            ("RestApiId", "DeploymentId", "Description", "Variables", "TracingEnabled",
             "CacheClusterEnabled", "CacheClusterSize", "DocumentationVersion"),
        )  # fmt: skip
        name = str(properties.get("StageName") or generated(ctx, 128))
        params["stageName"] = name
        tags = tags_of(ctx, properties.get("Tags"))
        if tags:
            params["tags"] = tags
        await call(ctx, "apigateway", "CreateStage", params)
        ops = _settings_ops({}, properties)
        if ops:
            address = {"restApiId": properties["RestApiId"], "stageName": name}
            try:
                await call(ctx, "apigateway", "UpdateStage", {**address, "patchOperations": ops})
            except BaseException:
                await call(ctx, "apigateway", "DeleteStage", address, missing_ok=True)
                raise
        return Created(name)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        ops = patch(old, new, _STAGE_SCALARS, maps=("Variables",)) + _settings_ops(old, new)
        if ops:
            address = {"restApiId": new["RestApiId"], "stageName": physical_id}
            await call(ctx, "apigateway", "UpdateStage", {**address, "patchOperations": ops})
        return Created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        address = {"restApiId": properties["RestApiId"], "stageName": physical_id}
        await call(ctx, "apigateway", "DeleteStage", address, missing_ok=True)


def providers() -> list[ResourceType]:
    return [RestApi(), Resource(), Method(), Deployment(), Stage(), *parts_providers()]
