"""On-demand backups: CreateBackup, DescribeBackup, ListBackups, DeleteBackup,
RestoreTableFromBackup (and RestoreTableToPointInTime's checks).

A backup is a copy the engine keeps of a table's items and of its ready indexes' entries,
taken by one write job under the table's lock: it is consistent (no write lands halfway
through it) and durable once CreateBackup answers, so it is `AVAILABLE` at once. Its metadata
(the source table's definition and statistics at that moment) lives with it, so a backup
outlives its table.

A restore is one write job too: the new table's definition, its items and the entries of every
index whose definition the restore keeps are copied row for row inside the engine (no item is
decoded), so the restored table is `ACTIVE` as soon as RestoreTableFromBackup answers, as a
new table is. Indexes the overrides add or change are created `CREATING` and backfilled in the
background, as UpdateTable's new GSIs are. As on DynamoDB, a restored table keeps the key
schema, indexes, billing, table class and encryption; not its tags, stream, TTL, point-in-time
recovery, deletion protection or resource policy.

Backups are never `CREATING` or `DELETING` here, so BackupInUseException and
TableInUseException cannot arise: concurrent backup operations are serialized as write jobs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.protocol import not_implemented
from fireside.tables.backups import table_not_found_by_name
from fireside.tables.catalog import check_table_name, locked_table, table_name_of
from fireside.tables.control import (
    check_table_definition,
    describe_with_stats,
    index_from_request,
    sse_description,
)
from fireside.tables.engine import BackupRow, WriteTxn
from fireside.tables.errors import dynamodb_error
from fireside.tables.schema import IndexInfo, TableInfo
from fireside.tables.service import Tables
from fireside.tables.update_table import backfill

__all__ = [
    "create_backup",
    "delete_backup",
    "describe_backup",
    "list_backups",
    "restore_table_from_backup",
    "restore_table_to_point_in_time",
]

_LIST_LIMIT = 100


def backup_not_found(arn: str) -> ServiceError:
    return dynamodb_error("BackupNotFoundException", f"Backup not found: {arn}")


def table_exists(name: str) -> ServiceError:
    return dynamodb_error("TableAlreadyExistsException", f"Table already exists: {name}")


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class _Backup:
    """A stored backup: its row, with the metadata parsed."""

    def __init__(self, row: BackupRow) -> None:
        self.bid, self.arn, meta = row
        self.meta: dict[str, Any] = json.loads(meta)
        self.table = TableInfo.from_json(json.dumps(self.meta["table"]))

    @property
    def created(self) -> float:
        return float(self.meta["created"])

    def details(self, status: str | None = None) -> dict[str, Any]:
        meta = self.meta
        return {
            "BackupArn": self.arn,
            "BackupName": meta["name"],
            "BackupSizeBytes": meta["size"],
            "BackupStatus": status or meta["status"],
            "BackupType": meta["type"],
            "BackupCreationDateTime": _when(self.created),
        }

    def summary(self) -> dict[str, Any]:
        table = self.table
        return {
            "TableName": table.name,
            "TableId": table.uid,
            "TableArn": table.arn,
            **self.details(),
        }

    def description(self, status: str | None = None) -> dict[str, Any]:
        table = self.table
        on_demand = table.billing_mode == "PAY_PER_REQUEST"
        source: dict[str, Any] = {
            "TableName": table.name,
            "TableId": table.uid,
            "TableArn": table.arn,
            "TableSizeBytes": self.meta["size"],
            "KeySchema": table.key_schema,
            "TableCreationDateTime": _when(table.created),
            "ProvisionedThroughput": _capacity(table.throughput, on_demand),
            "ItemCount": self.meta["count"],
            "BillingMode": table.billing_mode,
        }
        if on_demand:
            source["OnDemandThroughput"] = {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}
        features: dict[str, Any] = {}
        lsis = [i for i in table.indexes.values() if i.kind == "LSI"]
        gsis = [i for i in table.indexes.values() if i.kind == "GSI"]
        if lsis:
            features["LocalSecondaryIndexes"] = [
                {"IndexName": i.name, "KeySchema": i.key_schema, "Projection": i.projection}
                for i in lsis
            ]
        if gsis:
            features["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": i.key_schema,
                    "Projection": i.projection,
                    "ProvisionedThroughput": _capacity(i.throughput, on_demand),
                }
                for i in gsis
            ]
        if table.stream_view is not None:
            features["StreamDescription"] = {
                "StreamEnabled": True,
                "StreamViewType": table.stream_view,
            }
        ttl: dict[str, Any] = {"TimeToLiveStatus": "ENABLED" if table.ttl_enabled else "DISABLED"}
        if table.ttl_enabled and table.ttl_attribute:
            ttl["AttributeName"] = table.ttl_attribute
        features["TimeToLiveDescription"] = ttl
        if table.sse is not None:
            features["SSEDescription"] = table.sse
        return {
            "BackupDetails": self.details(status),
            "SourceTableDetails": source,
            "SourceTableFeatureDetails": features,
        }


def _capacity(throughput: Mapping[str, int] | None, on_demand: bool) -> dict[str, int]:
    if on_demand or not throughput:
        return {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    return {
        "ReadCapacityUnits": throughput["ReadCapacityUnits"],
        "WriteCapacityUnits": throughput["WriteCapacityUnits"],
    }


async def _find(tables: Tables, ctx: RequestContext, arn: str) -> _Backup:
    row = await tables.engine.read(lambda txn: txn.backup(ctx.account_id, ctx.region, arn))
    if row is None:
        raise backup_not_found(arn)
    return _Backup(row)


# -- CreateBackup, DescribeBackup, ListBackups, DeleteBackup ----------------------------------


async def create_backup(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    name = params["TableName"]
    table = tables.catalog.get(ctx.account_id, ctx.region, name)
    if table is None:
        raise table_not_found_by_name(table_name_of(name))
    backup_name = params["BackupName"]
    check_table_name(backup_name, "backupName")
    tid = table.table_id
    millis = int(tables.clock() * 1000)
    now = millis / 1000  # the wire carries milliseconds: time-range filters compare those
    arn = f"{table.arn}/backup/{millis:013d}-{uuid.uuid4().hex[:8]}"

    def job(txn: WriteTxn) -> _Backup:
        live = locked_table(txn, tid)  # item writes wait (or are done): the copy is consistent
        if live is None:
            raise table_not_found_by_name(table.name)
        count, size = txn.stats(tid)
        # Indexes still backfilling are not copied: a restore backfills them from the items.
        ready = [i for i in live.indexes.values() if i.status == "ACTIVE"]
        meta = {
            "name": backup_name,
            "created": now,
            "status": "AVAILABLE",
            "type": "USER",
            "size": size,
            "count": count,
            "table": json.loads(live.to_json()),
            "copied_indexes": {i.name: i.index_id for i in ready},
        }
        bid = txn.new_backup(ctx.account_id, ctx.region, arn, json.dumps(meta))
        txn.copy_to_backup(bid, tid, [i.index_id for i in ready])
        return _Backup((bid, arn, json.dumps(meta)))

    backup = await tables.engine.write(job)
    return {"BackupDetails": backup.details()}


async def describe_backup(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    backup = await _find(tables, ctx, params["BackupArn"])
    return {"BackupDescription": backup.description()}


async def delete_backup(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    arn = params["BackupArn"]

    def job(txn: WriteTxn) -> _Backup:
        row = txn.backup(ctx.account_id, ctx.region, arn)
        if row is None:
            raise backup_not_found(arn)
        txn.drop_backup(row[0])
        return _Backup(row)

    backup = await tables.engine.write(job)
    return {"BackupDescription": backup.description("DELETED")}


async def list_backups(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    kind = params.get("BackupType") or "USER"
    rows = await tables.engine.read(lambda txn: txn.backups(ctx.account_id, ctx.region))
    backups = [_Backup(row) for row in rows] if kind in ("USER", "ALL") else []
    wanted = params.get("TableName")
    if wanted is not None:
        # A name, or an ARN, which must be this account's and region's (as for tables).
        table_arn = wanted if wanted.startswith("arn:") else None
        name = table_name_of(wanted)
        backups = [
            b
            for b in backups
            if b.table.name == name and (table_arn is None or b.table.arn == table_arn)
        ]
    low, high = params.get("TimeRangeLowerBound"), params.get("TimeRangeUpperBound")
    if low is not None:
        backups = [b for b in backups if b.created >= _epoch(low)]
    if high is not None:
        backups = [b for b in backups if b.created < _epoch(high)]
    start = params.get("ExclusiveStartBackupArn")
    if start is not None:
        arns = [b.arn for b in backups]
        backups = backups[arns.index(start) + 1 :] if start in arns else []
    limit = params.get("Limit") or _LIST_LIMIT
    out: dict[str, Any] = {"BackupSummaries": [b.summary() for b in backups[:limit]]}
    if len(backups) > limit:
        out["LastEvaluatedBackupArn"] = backups[limit - 1].arn
    return out


# -- RestoreTableFromBackup -------------------------------------------------------------------


def _index_spec(index: IndexInfo, billing: str, fallback: Mapping[str, int] | None) -> Any:
    spec: dict[str, Any] = {
        "IndexName": index.name,
        "KeySchema": index.key_schema,
        "Projection": index.projection,
    }
    if index.kind == "GSI" and billing == "PROVISIONED":
        throughput = index.throughput or fallback
        if throughput:
            spec["ProvisionedThroughput"] = dict(throughput)
    return spec


def _restored_definition(
    source: TableInfo, target: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """CreateTable's parameters for the restored table: the source's, with the overrides."""
    billing = params.get("BillingModeOverride") or source.billing_mode
    throughput = params.get("ProvisionedThroughputOverride") or (
        source.throughput if billing == "PROVISIONED" else None
    )
    gsis = params.get("GlobalSecondaryIndexOverride")
    if gsis is None:
        gsis = [
            _index_spec(i, billing, throughput) for i in source.indexes.values() if i.kind == "GSI"
        ]
    lsis = params.get("LocalSecondaryIndexOverride")
    if lsis is None:
        lsis = [
            _index_spec(i, billing, throughput) for i in source.indexes.values() if i.kind == "LSI"
        ]
    used = {e["AttributeName"] for e in source.key_schema}
    used.update(e["AttributeName"] for index in (*gsis, *lsis) for e in index["KeySchema"])
    definition: dict[str, Any] = {
        "TableName": target,
        "KeySchema": source.key_schema,
        # Only the attributes the restored keys use: an index the overrides drop takes its
        # definitions with it (CreateTable refuses unused ones).
        "AttributeDefinitions": [
            d for d in source.attribute_definitions if d["AttributeName"] in used
        ],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED" and throughput:
        definition["ProvisionedThroughput"] = dict(throughput)
    if gsis:
        definition["GlobalSecondaryIndexes"] = gsis
    if lsis:
        definition["LocalSecondaryIndexes"] = lsis
    return definition


def _same_index(new: IndexInfo, old: IndexInfo | None) -> bool:
    return (
        old is not None
        and old.kind == new.kind
        and old.key_schema == new.key_schema
        and old.types == new.types
        and old.projection_type == new.projection_type
        and sorted(old.projection.get("NonKeyAttributes") or ())
        == sorted(new.projection.get("NonKeyAttributes") or ())
    )


async def restore_table_from_backup(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    target = params["TargetTableName"]
    check_table_name(target, "targetTableName")
    arn = params["BackupArn"]
    backup = await _find(tables, ctx, arn)
    if tables.catalog.get(ctx.account_id, ctx.region, target) is not None:
        raise table_exists(target)
    source = backup.table
    definition = _restored_definition(source, target, params)
    check_table_definition(definition)
    types = {d["AttributeName"]: d["AttributeType"] for d in definition["AttributeDefinitions"]}
    now = tables.clock()
    sse = params.get("SSESpecificationOverride")
    info = TableInfo(
        table_id=0,
        account=ctx.account_id,
        region=ctx.region,
        name=target,
        key_schema=list(source.key_schema),
        attribute_definitions=definition["AttributeDefinitions"],
        billing_mode=definition["BillingMode"],
        throughput=definition.get("ProvisionedThroughput"),
        created=now,
        table_class=source.table_class,
        sse=sse_description(sse, ctx) if sse is not None else source.sse,
        restore={
            "SourceBackupArn": arn,
            "SourceTableArn": source.arn,
            "RestoreDateTime": now,
            "RestoreInProgress": False,
        },
    )
    copied: dict[str, int] = backup.meta.get("copied_indexes", {})

    def job(txn: WriteTxn) -> tuple[TableInfo, list[str], dict[str, Any]]:
        if tables.catalog.get(ctx.account_id, ctx.region, target) is not None:
            raise table_exists(target)
        if txn.backup(ctx.account_id, ctx.region, arn) is None:
            raise backup_not_found(arn)  # deleted since it was read
        info.table_id = txn.new_table(ctx.account_id, ctx.region, target, "{}")
        mapping: dict[int, int] = {}
        pending: list[str] = []
        for kind, member in (("GSI", "GlobalSecondaryIndexes"), ("LSI", "LocalSecondaryIndexes")):
            for spec in definition.get(member) or ():
                index = index_from_request(spec, kind, types, txn.new_index_id(info.table_id))
                old = source.indexes.get(index.name)
                if _same_index(index, old) and index.name in copied:
                    mapping[copied[index.name]] = index.index_id
                else:
                    index.status = "CREATING"
                    pending.append(index.name)
                info.indexes[index.name] = index
        txn.save_table(info.table_id, info.to_json())
        txn.restore_backup(backup.bid, info.table_id, mapping)
        tables.catalog.put(info, txn)
        txn.on_rollback.append(lambda: tables.catalog.remove(info))
        return info, pending, describe_with_stats(txn, info)

    restored, pending, description = await tables.engine.write(job)
    for name in pending:
        tables.spawn(backfill(tables, restored.table_id, name), f"backfill {restored.name}/{name}")
    return {"TableDescription": description}


# -- RestoreTableToPointInTime ----------------------------------------------------------------


async def restore_table_to_point_in_time(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    """DynamoDB's checks, then NotImplemented: Fireside keeps no history to restore from."""
    source_name = params.get("SourceTableArn") or params.get("SourceTableName") or ""
    if tables.catalog.get(ctx.account_id, ctx.region, source_name) is None:
        raise ServiceError(
            "SourceTableNotFoundException",
            f"Source table not found: {table_name_of(source_name)}",
            400,
        )
    target = params["TargetTableName"]
    if tables.catalog.get(ctx.account_id, ctx.region, target) is not None:
        raise table_exists(target)
    raise not_implemented("RestoreTableToPointInTime", "DynamoDB")
