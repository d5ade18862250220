"""AWS::DynamoDB::Table, built and changed by DynamoDB's served operations.

A table is created with CreateTable and waited on until it and its indexes are ACTIVE; the
settings CreateTable does not take (time to live, point-in-time recovery) follow with their
own operations. A table with an ImportSourceSpecification is made by ImportTable instead
(`dynamodb_import`). Updates go the way CloudFormation's handler goes: one UpdateTable per kind
of change, and global secondary indexes added or removed one per UpdateTable, waiting for
the table to be ACTIVE between them (DynamoDB allows one online index change at a time).
(AWS::DynamoDB::GlobalTable, a table in the stack's region: `dynamodb_global`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.dynamodb_import import import_table, left_for_after
from fireside.cloudformation.providers.dynamodb_props import (
    capacity_map,
    create_params,
    gsi_params,
    policy_json,
    refuse_unsupported,
    sse_params,
    stream_view,
    throughput_of,
)
from fireside.cloudformation.providers.support import (
    as_bool,
    as_int,
    call,
    failed,
    name_for,
    require,
    tag_list,
    wait_for,
)
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["TableType", "providers"]

_NAME_LIMIT = 255
_GSI_FIXED = ("KeySchema", "Projection")


@dataclass(slots=True)
class _Table:
    """The served calls on one table."""

    ctx: ResourceContext
    name: str

    async def describe(self) -> dict[str, Any]:
        found = await call(self.ctx, "dynamodb", "DescribeTable", {"TableName": self.name})
        table: dict[str, Any] = found["Table"]
        return table

    async def update(self, **params: Any) -> None:
        await call(self.ctx, "dynamodb", "UpdateTable", {"TableName": self.name, **params})
        await self.wait_active()

    async def wait_active(self) -> None:
        async def active() -> bool:
            table = await self.describe()
            indexes = table.get("GlobalSecondaryIndexes") or []
            return table.get("TableStatus") == "ACTIVE" and all(
                i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
            )

        await wait_for(active, f"table {self.name} to be ACTIVE")

    async def created(self) -> Created:
        table = await self.describe()
        attributes = {"Arn": table["TableArn"], "TableId": table.get("TableId")}
        if table.get("LatestStreamArn") and table.get("StreamSpecification", {}).get(
            "StreamEnabled"
        ):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Created(self.name, attributes)

    async def set_ttl(self, old: Any, new: Any) -> None:
        enabled = bool(new) and as_bool(new.get("Enabled"), "TimeToLiveSpecification/Enabled")
        was = bool(old) and as_bool(old.get("Enabled"), "TimeToLiveSpecification/Enabled")
        if enabled == was and (not enabled or old.get("AttributeName") == new.get("AttributeName")):
            return
        if enabled and not new.get("AttributeName"):
            raise ResourceFailed(
                "TimeToLiveSpecification: AttributeName is required when Enabled is true"
            )
        if was:  # DynamoDB turns TTL off naming the attribute it is on
            spec = {"Enabled": False, "AttributeName": old.get("AttributeName")}
            await call(self.ctx, "dynamodb", "UpdateTimeToLive", self._ttl(spec))
        if enabled:
            spec = {"Enabled": True, "AttributeName": new.get("AttributeName")}
            await call(self.ctx, "dynamodb", "UpdateTimeToLive", self._ttl(spec))

    async def finish_import(self, rest: dict[str, Any]) -> None:
        """What CreateTable would have set and ImportTable does not, once the import is done."""
        for member in ("StreamSpecification", "TableClass", "DeletionProtectionEnabled"):
            if rest.get(member) is not None:
                await self.update(**{member: rest[member]})
        if rest.get("WarmThroughput"):
            await self.update(WarmThroughput=rest["WarmThroughput"])
        arn = (await self.describe())["TableArn"]
        if rest.get("ResourcePolicy"):
            params = {"ResourceArn": arn, "Policy": rest["ResourcePolicy"]}
            await call(self.ctx, "dynamodb", "PutResourcePolicy", params)
        if rest.get("Tags"):
            await call(
                self.ctx, "dynamodb", "TagResource", {"ResourceArn": arn, "Tags": rest["Tags"]}
            )

    async def set_stream_policy(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """The stream's ResourcePolicy, put again when it changed or its stream is new."""
        policy = policy_json((new.get("StreamSpecification") or {}).get("ResourcePolicy"))
        before = policy_json((old.get("StreamSpecification") or {}).get("ResourcePolicy"))
        same_stream = stream_view(old) == stream_view(new)
        if (policy == before and same_stream) or not stream_view(new):
            return  # a stream turned off takes its policy with it
        arn = (await self.describe()).get("LatestStreamArn")
        if policy is not None:
            params = {"ResourceArn": arn, "Policy": policy}
            await call(self.ctx, "dynamodb", "PutResourcePolicy", params)
        elif same_stream:  # removed from the template, from the stream it was put on
            await call(self.ctx, "dynamodb", "DeleteResourcePolicy", {"ResourceArn": arn})

    def _ttl(self, spec: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self.name, "TimeToLiveSpecification": spec}

    async def set_recovery(self, old: Any, new: Any) -> None:
        if (old or {}) == (new or {}):
            return
        spec: dict[str, Any] = {
            "PointInTimeRecoveryEnabled": bool(new)
            and as_bool(new.get("PointInTimeRecoveryEnabled", False), "PointInTimeRecoveryEnabled")
        }
        if new and new.get("RecoveryPeriodInDays") is not None:
            spec["RecoveryPeriodInDays"] = as_int(
                new["RecoveryPeriodInDays"], "RecoveryPeriodInDays"
            )
        await call(
            self.ctx,
            "dynamodb",
            "UpdateContinuousBackups",
            {"TableName": self.name, "PointInTimeRecoverySpecification": spec},
        )


