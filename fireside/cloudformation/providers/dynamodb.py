"""AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable, built by DynamoDB's served operations.

A table is created with CreateTable and waited on until it and its indexes are ACTIVE; the
settings CreateTable does not take (time to live, point-in-time recovery) follow with their
own operations. A table with an ImportSourceSpecification is made by ImportTable instead
(`dynamodb_import`). Updates go the way CloudFormation's handler goes: one UpdateTable per kind
of change, and global secondary indexes added or removed one per UpdateTable, waiting for
the table to be ACTIVE between them (DynamoDB allows one online index change at a time).
(AWS::DynamoDB::GlobalTable, a table in the stack's region: `dynamodb_global`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.dynamodb_import import import_table, left_for_after
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


def _throughput(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ResourceFailed(f"Value of property {where} must be an object")
    return {
        member: as_int(value.get(member), f"{where}/{member}")
        for member in ("ReadCapacityUnits", "WriteCapacityUnits")
    }


def _on_demand(value: Any, where: str) -> dict[str, int] | None:
    if value is None:
        return None
    return {k: as_int(v, f"{where}/{k}") for k, v in dict(value).items()}


def _gsi(spec: dict[str, Any]) -> dict[str, Any]:
    """A template GSI as CreateTable / UpdateTable take it (ContributorInsights dropped)."""
    where = f"GlobalSecondaryIndexes/{spec.get('IndexName')}"
    # Missing required members stay missing: the operation's model check names them.
    out: dict[str, Any] = {
        k: spec[k] for k in ("IndexName", "KeySchema", "Projection") if spec.get(k) is not None
    }
    throughput = _throughput(spec.get("ProvisionedThroughput"), f"{where}/ProvisionedThroughput")
    if throughput is not None:
        out["ProvisionedThroughput"] = throughput
    on_demand = _on_demand(spec.get("OnDemandThroughput"), f"{where}/OnDemandThroughput")
    if on_demand is not None:
        out["OnDemandThroughput"] = on_demand
    if spec.get("WarmThroughput") is not None:
        out["WarmThroughput"] = _on_demand(spec["WarmThroughput"], f"{where}/WarmThroughput")
    return out


def _sse(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {"Enabled": as_bool(value.get("SSEEnabled"), "SSESpecification")}
    for member in ("SSEType", "KMSMasterKeyId"):
        if value.get(member):
            out[member] = value[member]
    return out


def _stream_view(properties: dict[str, Any]) -> str | None:
    spec = properties.get("StreamSpecification")
    return None if not spec else spec.get("StreamViewType")


def _policy(value: Any) -> str | None:
    """A ResourcePolicy's PolicyDocument (an object or a string) as the JSON DynamoDB takes."""
    if not value:
        return None
    document = value.get("PolicyDocument") if isinstance(value, dict) else None
    if document is None:
        raise ResourceFailed("ResourcePolicy requires a PolicyDocument")
    return document if isinstance(document, str) else json.dumps(document)


def _unsupported(properties: dict[str, Any]) -> None:
    if properties.get("KinesisStreamSpecification"):
        raise ResourceFailed(
            "Fireside does not serve Kinesis Data Streams: KinesisStreamSpecification is not "
            "supported"
        )


def _create_params(ctx: ResourceContext, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties.get("AttributeDefinitions") or [],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode") or "PROVISIONED",
    }
    throughput = _throughput(properties.get("ProvisionedThroughput"), "ProvisionedThroughput")
    if throughput is not None:
        params["ProvisionedThroughput"] = throughput
    for member in ("OnDemandThroughput", "WarmThroughput"):
        if properties.get(member) is not None:
            params[member] = _on_demand(properties[member], member)
    if properties.get("GlobalSecondaryIndexes"):
        params["GlobalSecondaryIndexes"] = [_gsi(g) for g in properties["GlobalSecondaryIndexes"]]
    if properties.get("LocalSecondaryIndexes"):
        params["LocalSecondaryIndexes"] = [
            {k: v for k, v in lsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for lsi in properties["LocalSecondaryIndexes"]
        ]
    view = _stream_view(properties)
    if view:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    sse = _sse(properties.get("SSESpecification"))
    if sse is not None:
        params["SSESpecification"] = sse
    if properties.get("DeletionProtectionEnabled") is not None:
        params["DeletionProtectionEnabled"] = as_bool(
            properties["DeletionProtectionEnabled"], "DeletionProtectionEnabled"
        )
    if properties.get("TableClass"):
        params["TableClass"] = properties["TableClass"]
    policy = _policy(properties.get("ResourcePolicy"))
    if policy is not None:
        params["ResourcePolicy"] = policy
    tags = tag_list(ctx, properties.get("Tags"))
    if tags:
        params["Tags"] = tags
    return params


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
        policy = _policy((new.get("StreamSpecification") or {}).get("ResourcePolicy"))
        before = _policy((old.get("StreamSpecification") or {}).get("ResourcePolicy"))
        same_stream = _stream_view(old) == _stream_view(new)
        if (policy == before and same_stream) or not _stream_view(new):
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
        _unsupported(properties)
        table = _Table(ctx, name_for(ctx, properties.get("TableName"), _NAME_LIMIT))
        params = _create_params(ctx, table.name, properties)
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
        _unsupported(new)
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
        await self._policy(table, old, new)
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
            await table.update(SSESpecification=_sse(new["SSESpecification"]))
        if old.get("TableClass") != new.get("TableClass"):
            await table.update(TableClass=new.get("TableClass") or "STANDARD")
        protection = new.get("DeletionProtectionEnabled")
        if old.get("DeletionProtectionEnabled") != protection:
            enabled = protection is not None and as_bool(protection, "DeletionProtectionEnabled")
            await table.update(DeletionProtectionEnabled=enabled)
        for member in ("OnDemandThroughput", "WarmThroughput"):
            if new.get(member) is not None and old.get(member) != new.get(member):
                await table.update(**{member: _on_demand(new[member], member)})

    @staticmethod
    async def _capacity(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        billing = new.get("BillingMode") or "PROVISIONED"
        throughput = _throughput(new.get("ProvisionedThroughput"), "ProvisionedThroughput")
        changed_billing = billing != (old.get("BillingMode") or "PROVISIONED")
        if not changed_billing and (
            billing == "PAY_PER_REQUEST"  # on demand, throughput in a template means nothing
            or throughput == _throughput(old.get("ProvisionedThroughput"), "ProvisionedThroughput")
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
                and (spec := _gsi(g).get("ProvisionedThroughput")) is not None
            ] or None
            if params["GlobalSecondaryIndexUpdates"] is None:
                del params["GlobalSecondaryIndexUpdates"]
        await table.update(**params)

    @staticmethod
    async def _indexes(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {g.get("IndexName"): _gsi(g) for g in old.get("GlobalSecondaryIndexes") or []}
        after = {g.get("IndexName"): _gsi(g) for g in new.get("GlobalSecondaryIndexes") or []}
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
        was, now = _stream_view(old), _stream_view(new)
        if was == now:
            return
        if was:  # a stream's view type changes by turning it off and on again
            await table.update(StreamSpecification={"StreamEnabled": False})
        if now:
            await table.update(StreamSpecification={"StreamEnabled": True, "StreamViewType": now})

    @staticmethod
    async def _policy(table: _Table, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, after = _policy(old.get("ResourcePolicy")), _policy(new.get("ResourcePolicy"))
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
