"""AWS::DynamoDB::GlobalTable as a single-region table.

Fireside serves one region per stack, so a global table is the table its replica in the
stack's region describes: the GlobalTable's shared settings plus that replica's own
(deletion protection, table class, tags, point-in-time recovery, read capacity). Replicas
in other regions are refused rather than silently dropped. Auto-scaled capacity becomes
its floor (`MinCapacity`) as fixed capacity; Fireside does not scale tables.
"""

from __future__ import annotations

from typing import Any

from fireside.cloudformation.providers.dynamodb import TableType
from fireside.cloudformation.providers.support import as_int, require
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["GlobalTableType", "providers"]


class GlobalTableType:
    """A GlobalTable as the one table in the stack's region its replica there describes."""

    type_name = "AWS::DynamoDB::GlobalTable"
    replace_on = frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"})

    def __init__(self) -> None:
        self._table = TableType()

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        return await self._table.create(ctx, _as_table(ctx, properties))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        return await self._table.update(
            ctx,
            physical_id,
            _as_table(ctx, old),
            _as_table(ctx, new),
        )

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await self._table.delete(ctx, physical_id, properties)


def _capacity_of(settings: Any, units: str) -> int | None:
    """Fixed capacity (`ReadCapacityUnits`) or an auto-scaling floor (`MinCapacity`)."""
    if not settings:
        return None
    if settings.get(units) is not None:
        return as_int(settings[units], units)
    scaling = settings.get(units.replace("Units", "AutoScalingSettings")) or {}
    return None if scaling.get("MinCapacity") is None else as_int(scaling["MinCapacity"], units)


def _as_table(ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
    """GlobalTable properties as the Table properties of its replica in `ctx.region`."""
    require(properties, "KeySchema", "AttributeDefinitions", "Replicas", resource=ctx.logical_id)
    replicas = properties["Replicas"]
    others = sorted({str(r.get("Region")) for r in replicas if r.get("Region") != ctx.region})
    if others:
        raise ResourceFailed(
            f"Fireside serves a GlobalTable in the stack's region ({ctx.region}) only; "
            f"replicas in {', '.join(others)} are not supported"
        )
    if not replicas:
        raise ResourceFailed(f"Replicas must include a replica in the stack's region {ctx.region}")
    replica = replicas[0]
    table: dict[str, Any] = {
        k: properties[k]
        for k in (
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "LocalSecondaryIndexes",
            "StreamSpecification",
            "TimeToLiveSpecification",
            "SSESpecification",
        )
        if properties.get(k) is not None
    }
    for k in (
        "DeletionProtectionEnabled",
        "TableClass",
        "Tags",
        "PointInTimeRecoverySpecification",
    ):
        if replica.get(k) is not None:
            table[k] = replica[k]
    if replica.get("ResourcePolicy"):
        table["ResourcePolicy"] = replica["ResourcePolicy"]
    kms = (replica.get("SSESpecification") or {}).get("KMSMasterKeyId")
    if kms and table.get("SSESpecification"):
        table["SSESpecification"] = {**table["SSESpecification"], "KMSMasterKeyId": kms}
    write = _capacity_of(properties.get("WriteProvisionedThroughputSettings"), "WriteCapacityUnits")
    read = _capacity_of(replica.get("ReadProvisionedThroughputSettings"), "ReadCapacityUnits")
    provisioned = table.get("BillingMode") == "PROVISIONED"
    if provisioned and write is not None:
        table["ProvisionedThroughput"] = {
            "ReadCapacityUnits": read or write,
            "WriteCapacityUnits": write,
        }
    replica_indexes = {i.get("IndexName"): i for i in replica.get("GlobalSecondaryIndexes") or []}
    indexes = []
    for spec in properties.get("GlobalSecondaryIndexes") or []:
        index = {k: spec[k] for k in ("IndexName", "KeySchema", "Projection") if k in spec}
        gsi_write = _capacity_of(
            spec.get("WriteProvisionedThroughputSettings"), "WriteCapacityUnits"
        )
        gsi_read = _capacity_of(
            (replica_indexes.get(spec.get("IndexName")) or {}).get(
                "ReadProvisionedThroughputSettings"
            ),
            "ReadCapacityUnits",
        )
        if provisioned and gsi_write is not None:
            index["ProvisionedThroughput"] = {
                "ReadCapacityUnits": gsi_read or gsi_write,
                "WriteCapacityUnits": gsi_write,
            }
        indexes.append(index)
    if indexes:
        table["GlobalSecondaryIndexes"] = indexes
    return table


def providers() -> list[ResourceType]:
    return [GlobalTableType()]
