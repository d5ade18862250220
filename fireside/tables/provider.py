"""The DynamoDB provider: one async method per operation, mapped by operation name.

Providers never see HTTP: the json wire protocol hands each method the request's params (as
boto3 names them) and serializes the dict it returns. Operations Fireside does not implement
are absent from `operations()`, so the edge answers them with a NotImplementedException that
names them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables import (
    backups,
    batch,
    control,
    exports,
    imports,
    itemops,
    ondemand,
    partiql,
    policies,
    reads,
    streams,
    tags,
    transact,
    ttl,
    update_table,
)
from fireside.tables.service import Tables
from fireside.tables.transfers import Transfers

__all__ = ["TablesProvider"]

log = logging.getLogger(__name__)

Handler = Callable[[Tables, RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_OPERATIONS: dict[str, Handler] = {
    "CreateTable": control.create_table,
    "DescribeTable": control.describe_table,
    "ListTables": control.list_tables,
    "DeleteTable": control.delete_table,
    "DescribeLimits": control.describe_limits,
    "DescribeEndpoints": control.describe_endpoints,
    "PutItem": itemops.put_item,
    # Answered on the wire: whole items go as stored (see `values.StoredItem`).
    "GetItem": lambda tables, ctx, params: itemops.get_item(tables, ctx, params, stored=True),
    "UpdateItem": itemops.update_item,
    "DeleteItem": itemops.delete_item,
    "Query": lambda tables, ctx, params: reads.query(tables, ctx, params, stored=True),
    "Scan": lambda tables, ctx, params: reads.scan(tables, ctx, params, stored=True),
    "BatchGetItem": batch.batch_get_item,
    "BatchWriteItem": batch.batch_write_item,
    "TransactWriteItems": transact.transact_write_items,
    "TransactGetItems": transact.transact_get_items,
    "UpdateTable": update_table.update_table,
    "DescribeTimeToLive": ttl.describe_time_to_live,
    "UpdateTimeToLive": ttl.update_time_to_live,
    "PutResourcePolicy": policies.put_resource_policy,
    "GetResourcePolicy": policies.get_resource_policy,
    "DeleteResourcePolicy": policies.delete_resource_policy,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsOfResource": tags.list_tags_of_resource,
    "UpdateContinuousBackups": backups.update_continuous_backups,
    "DescribeContinuousBackups": backups.describe_continuous_backups,
    "CreateBackup": ondemand.create_backup,
    "DescribeBackup": ondemand.describe_backup,
    "ListBackups": ondemand.list_backups,
    "DeleteBackup": ondemand.delete_backup,
    "RestoreTableFromBackup": ondemand.restore_table_from_backup,
    "RestoreTableToPointInTime": ondemand.restore_table_to_point_in_time,
    **partiql.OPERATIONS,
}


TransferHandler = Callable[[Transfers, RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

#: Operations that read or write S3 (available once `attach_transfers` is called).
_TRANSFER_OPERATIONS: dict[str, TransferHandler] = {
    "ExportTableToPointInTime": exports.export_table_to_point_in_time,
    "DescribeExport": exports.describe_export,
    "ListExports": exports.list_exports,
    "ImportTable": imports.import_table,
    "DescribeImport": imports.describe_import,
    "ListImports": imports.list_imports,
}


class TablesProvider:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.transfers: Transfers | None = None

    def attach_transfers(self, transfers: Transfers) -> None:
        """Enable exports to and imports from S3 (through `transfers`)."""
        transfers.runners.update({"export": exports.run_export, "import": imports.run_import})
        self.transfers = transfers

    def operations(self) -> dict[str, Operation]:
        tables = self.tables

        def bind(handler: Handler) -> Operation:
            async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
                return await handler(tables, ctx, params)

            return call

        operations = {name: bind(handler) for name, handler in _OPERATIONS.items()}
        transfers = self.transfers
        if transfers is not None:

            def bind_transfer(handler: TransferHandler) -> Operation:
                async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
                    return await handler(transfers, ctx, params)

                return call

            for name, transfer in _TRANSFER_OPERATIONS.items():
                operations[name] = bind_transfer(transfer)
        return operations

    def stream_operations(self) -> dict[str, Operation]:
        """The DynamoDB Streams API (service `dynamodbstreams`)."""
        tables = self.tables

        def bind(handler: Handler) -> Operation:
            async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
                return await handler(tables, ctx, params)

            return call

        return {name: bind(handler) for name, handler in streams.OPERATIONS.items()}

    def start(self) -> None:
        """Resume what a restart interrupted (exports, imports, index backfills)."""
        tables = self.tables
        if self.transfers is not None:
            self.transfers.resume()
        for table in tables.catalog.all():
            for index in table.indexes.values():
                if index.status == "CREATING":
                    tables.spawn(
                        update_table.backfill(tables, table.table_id, index.name),
                        f"backfill {table.name}/{index.name}",
                    )

    @property
    def shared(self) -> bool:
        """Whether other nodes share the engine (their changes reach us by `refresh_forever`)."""
        return self.tables.engine.name != "sqlite"

    async def refresh_forever(self) -> None:
        """Keep the catalog in step with the other nodes' changes, until cancelled."""
        await self.tables.refresh_catalog_forever()

    async def sweep_forever(self) -> None:
        """Delete expired items every `ttl_interval` seconds, until cancelled."""
        await ttl.sweep_forever(self.tables, self.tables.ttl_interval)

    async def close(self) -> None:
        await self.tables.stop_tasks()
        await asyncio.to_thread(self.tables.close)
        if self.transfers is not None:
            self.transfers.close()
