"""`AWS::MSK::Cluster` and `AWS::MSK::ServerlessCluster`: MSK clusters (`fireside.msk`) made
through MSK's own operations as the stack's account.

Ref is the cluster's ARN, as is `Fn::GetAtt Arn`. A create waits for the cluster to turn
ACTIVE (CloudFormation does), and a delete for it to be gone. Tags (a key-value map in these
types) change in place; any other change replaces the cluster (Fireside applies no in-place
broker, storage or security updates).
"""

from __future__ import annotations

from typing import Any, Final

from fireside.cloudformation.providers.support import (
    as_int,
    call,
    name_for,
    require,
    wait_for,
)
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["MskCluster", "MskServerlessCluster", "providers"]

_NAME_LIMIT: Final = 64
_PROVISIONED: Final = (
    "BrokerNodeGroupInfo",
    "ClientAuthentication",
    "ConfigurationInfo",
    "EncryptionInfo",
    "EnhancedMonitoring",
    "OpenMonitoring",
    "LoggingInfo",
    "StorageMode",
    "Rebalancing",
)


def _tags(ctx: ResourceContext, given: Any) -> dict[str, str]:
    tags = dict(ctx.tags)
    if given is not None:
        if not isinstance(given, dict):
            raise ResourceFailed("Value of property Tags must be of type Object")
        tags.update({str(k): str(v) for k, v in given.items()})
    return tags


class _Base:
    replace_on: frozenset[str] = frozenset()

    async def _finish_create(self, ctx: ResourceContext, arn: str) -> Created:
        async def active() -> bool:
            info = await call(ctx, "kafka", "DescribeClusterV2", {"ClusterArn": arn})
            state = info["ClusterInfo"]["State"]
            if state == "FAILED":
                raise ResourceFailed(f"The cluster {arn} failed to create.")
            return bool(state == "ACTIVE")

        await wait_for(active, f"the MSK cluster {arn} to become ACTIVE")
        return Created(arn, {"Arn": arn})

    async def update(
        self,
        ctx: ResourceContext,
        physical_id: str,
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> Created:
        for member in sorted(set(old) | set(new)):
            if member != "Tags" and old.get(member) != new.get(member):
                raise NeedsReplacement(member)
        before, after = _tags(ctx, old.get("Tags")), _tags(ctx, new.get("Tags"))
        removed = [k for k in before if k not in after]
        if removed:
            await call(
                ctx, "kafka", "UntagResource", {"ResourceArn": physical_id, "TagKeys": removed}
            )
        if after and after != before:
            await call(ctx, "kafka", "TagResource", {"ResourceArn": physical_id, "Tags": after})
        return Created(physical_id, {"Arn": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(ctx, "kafka", "DeleteCluster", {"ClusterArn": physical_id}, missing_ok=True)

        async def gone() -> bool:
            found = await call(
                ctx, "kafka", "DescribeClusterV2", {"ClusterArn": physical_id}, missing_ok=True
            )
            return not found

        await wait_for(gone, f"the MSK cluster {physical_id} to be deleted")


class MskCluster(_Base):
    type_name = "AWS::MSK::Cluster"

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(
            properties,
            "BrokerNodeGroupInfo",
            "KafkaVersion",
            "NumberOfBrokerNodes",
            resource=ctx.logical_id,
        )
        params: dict[str, Any] = {
            "ClusterName": name_for(ctx, properties.get("ClusterName"), _NAME_LIMIT),
            "KafkaVersion": str(properties["KafkaVersion"]),
            "NumberOfBrokerNodes": as_int(properties["NumberOfBrokerNodes"], "NumberOfBrokerNodes"),
        }
        params.update({k: properties[k] for k in _PROVISIONED if properties.get(k) is not None})
        tags = _tags(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        made = await call(ctx, "kafka", "CreateCluster", params)
        return await self._finish_create(ctx, made["ClusterArn"])


class MskServerlessCluster(_Base):
    type_name = "AWS::MSK::ServerlessCluster"

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(properties, "ClientAuthentication", "VpcConfigs", resource=ctx.logical_id)
        params: dict[str, Any] = {
            "ClusterName": name_for(ctx, properties.get("ClusterName"), _NAME_LIMIT),
            "Serverless": {
                "VpcConfigs": properties["VpcConfigs"],
                "ClientAuthentication": properties["ClientAuthentication"],
            },
        }
        tags = _tags(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        made = await call(ctx, "kafka", "CreateClusterV2", params)
        return await self._finish_create(ctx, made["ClusterArn"])


def providers() -> list[ResourceType]:
    return [MskCluster(), MskServerlessCluster()]
