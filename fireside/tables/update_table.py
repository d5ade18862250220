"""UpdateTable: billing and throughput, streams, deletion protection, and online GSI changes.

A new global secondary index is created `CREATING` and backfilled in the background, in
chunks, while the table stays writable: writes maintain every index that is not being
deleted, and the backfill re-derives each entry from the item as it is when its chunk runs,
so the two never disagree. When the last chunk is done the index turns `ACTIVE`. A backfill
interrupted by a restart starts again from the beginning (entries are idempotent).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables.catalog import locked_table
from fireside.tables.control import (
    beyond_capacity_bounds,
    check_capacity_bounds,
    control_table,
    describe_with_stats,
    index_from_request,
    sse_description,
    stream_label,
)
from fireside.tables.engine import WriteTxn
from fireside.tables.errors import INVALID, limit_exceeded, not_found, validation
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables
from fireside.tables.storage import load, write_index_entry
from fireside.tables.streamshards import close_stream, open_stream
from fireside.tables.warm import check_increase, check_initial

__all__ = ["backfill", "update_table"]

log = logging.getLogger(__name__)

_BACKFILL_CHUNK = 500
_MAX_GSI = 20


def _copy(table: TableInfo) -> TableInfo:
    return TableInfo.from_json(table.to_json())


def _apply_gsi_updates(
    txn: WriteTxn, table: TableInfo, updates: list[Mapping[str, Any]], definitions: Any
) -> list[str]:
    """Apply GlobalSecondaryIndexUpdates to `table` (a copy); returns indexes to backfill."""
    creates = [u["Create"] for u in updates if u.get("Create")]
    deletes = [u["Delete"] for u in updates if u.get("Delete")]
    if len(creates) + len(deletes) > 1:
        raise limit_exceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted "
            "simultaneously per table"
        )
    for update in updates:
        # Judged before the index is looked for (dynalite's AWS-checked suite).
        if beyond_capacity_bounds((update.get("Update") or {}).get("ProvisionedThroughput")):
            raise validation(
                "This operation cannot be performed with given input values. Please contact "
                "DynamoDB service team for more info: Action Blocked: IndexUpdate"
            )
    backfill: list[str] = []
    for spec in creates:
        name = spec["IndexName"]
        if name in table.indexes:
            raise validation(f"{INVALID}Attempting to create an index which already exists")
        if sum(1 for i in table.indexes.values() if i.kind == "GSI") >= _MAX_GSI:
            raise limit_exceeded(f"Subscriber limit exceeded: Maximum GSIs per table: {_MAX_GSI}")
        types = table.types
        for definition in definitions or ():
            types[definition["AttributeName"]] = definition["AttributeType"]
        missing = [e["AttributeName"] for e in spec["KeySchema"] if e["AttributeName"] not in types]
        if missing:
            raise validation(
                f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(sorted(types))}]"
            )
        if table.billing_mode == "PROVISIONED" and not spec.get("ProvisionedThroughput"):
            raise validation(f"{INVALID}ProvisionedThroughput must be specified for index: {name}")
        check_initial(
            spec.get("WarmThroughput"),
            table.billing_mode,
            spec.get("ProvisionedThroughput"),
            name,
        )
        index = index_from_request(spec, "GSI", types, txn.new_index_id(table.table_id))
        index.status = "CREATING"
        table.indexes[name] = index
        known = {d["AttributeName"] for d in table.attribute_definitions}
        for definition in definitions or ():
            if definition["AttributeName"] not in known:
                table.attribute_definitions.append(dict(definition))
        backfill.append(name)
    for spec in deletes:
        name = spec["IndexName"]
        doomed = table.indexes.get(name)
        if doomed is None or doomed.kind != "GSI":
            raise not_found(f"Requested resource not found: Index: {name} not found")
        txn.drop_index(doomed.index_id)
        del table.indexes[name]
    for update in updates:
        spec = update.get("Update")
        if not spec:
            continue
        changed = table.indexes.get(spec["IndexName"])
        if changed is None:
            raise not_found(f"Requested resource not found: Index: {spec['IndexName']} not found")
        if spec.get("ProvisionedThroughput"):
            changed.throughput = dict(spec["ProvisionedThroughput"])
        warm = check_increase(
            spec.get("WarmThroughput"),
            changed.warm,
            table.billing_mode,
            changed.throughput,
            changed.name,
        )
        if warm is not None:
            changed.warm = warm
    return backfill


def _apply_stream(
    txn: WriteTxn, table: TableInfo, spec: Mapping[str, Any] | None, now: float
) -> None:
    if spec is None:
        return
    enabled = bool(spec.get("StreamEnabled"))
    if enabled:
        if table.stream_view is not None:
            raise validation(f"Table already has an enabled stream: {table.stream_arn}")
        if spec.get("StreamViewType") is None:
            raise validation(
                f"{INVALID}You must specify a StreamViewType when enabling a DynamoDB Stream"
            )
        table.stream = {"StreamEnabled": True, "StreamViewType": spec["StreamViewType"]}
        earlier = table.stream_label
        table.stream_label = stream_label(now)
        if table.stream_label == earlier:  # re-enabled within the millisecond it was disabled
            table.stream_label = stream_label(now + 0.001)
        open_stream(txn, table, table.stream_label, now)
    else:
        if table.stream_view is None or table.stream_label is None:
            raise validation("Table already has no stream enabled")
        table.stream = {"StreamEnabled": False}
        close_stream(txn, table, table.stream_label, now)


def _check_request(params: Mapping[str, Any]) -> None:
    """What DynamoDB checks of an UpdateTable request before it looks up the table."""
    if params.get("BillingMode") == "PROVISIONED" and not params.get("ProvisionedThroughput"):
        raise validation(
            f"{INVALID}ProvisionedThroughput must be specified when BillingMode is PROVISIONED"
        )
    check_capacity_bounds(params.get("ProvisionedThroughput"))
    seen: set[str] = set()
    for update in params.get("GlobalSecondaryIndexUpdates") or ():
        action = update.get("Update") or update.get("Create") or update.get("Delete")
        if not action:
            raise validation(
                f"{INVALID}One of GlobalSecondaryIndexUpdate.Update, "
                "GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not "
                "be null"
            )
        name = action["IndexName"]
        if name in seen:
            raise validation(
                f"{INVALID}Only one global secondary index update per index is allowed "
                f"simultaneously. Index: {name}"
            )
        seen.add(name)
        # An Update's capacity past the bound is judged once the table is found (below).
        if not update.get("Update"):
            check_capacity_bounds(action.get("ProvisionedThroughput"))


async def update_table(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    _check_request(params)
    current = control_table(tables, ctx, params["TableName"])
    tid = current.table_id
    now = tables.clock()

    def job(txn: WriteTxn) -> tuple[TableInfo, list[str], dict[str, Any]]:
        live = locked_table(txn, tid)
        if live is None:
            raise not_found()
        table = _copy(live)
        billing = params.get("BillingMode")
        if billing is not None:
            table.billing_mode = billing
            if billing == "PAY_PER_REQUEST":
                table.throughput = None
        if params.get("ProvisionedThroughput"):
            if table.billing_mode == "PAY_PER_REQUEST":
                raise validation(
                    f"{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                    "when BillingMode is PAY_PER_REQUEST"
                )
            table.throughput = dict(params["ProvisionedThroughput"])
        if table.billing_mode == "PROVISIONED" and table.throughput is None:
            raise validation(
                f"{INVALID}ProvisionedThroughput must be specified when BillingMode is PROVISIONED"
            )
        warm = check_increase(
            params.get("WarmThroughput"), table.warm, table.billing_mode, table.throughput
        )
        if warm is not None:
            table.warm = warm
        backfill = _apply_gsi_updates(
            txn,
            table,
            list(params.get("GlobalSecondaryIndexUpdates") or ()),
            params.get("AttributeDefinitions"),
        )
        _apply_stream(txn, table, params.get("StreamSpecification"), now)
        if params.get("DeletionProtectionEnabled") is not None:
            table.deletion_protection = bool(params["DeletionProtectionEnabled"])
        if params.get("TableClass") is not None:
            table.table_class = params["TableClass"]
        if params.get("SSESpecification") is not None:
            table.sse = sse_description(params["SSESpecification"], ctx)
        table.version += 1
        txn.save_table(tid, table.to_json())
        tables.catalog.put(table, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))
        return table, backfill, describe_with_stats(txn, table)

    table, names, description = await tables.engine.write(job)
    for name in names:
        tables.spawn(backfill(tables, table.table_id, name), f"backfill {table.name}/{name}")
    return {"TableDescription": description}


async def backfill(tables: Tables, tid: int, name: str) -> None:
    """Index every existing item of a table in a new GSI, then mark the GSI ACTIVE."""
    after: tuple[bytes, bytes] | None = None
    while True:

        def chunk(
            txn: WriteTxn, start: tuple[bytes, bytes] | None = after
        ) -> tuple[bytes, bytes] | None:
            table = tables.catalog.by_id(tid)
            if table is None or name not in table.indexes:
                return None
            index = table.indexes[name]
            keys = [(bytes(pk), bytes(sk)) for pk, sk, _, _ in itertools.islice(
                txn.scan(tid, start, None, None), _BACKFILL_CHUNK
            )]  # fmt: skip
            # Locked, then read again: a concurrent write cannot slip in between.
            txn.lock_items([(tid, pk, sk) for pk, sk in keys])
            for pk, sk in keys:
                item = load(txn, table, pk, sk)
                if item is not None:
                    write_index_entry(txn, table, index, pk, sk, item)
            return keys[-1] if len(keys) == _BACKFILL_CHUNK else None

        after = await tables.engine.write(chunk)
        if after is None:
            break
        await asyncio.sleep(0)

    def activate(txn: WriteTxn) -> None:
        live = locked_table(txn, tid)
        if live is None or name not in live.indexes:
            return
        table = _copy(live)
        table.indexes[name].status = "ACTIVE"
        table.version += 1
        txn.save_table(tid, table.to_json())
        tables.catalog.put(table, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))

    await tables.engine.write(activate)
    log.info("tables: index %s of table %d is ACTIVE", name, tid)
