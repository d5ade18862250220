"""AWS::ApiGateway::Deployment and ::Stage: a REST API's snapshots and where they are served.

A deployment's `StageName` creates that stage (or moves it to the deployment), as on AWS, and
deleting the deployment deletes the stage while it still serves it. A Stage's settings are
patched in place with UpdateStage, its MethodSettings as `/<resource path>/<method>/<setting>`
patch paths.
"""

from __future__ import annotations

from typing import Any

from fireside.cloudformation.providers.apigateway_parts import (
    REST_TAGS,
    lower,
    patch,
    pick_lower,
    rest_arn,
)
from fireside.cloudformation.providers.service_support import (
    Provider,
    retag,
    tags_of,
)
from fireside.cloudformation.providers.support import (
    call,
    name_for,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["stage_providers"]


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
        name = str(properties.get("StageName") or name_for(ctx, None, 128))
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
        arn = rest_arn(ctx, f"restapis/{new['RestApiId']}/stages/{physical_id}")
        before, after = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        await retag(ctx, "apigateway", arn, before, after, REST_TAGS)
        return Created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        address = {"restApiId": properties["RestApiId"], "stageName": physical_id}
        await call(ctx, "apigateway", "DeleteStage", address, missing_ok=True)


def stage_providers() -> list[ResourceType]:
    return [Deployment(), Stage()]
