"""BatchGetItem and BatchWriteItem.

Every request of a batch is validated before any is applied (DynamoDB rejects the whole
batch for one bad request). A BatchWriteItem is then applied in one write job: each put or
delete is atomic, as DynamoDB promises, and here the batch as a whole is too. Nothing is
throttled, so `UnprocessedItems` is always empty; `UnprocessedKeys` carries the keys past
BatchGetItem's 16 MB response cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables.engine import ReadTxn, WriteTxn
from fireside.tables.errors import validation
from fireside.tables.expressions import project
from fireside.tables.legacy import attributes_to_get, reject_mixed
from fireside.tables.requests import RequestExpressions, read_units, write_units
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables
from fireside.tables.storage import MAX_ITEM_BYTES, check_index_keys, load, store
from fireside.tables.values import Item, item_size, normalize_item

__all__ = ["batch_get_item", "batch_write_item"]

_MAX_GET_KEYS = 100
_MAX_WRITES = 25
_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


def _units(mode: str | None, used: Mapping[str, float]) -> list[dict[str, Any]] | None:
    if mode not in ("TOTAL", "INDEXES"):
        return None
    out = []
    for name, units in used.items():
        entry: dict[str, Any] = {"TableName": name, "CapacityUnits": units}
        if mode == "INDEXES":
            entry["Table"] = {"CapacityUnits": units}
        out.append(entry)
    return out


async def batch_get_item(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    requests: Mapping[str, Any] = params["RequestItems"]
    if sum(len(r.get("Keys") or ()) for r in requests.values()) > _MAX_GET_KEYS:
        raise validation("Too many items requested for the BatchGetItem call")
    projections: list[tuple[str, Any, list[Item]]] = []
    for name, request in requests.items():
        exprs = RequestExpressions(request, expressions=("ProjectionExpression",))
        reject_mixed(request)
        paths = exprs.projection(request.get("ProjectionExpression"))
        if paths is None and request.get("AttributesToGet"):
            paths = attributes_to_get(request["AttributesToGet"])
        exprs.finish()
        # Keys' values are checked before any table is looked up, as DynamoDB does.
        projections.append((name, paths, [normalize_item(key) for key in request["Keys"]]))
    plans: list[tuple[str, TableInfo, list[tuple[dict[str, Any], bytes, bytes]], Any, bool]] = []
    for name, paths, normalized in projections:
        request = requests[name]
        table = tables.catalog.require(ctx.account_id, ctx.region, name)
        keys = []
        seen: set[tuple[bytes, bytes]] = set()
        for original, key in zip(request["Keys"], normalized, strict=True):
            pk, sk = table.key.lookup_key(key)
            if (pk, sk) in seen:
                raise validation("Provided list of item keys contains duplicates")
            seen.add((pk, sk))
            keys.append((original, pk, sk))
        plans.append((name, table, keys, paths, bool(request.get("ConsistentRead"))))

    def job(txn: ReadTxn) -> dict[str, Any]:
        responses: dict[str, list[Item]] = {}
        unprocessed: dict[str, Any] = {}
        used: dict[str, float] = {}
        total = 0
        for name, table, keys, paths, consistent in plans:
            found = responses.setdefault(name, [])
            for position, (_, pk, sk) in enumerate(keys):
                item = load(txn, table, pk, sk)
                size = item_size(item) if item is not None else 0
                if total + size > _MAX_RESPONSE_BYTES:
                    # This one and the rest wait for the caller's next request.
                    rest = {k: v for k, v in requests[name].items() if k != "Keys"}
                    rest["Keys"] = [k for k, _, _ in keys[position:]]
                    unprocessed[name] = rest
                    break
                used[name] = used.get(name, 0.0) + read_units(size, consistent)
                if item is None:
                    continue
                total += size
                found.append(project(item, paths) if paths is not None else item)
        out: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": unprocessed}
        consumed = _units(params.get("ReturnConsumedCapacity"), used)
        if consumed is not None:
            out["ConsumedCapacity"] = consumed
        return out

    return await tables.engine.read(job, quick=True)  # at most 100 keys


async def batch_write_item(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    requests: Mapping[str, Any] = params["RequestItems"]
    if sum(len(r) for r in requests.values()) > _MAX_WRITES:
        raise validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
            "Map value must satisfy constraint: [Member must have length less than or equal to "
            "25, Member must have length greater than or equal to 1]"
        )
    # Everything a request says about itself is checked before any table is looked up, so a
    # malformed item is refused as DynamoDB refuses it even when its table does not exist.
    checked: list[tuple[str, list[tuple[Item, bool]]]] = []
    for name, entries in requests.items():
        parsed: list[tuple[Item, bool]] = []
        for entry in entries:
            put, delete = entry.get("PutRequest"), entry.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain "
                    "exactly one of the supported datatypes"
                    if put is not None
                    else "1 validation error detected: Value null at 'requestItems."
                    f"{name}.member.1.member' failed to satisfy constraint: Member must not be null"
                )
            if put is not None:
                item = normalize_item(put["Item"])
                if item_size(item) > MAX_ITEM_BYTES:
                    raise validation("Item size has exceeded the maximum allowed size")
                parsed.append((item, True))
            else:
                parsed.append((normalize_item(delete["Key"]), False))
        checked.append((name, parsed))
    writes: list[tuple[int, bytes, bytes, Item | None]] = []
    used: dict[str, float] = {}
    for name, parsed in checked:
        table = tables.catalog.require(ctx.account_id, ctx.region, name)
        seen: set[tuple[bytes, bytes]] = set()
        for item, is_put in parsed:
            if is_put:
                pk, sk = table.key.item_key(item)
                size = item_size(item)
                check_index_keys(table, item)
                writes.append((table.table_id, pk, sk, item))
            else:
                pk, sk = table.key.lookup_key(item)
                size = 0
                writes.append((table.table_id, pk, sk, None))
            if (pk, sk) in seen:
                raise validation("Provided list of item keys contains duplicates")
            seen.add((pk, sk))
            used[name] = used.get(name, 0.0) + write_units(size)

    def job(txn: WriteTxn) -> None:
        # Definitions first, then items: every write job takes its locks in that order.
        definitions = {tid: tables.catalog.for_write(txn, tid) for tid, _, _, _ in writes}
        txn.lock_items([(tid, pk, sk) for tid, pk, sk, _ in writes])
        for tid, pk, sk, item in writes:
            table = definitions[tid]
            old = load(txn, table, pk, sk)
            store(txn, table, pk, sk, old, item)
            tables.streams.record(txn, table, old, item)

    await tables.engine.write(job)
    out: dict[str, Any] = {"UnprocessedItems": {}}
    consumed = _units(params.get("ReturnConsumedCapacity"), used)
    if consumed is not None:
        out["ConsumedCapacity"] = consumed
    return out
