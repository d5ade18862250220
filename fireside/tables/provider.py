"""The DynamoDB provider: one async method per operation, mapped by operation name.

Providers never see HTTP: the json wire protocol hands each method the request's params (as
boto3 names them) and serializes the dict it returns. Operations Fireside does not implement
are absent from `operations()`, so the edge answers them with a NotImplementedException that
names them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables import control, itemops, reads
from fireside.tables.service import Tables

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
    "GetItem": itemops.get_item,
    "UpdateItem": itemops.update_item,
    "DeleteItem": itemops.delete_item,
    "Query": reads.query,
    "Scan": reads.scan,
}


class TablesProvider:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._tasks: list[asyncio.Task[None]] = []

    def operations(self) -> dict[str, Operation]:
        tables = self.tables

        def bind(handler: Handler) -> Operation:
            async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
                return await handler(tables, ctx, params)

            return call

        return {name: bind(handler) for name, handler in _OPERATIONS.items()}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.to_thread(self.tables.close)