class TableType:
    type_name = "AWS::DynamoDB::Table"
    #: AWS's "Update requires: Replacement".
    replace_on = frozenset(
        {"TableName", "KeySchema", "LocalSecondaryIndexes", "ImportSourceSpecification"}
    )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(properties, "KeySchema", resource=ctx.logical_id)
        refuse_unsupported(properties)
        table = _Table(ctx, name_for(ctx, properties.get("TableName"), _NAME_LIMIT))
        params = create_params(ctx, table.name, properties)
        source = properties.get("ImportSourceSpecification")
        if source:
            await import_table(ctx, params, source)
        else:
            await call(ctx, "dynamodb", "CreateTable", params)
        try:
            await table.wait_active()
            if source:
                await table.finish_import(left_for_after(params))
            await table.set_ttl(None, properties.get("TimeToLiveSpecification"))
            await table.set_recovery(None, properties.get("PointInTimeRecoverySpecification"))
            await table.set_stream_policy({}, properties)
        except ResourceFailed:
            # CloudFormation rolls back what a failed create made; leave nothing behind.
            await self._drop(ctx, table.name)
            raise
        return await table.created()

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        refuse_unsupported(new)
        table = _Table(ctx, physical_id)
        await table.wait_active()
        await self._capacity(table, old, new)
        await self._indexes(table, old, new)
        await self._stream(table, old, new)
        await self._settings(table, old, new)
        await table.set_ttl(old.get("TimeToLiveSpecification"), new.get("TimeToLiveSpecification"))
        await table.set_recovery(
            old.get("PointInTimeRecoverySpecification"), new.get("PointInTimeRecoverySpecification")
        )
        await self.policy_json(table, old, new)
        await table.set_stream_policy(old, new)
        await self._tags(ctx, table, old, new)
        return await table.created()

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await self._drop(ctx, physical_id)

    @staticmethod
    async def _drop(ctx: ResourceContext, name: str) -> None:
        try:
            await ctx.call("dynamodb", "DeleteTable", {"TableName": name})
        except ServiceError as error:
            if error.code != "ResourceNotFoundException":  # gone already is deleted
                raise failed(error) from None

    @staticmethod
    async def _settings(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        """The table-wide settings UpdateTable changes in place, one call each."""
        if new.get("SSESpecification") is not None and old.get("SSESpecification") != new.get(
            "SSESpecification"
        ):
            await table.update(SSESpecification=sse_params(new["SSESpecification"]))
        if old.get("TableClass") != new.get("TableClass"):
            await table.update(TableClass=new.get("TableClass") or "STANDARD")
        protection = new.get("DeletionProtectionEnabled")
        if old.get("DeletionProtectionEnabled") != protection:
            enabled = protection is not None and as_bool(protection, "DeletionProtectionEnabled")
            await table.update(DeletionProtectionEnabled=enabled)
        for member in ("OnDemandThroughput", "WarmThroughput"):
            if new.get(member) is not None and old.get(member) != new.get(member):
                await table.update(**{member: capacity_map(new[member], member)})

    @staticmethod
    async def _capacity(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        billing = new.get("BillingMode") or "PROVISIONED"
        throughput = throughput_of(new.get("ProvisionedThroughput"), "ProvisionedThroughput")
        changed_billing = billing != (old.get("BillingMode") or "PROVISIONED")
        if not changed_billing and (
            billing == "PAY_PER_REQUEST"  # on demand, throughput in a template means nothing
            or throughput
            == throughput_of(old.get("ProvisionedThroughput"), "ProvisionedThroughput")
        ):
            return
        params: dict[str, Any] = {"BillingMode": billing}
        if billing == "PROVISIONED" and throughput is not None:
            params["ProvisionedThroughput"] = throughput
        if changed_billing and billing == "PROVISIONED":
            # Indexes that stay need their own capacity in provisioned mode.
            kept = {g.get("IndexName") for g in old.get("GlobalSecondaryIndexes") or []}
            params["GlobalSecondaryIndexUpdates"] = [
                {"Update": {"IndexName": g.get("IndexName"), "ProvisionedThroughput": spec}}
                for g in new.get("GlobalSecondaryIndexes") or []
                if g.get("IndexName") in kept
                and (spec := gsi_params(g).get("ProvisionedThroughput")) is not None
            ] or None
            if params["GlobalSecondaryIndexUpdates"] is None:
                del params["GlobalSecondaryIndexUpdates"]
        await table.update(**params)

    @staticmethod
    async def _indexes(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {
            g.get("IndexName"): gsi_params(g) for g in old.get("GlobalSecondaryIndexes") or []
        }
        after = {g.get("IndexName"): gsi_params(g) for g in new.get("GlobalSecondaryIndexes") or []}
        for name in before.keys() & after.keys():
            if any(before[name].get(m) != after[name].get(m) for m in _GSI_FIXED):
                raise ResourceFailed(
                    "Cannot update GSI's properties other than Provisioned Throughput and "
                    "Contributor Insights Specification. You can create a new GSI with a "
                    "different name."
                )
        for name in before.keys() - after.keys():
            await table.update(GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}])
        definitions = new.get("AttributeDefinitions") or []
        for name in [n for n in after if n not in before]:  # template order
            await table.update(
                AttributeDefinitions=definitions,
                GlobalSecondaryIndexUpdates=[{"Create": after[name]}],
            )
        billing = new.get("BillingMode") or "PROVISIONED"
        for name in before.keys() & after.keys():
            spec = after[name].get("ProvisionedThroughput")
            if (
                billing == "PROVISIONED"
                and spec
                and spec != before[name].get("ProvisionedThroughput")
            ):
                update = {"IndexName": name, "ProvisionedThroughput": spec}
                await table.update(GlobalSecondaryIndexUpdates=[{"Update": update}])

    @staticmethod
    async def _stream(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        was, now = stream_view(old), stream_view(new)
        if was == now:
            return
        if was:  # a stream's view type changes by turning it off and on again
            await table.update(StreamSpecification={"StreamEnabled": False})
        if now:
            await table.update(StreamSpecification={"StreamEnabled": True, "StreamViewType": now})

    @staticmethod
    async def policy_json(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, after = (
            policy_json(old.get("ResourcePolicy")),
            policy_json(new.get("ResourcePolicy")),
        )
        if before == after:
            return
        arn = (await table.describe())["TableArn"]
        if after is None:
            await call(table.ctx, "dynamodb", "DeleteResourcePolicy", {"ResourceArn": arn})
        else:
            params = {"ResourceArn": arn, "Policy": after}
            await call(table.ctx, "dynamodb", "PutResourcePolicy", params)

    @staticmethod
    async def _tags(
        ctx: ResourceContext, table: _Table, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        before = {t["Key"]: t["Value"] for t in tag_list(ctx, old.get("Tags"))}
        after = {t["Key"]: t["Value"] for t in tag_list(ctx, new.get("Tags"))}
        if before == after:
            return
        arn = (await table.describe())["TableArn"]
        gone = [k for k in before if k not in after]
        if gone:
            await call(ctx, "dynamodb", "UntagResource", {"ResourceArn": arn, "TagKeys": gone})
        changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
        if changed:
            await call(ctx, "dynamodb", "TagResource", {"ResourceArn": arn, "Tags": changed})


def providers() -> list[ResourceType]:
    return [TableType()]
