"""What connects a Lambda function to the rest: AWS::Lambda::Permission, ::Url,
::EventInvokeConfig, ::EventSourceMapping, ::LayerVersion and ::LayerVersionPermission.

Each goes through Lambda's own operation (AddPermission, CreateFunctionUrlConfig, ...), as
the stack's account, so a permission or mapping made by a stack is the one the service
checks on every invoke. Physical ids are what CloudFormation's `Ref` gives: a permission's
statement id, an event-source mapping's UUID, a layer version's ARN, a URL's function ARN.
"""

from __future__ import annotations

from typing import Any

from fireside.cloudformation.providers.service_support import (
    Provider,
    tags_of,
    wait_until,
)
from fireside.cloudformation.providers.support import (
    call,
    name_for,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["wiring_providers"]

#: A statement id's length limit (AddPermission's model).
MAX_STATEMENT_ID = 100
#: A layer name's length limit (the name, not the ARN the model also allows).
MAX_LAYER_NAME = 64


def _pick(properties: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: properties[key] for key in keys if properties.get(key) is not None}


class Permission(Provider):
    """A statement in the function's resource policy; every property needs a new one."""

    type_name = "AWS::Lambda::Permission"
    _KEYS = (
        "Action",
        "FunctionName",
        "Principal",
        "SourceArn",
        "SourceAccount",
        "FunctionUrlAuthType",
        "EventSourceToken",
        "PrincipalOrgID",
        "InvokedViaFunctionUrl",
    )
    replace_on = frozenset(_KEYS)

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        sid = name_for(ctx, None, MAX_STATEMENT_ID)
        params = _pick(properties, *self._KEYS)
        params["StatementId"] = sid
        await call(ctx, "lambda", "AddPermission", params)
        return Created(sid, {"Id": sid})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(
            ctx,
            "lambda",
            "RemovePermission",
            {"FunctionName": properties["FunctionName"], "StatementId": physical_id},
            missing_ok=True,
        )


class Url(Provider):
    type_name = "AWS::Lambda::Url"
    replace_on = frozenset({"TargetFunctionArn", "Qualifier"})

    @staticmethod
    def _target(properties: dict[str, Any]) -> dict[str, Any]:
        target = {"FunctionName": properties["TargetFunctionArn"]}
        if properties.get("Qualifier"):
            target["Qualifier"] = properties["Qualifier"]
        return target

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {**self._target(properties), **_pick(properties, "AuthType", "Cors", "InvokeMode")}
        answer = await call(ctx, "lambda", "CreateFunctionUrlConfig", params)
        return self._created(answer)

    @staticmethod
    def _created(answer: dict[str, Any]) -> Created:
        arn = str(answer["FunctionArn"])
        return Created(arn, {"FunctionArn": arn, "FunctionUrl": answer["FunctionUrl"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = {
            **self._target(new),
            "AuthType": new["AuthType"],
            "Cors": new.get("Cors") or {},
            "InvokeMode": new.get("InvokeMode") or "BUFFERED",
        }
        return self._created(await call(ctx, "lambda", "UpdateFunctionUrlConfig", params))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(
            ctx, "lambda", "DeleteFunctionUrlConfig", self._target(properties), missing_ok=True
        )


class EventInvokeConfig(Provider):
    type_name = "AWS::Lambda::EventInvokeConfig"
    replace_on = frozenset({"FunctionName", "Qualifier"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        return await self._put(ctx, properties)

    async def _put(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = _pick(
            properties,
            "FunctionName",
            "Qualifier",
            "MaximumEventAgeInSeconds",
            "MaximumRetryAttempts",
            "DestinationConfig",
        )
        await call(ctx, "lambda", "PutFunctionEventInvokeConfig", params)
        return Created(f"{properties['FunctionName']}:{properties.get('Qualifier', '$LATEST')}")

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        return await self._put(ctx, new)  # Put replaces the whole configuration

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(
            ctx,
            "lambda",
            "DeleteFunctionEventInvokeConfig",
            _pick(properties, "FunctionName", "Qualifier"),
            missing_ok=True,
        )


class EventSourceMapping(Provider):
    """An SQS queue, DynamoDB stream or Kafka topic (MSK or self-managed) polled for the
    function; handed back once `Enabled` (or `Disabled`), as CloudFormation waits."""

    type_name = "AWS::Lambda::EventSourceMapping"
    replace_on = frozenset(
        {
            "EventSourceArn",
            "StartingPosition",
            "StartingPositionTimestamp",
            "SelfManagedEventSource",
            "AmazonManagedKafkaEventSourceConfig",
            "SelfManagedKafkaEventSourceConfig",
        }
    )
    _CREATE = (
        "EventSourceArn",
        "FunctionName",
        "Enabled",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "StartingPosition",
        "StartingPositionTimestamp",
        "FilterCriteria",
        "FunctionResponseTypes",
        "ScalingConfig",
        "DestinationConfig",
        "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts",
        "BisectBatchOnFunctionError",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
        "Topics",
        "SourceAccessConfigurations",
        "AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig",
    )
    _UPDATE = (
        "FunctionName",
        "Enabled",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FilterCriteria",
        "FunctionResponseTypes",
        "ScalingConfig",
        "DestinationConfig",
        "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts",
        "BisectBatchOnFunctionError",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
    )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = _pick(properties, *self._CREATE)
        source = properties.get("SelfManagedEventSource")
        if source:  # CloudFormation's KafkaBootstrapServers is the API's KAFKA_BOOTSTRAP_SERVERS
            servers = (source.get("Endpoints") or {}).get("KafkaBootstrapServers")
            params["SelfManagedEventSource"] = {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": servers}}
        tags = tags_of(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        mapping = await call(ctx, "lambda", "CreateEventSourceMapping", params)
        uuid = str(mapping["UUID"])
        try:
            settled = await self._settled(ctx, uuid)
        except BaseException:
            await call(ctx, "lambda", "DeleteEventSourceMapping", {"UUID": uuid}, missing_ok=True)
            raise
        return self._created(settled)

    @staticmethod
    def _created(mapping: dict[str, Any]) -> Created:
        uuid = str(mapping["UUID"])
        attributes = {"Id": uuid}
        if mapping.get("EventSourceMappingArn"):
            attributes["EventSourceMappingArn"] = mapping["EventSourceMappingArn"]
        return Created(uuid, attributes)

    @staticmethod
    async def _settled(ctx: ResourceContext, uuid: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            mapping = await call(ctx, "lambda", "GetEventSourceMapping", {"UUID": uuid})
            return mapping if mapping.get("State") in ("Enabled", "Disabled") else None

        return await wait_until(probe, f"event source mapping {uuid} to become Enabled")

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = _pick(new, *self._UPDATE)
        params["UUID"] = physical_id
        params.setdefault("Enabled", True)
        if old.get("FilterCriteria") and not new.get("FilterCriteria"):
            params["FilterCriteria"] = {"Filters": []}
        await call(ctx, "lambda", "UpdateEventSourceMapping", params)
        return self._created(await self._settled(ctx, physical_id))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(
            ctx, "lambda", "DeleteEventSourceMapping", {"UUID": physical_id}, missing_ok=True
        )

        async def probe() -> bool | None:
            found = await call(
                ctx, "lambda", "GetEventSourceMapping", {"UUID": physical_id}, missing_ok=True
            )
            return True if not found else None

        await wait_until(probe, f"event source mapping {physical_id} to be deleted")


def _layer_parts(arn: str) -> tuple[str, str]:
    """(layer ARN, version number) of a layer version ARN."""
    layer, _, version = arn.rpartition(":")
    return layer, version


class LayerVersion(Provider):
    """A published layer version never changes: every property needs a new one."""

    type_name = "AWS::Lambda::LayerVersion"
    replace_on = frozenset(
        {
            "CompatibleArchitectures",
            "CompatibleRuntimes",
            "Content",
            "Description",
            "LayerName",
            "LicenseInfo",
        }
    )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = _pick(
            properties,
            "Content",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "Description",
            "LicenseInfo",
        )
        params["LayerName"] = name_for(ctx, properties.get("LayerName"), MAX_LAYER_NAME)
        published = await call(ctx, "lambda", "PublishLayerVersion", params)
        arn = str(published["LayerVersionArn"])
        return Created(arn, {"LayerVersionArn": arn})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        layer, version = _layer_parts(physical_id)
        await call(
            ctx,
            "lambda",
            "DeleteLayerVersion",
            {"LayerName": layer, "VersionNumber": version},
            missing_ok=True,
        )


class LayerVersionPermission(Provider):
    type_name = "AWS::Lambda::LayerVersionPermission"
    replace_on = frozenset({"Action", "LayerVersionArn", "OrganizationId", "Principal"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        arn = str(properties["LayerVersionArn"])
        layer, version = _layer_parts(arn)
        sid = name_for(ctx, None, MAX_STATEMENT_ID)
        params = _pick(properties, "Action", "Principal", "OrganizationId")
        params.update({"LayerName": layer, "VersionNumber": version, "StatementId": sid})
        await call(ctx, "lambda", "AddLayerVersionPermission", params)
        return Created(f"{arn}#{sid}", {"Id": f"{arn}#{sid}"})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        arn, _, sid = physical_id.partition("#")
        layer, version = _layer_parts(arn)
        await call(
            ctx,
            "lambda",
            "RemoveLayerVersionPermission",
            {"LayerName": layer, "VersionNumber": version, "StatementId": sid},
            missing_ok=True,
        )


def wiring_providers() -> list[ResourceType]:
    return [
        Permission(),
        Url(),
        EventInvokeConfig(),
        EventSourceMapping(),
        LayerVersion(),
        LayerVersionPermission(),
    ]
