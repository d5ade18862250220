"""PutItem, GetItem, UpdateItem and DeleteItem.

Each write validates everything it can on the event loop (key, values, expressions), then
submits one job to the engine: read the current item, check the condition, compute and store
the new item. The job runs inside the engine's serializable write transaction, so the check
and the write are atomic with respect to every other write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables.engine import WriteTxn
from fireside.tables.errors import INVALID, conditional_check_failed, validation
from fireside.tables.expressions import apply_update, matches, project, updated_paths
from fireside.tables.expressions.ast import Condition, Path, Update
from fireside.tables.legacy import (
    attribute_updates,
    attributes_to_get,
    expected_condition,
    reject_mixed,
)
from fireside.tables.requests import (
    CODED_PREFIX,
    RequestExpressions,
    capacity,
    check_return_values,
    check_scalar_keys,
    key_attributes_touched,
    read_units,
    write_units,
)
from fireside.tables.service import Tables
from fireside.tables.storage import MAX_ITEM_BYTES, check_index_keys, load, store
from fireside.tables.values import Item, StoredItem, item_size, load_item, normalize_item

__all__ = ["delete_item", "get_item", "put_item", "update_item"]

_WRITE_EXPRESSIONS = ("ConditionExpression",)


def _condition(params: Mapping[str, Any], exprs: RequestExpressions) -> Condition | None:
    reject_mixed(params, prefix=exprs.prefix)
    condition = exprs.condition(params.get("ConditionExpression"))
    if condition is None and params.get("Expected"):
        condition = expected_condition(params["Expected"], params.get("ConditionalOperator"))
    return condition


def _on_failure(params: Mapping[str, Any]) -> bool:
    return params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"


async def put_item(tables: Tables, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    returns = check_return_values(params.get("ReturnValues"), ("NONE", "ALL_OLD"))
    exprs = RequestExpressions(params, prefix=CODED_PREFIX, expressions=_WRITE_EXPRESSIONS)
    # DynamoDB's order: which parameters are given, the item's values and size, then the
    # conditions and placeholders; the table last.
    item = normalize_item(params["Item"], CODED_PREFIX)
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise validation("Item size has exceeded the maximum allowed size")
    condition = _condition(params, exprs)
    exprs.finish()
    table = tables.catalog.require(ctx.account_id, ctx.region, params["TableName"])
    pk, sk = table.key.item_key(item)
    check_index_keys(table, item)
    on_failure = _on_failure(params)
    tid = table.table_id

    def job(txn: WriteTxn) -> Item | None:
        live = tables.catalog.for_write(txn, tid)
        txn.lock_items([(tid, pk, sk)])
        # The item it replaces is read only when something needs it: a condition, ALL_OLD,
        # the table's indexes or its stream (a plain put of a plain table just replaces).
        needed = (
            condition is not None
            or returns == "ALL_OLD"
            or bool(live.indexes)
            or live.stream_view is not None
        )
        old = load(txn, live, pk, sk) if needed else None
        if condition is not None and not matches(condition, old or {}):
            raise conditional_check_failed(old if on_failure else None)
        store(txn, live, pk, sk, old, item, size)
        tables.streams.record(txn, live, old, item)
        return old

    old = await tables.engine.write(job)
    out: dict[str, Any] = {}
    if returns == "ALL_OLD" and old is not None:
        out["Attributes"] = old
    consumed = capacity(params.get("ReturnConsumedCapacity"), table, write_units(size))
    if consumed:
        out["ConsumedCapacity"] = consumed
    return out


async def get_item(
    tables: Tables, ctx: RequestContext, params: dict[str, Any], *, stored: bool = False
) -> dict[str, Any]:
    """`stored`: a whole item may be answered as a `StoredItem`, its stored text spliced into
    the body by the json protocol (the caller serializes the result for the wire)."""
    exprs = RequestExpressions(params, expressions=("ProjectionExpression",))
    key = normalize_item(params["Key"])
    paths = None
    if params.get("AttributesToGet"):
        paths = attributes_to_get(params["AttributesToGet"])
    paths = exprs.projection(params.get("ProjectionExpression")) or paths
    exprs.finish()
    table = tables.catalog.require(ctx.account_id, ctx.region, params["TableName"])
    # The key before the paths (dynalite's AWS-checked order).
    pk, sk = table.key.lookup_key(key)
    check_scalar_keys(table, paths)
    tid = table.table_id
    found = await tables.engine.read(lambda txn: txn.get_stored(tid, pk, sk), quick=True)
    out: dict[str, Any] = {}
    size = 0
    if found is not None:
        text, size = found
        if paths is not None:
            out["Item"] = project(load_item(text), paths)
        else:
            out["Item"] = StoredItem(text) if stored else load_item(text)
    consumed = capacity(
        params.get("ReturnConsumedCapacity"),
        table,
        read_units(size, bool(params.get("ConsistentRead"))),
    )
    if consumed:
        out["ConsumedCapacity"] = consumed
    return out


async def delete_item(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    returns = check_return_values(params.get("ReturnValues"), ("NONE", "ALL_OLD"))
    exprs = RequestExpressions(params, prefix=CODED_PREFIX, expressions=_WRITE_EXPRESSIONS)
    key = normalize_item(params["Key"], CODED_PREFIX)
    condition = _condition(params, exprs)
    exprs.finish()
    table = tables.catalog.require(ctx.account_id, ctx.region, params["TableName"])
    pk, sk = table.key.lookup_key(key)
    on_failure = _on_failure(params)
    tid = table.table_id

    def job(txn: WriteTxn) -> Item | None:
        live = tables.catalog.for_write(txn, tid)
        txn.lock_items([(tid, pk, sk)])
        old = load(txn, live, pk, sk)
        if condition is not None and not matches(condition, old or {}):
            raise conditional_check_failed(old if on_failure else None)
        store(txn, live, pk, sk, old, None)
        tables.streams.record(txn, live, old, None)
        return old

    old = await tables.engine.write(job)
    out: dict[str, Any] = {}
    if returns == "ALL_OLD" and old is not None:
        out["Attributes"] = old
    consumed = capacity(
        params.get("ReturnConsumedCapacity"), table, write_units(item_size(old) if old else 0)
    )
    if consumed:
        out["ConsumedCapacity"] = consumed
    return out


def updated_item(
    update: Update, key_item: Item, old: Item | None, key_names: tuple[str, ...]
) -> Item:
    """The item after an update (created from its key when absent), checked for size."""
    new = apply_update(update, old if old is not None else key_item)
    for name in key_names:
        if new.get(name) != key_item[name]:
            raise validation(
                f"{INVALID}Cannot update attribute {name}. This attribute is part of the key"
            )
    if item_size(new) > MAX_ITEM_BYTES:
        raise validation("Item size to update has exceeded the maximum allowed size")
    return new


def returned_attributes(
    mode: str, update: Update, old: Item | None, new: Item
) -> dict[str, Any] | None:
    if mode == "ALL_OLD":
        return old
    if mode == "ALL_NEW":
        return new
    paths: list[Path] = updated_paths(update)
    if mode == "UPDATED_OLD":
        return project(old, paths) if old is not None else None
    if mode == "UPDATED_NEW":
        return project(new, paths)
    return None


async def update_item(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    returns = check_return_values(
        params.get("ReturnValues"),
        ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"),
    )
    exprs = RequestExpressions(
        params, prefix=CODED_PREFIX, expressions=("ConditionExpression", "UpdateExpression")
    )
    key = normalize_item(params["Key"], CODED_PREFIX)
    # The update before the condition, as DynamoDB reports their errors.
    text = params.get("UpdateExpression")
    if text is not None:
        update = exprs.update(text)
    else:
        update = attribute_updates(params.get("AttributeUpdates") or {})
    condition = _condition(params, exprs)
    exprs.finish()
    table = tables.catalog.require(ctx.account_id, ctx.region, params["TableName"])
    pk, sk = table.key.lookup_key(key)
    key_names = table.key.names
    touched = key_attributes_touched(update, key_names)
    if touched is not None:
        raise validation(
            f"{INVALID}Cannot update attribute {touched}. This attribute is part of the key"
        )
    # Paths into key attributes after the key and the updated key attributes, as DynamoDB
    # reports them (dynalite's AWS-checked suite).
    check_scalar_keys(table, update, condition)
    key_item = dict(key)
    on_failure = _on_failure(params)
    tid = table.table_id

    def job(txn: WriteTxn) -> tuple[Item | None, Item]:
        live = tables.catalog.for_write(txn, tid)
        txn.lock_items([(tid, pk, sk)])
        old = load(txn, live, pk, sk)
        if condition is not None and not matches(condition, old or {}):
            raise conditional_check_failed(old if on_failure else None)
        new = updated_item(update, key_item, old, key_names)
        check_index_keys(live, new, updating=True)
        store(txn, live, pk, sk, old, new)
        tables.streams.record(txn, live, old, new)
        return old, new

    old, new = await tables.engine.write(job)
    out: dict[str, Any] = {}
    attributes = returned_attributes(returns, update, old, new)
    if attributes:
        out["Attributes"] = attributes
    consumed = capacity(params.get("ReturnConsumedCapacity"), table, write_units(item_size(new)))
    if consumed:
        out["ConsumedCapacity"] = consumed
    return out
