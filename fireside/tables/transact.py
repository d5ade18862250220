"""TransactWriteItems and TransactGetItems: all-or-nothing across items and tables.

A write transaction is validated on the event loop, then runs as one job of the engine's
serializable write transaction: every action's item is read, every condition evaluated, every
new item computed; if anything fails the job raises `TransactionCanceledException` with one
reason per action in request order and nothing is written. Otherwise all items are stored in
that same transaction, together with the ClientRequestToken record, so a retry after a crash
either finds the token (and the writes) or neither.

Idempotency (as DynamoDB documents it): a token is remembered for 10 minutes after its
transaction completes; a repeat with identical TransactItems returns success without applying
anything, different TransactItems get IdempotentParameterMismatchException, and a repeat while
the first is still running gets TransactionInProgressException.

Isolation: the single-writer engine never runs two write jobs at once, so transactions are
serializable with each other and with single-item writes, and a TransactionConflict cannot
arise there. An engine that runs writers concurrently must report a lost serialization race as
DynamoDB does: TransactionCanceledException with `TransactionConflict` for transactions,
TransactionConflictException for single-item writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables.engine import ReadTxn, WriteTxn
from fireside.tables.errors import INVALID, dynamodb_error, validation
from fireside.tables.expressions import matches, project
from fireside.tables.expressions.ast import Condition, Path, Update
from fireside.tables.itemops import updated_item
from fireside.tables.legacy import reject_mixed
from fireside.tables.requests import RequestExpressions, key_attributes_touched
from fireside.tables.service import Tables
from fireside.tables.storage import MAX_ITEM_BYTES, check_index_keys, load, store
from fireside.tables.values import Item, item_size, normalize_item

__all__ = ["TOKEN_LIFETIME", "transact_get_items", "transact_write_items"]

#: How long a ClientRequestToken is remembered after its transaction completes.
TOKEN_LIFETIME = 600.0
_MAX_BYTES = 4 * 1024 * 1024
_KINDS = ("ConditionCheck", "Put", "Delete", "Update")


@dataclass(slots=True)
class _Action:
    kind: str
    table_id: int
    table_name: str
    pk: bytes
    sk: bytes
    key: dict[str, Any]
    condition: Condition | None
    on_failure: bool
    item: Item | None = None
    update: Update | None = None


def _prepare(tables: Tables, ctx: RequestContext, entry: Mapping[str, Any]) -> _Action:
    present = [k for k in _KINDS if entry.get(k) is not None]
    if len(present) != 1:
        raise validation("TransactItems can only contain one of Check, Put, Update or Delete")
    kind = present[0]
    spec = entry[kind]
    names = (
        ("ConditionExpression", "UpdateExpression")
        if kind == "Update"
        else ("ConditionExpression",)
    )
    exprs = RequestExpressions(spec, expressions=names)
    reject_mixed(spec)
    condition = exprs.condition(spec.get("ConditionExpression"))
    update = exprs.update(spec["UpdateExpression"]) if kind == "Update" else None
    exprs.finish()
    table = tables.catalog.require(ctx.account_id, ctx.region, spec["TableName"])
    item: Item | None = None
    if kind == "Put":
        item = normalize_item(spec["Item"])
        pk, sk = table.key.item_key(item)
        if item_size(item) > MAX_ITEM_BYTES:
            raise validation("Item size has exceeded the maximum allowed size")
        check_index_keys(table, item)
        key = table.key.key_of(item)
    else:
        key = dict(spec["Key"])
        pk, sk = table.key.lookup_key(key)
    if update is not None:
        touched = key_attributes_touched(update, table.key.names)
        if touched is not None:
            raise validation(
                f"{INVALID}Cannot update attribute {touched}. This attribute is part of the key"
            )
    if kind == "ConditionCheck" and condition is None:
        raise validation(
            "1 validation error detected: Value null at 'transactItems.1.member.conditionCheck."
            "conditionExpression' failed to satisfy constraint: Member must not be null"
        )
    return _Action(
        kind,
        table.table_id,
        table.name,
        pk,
        sk,
        key,
        condition,
        spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD",
        item,
        update,
    )


def _b64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def _digest(items: Any) -> str:
    text = json.dumps(items, sort_keys=True, separators=(",", ":"), default=_b64)
    return hashlib.sha256(text.encode()).hexdigest()


def _cancelled(reasons: list[dict[str, Any]]) -> ServiceError:
    codes = ", ".join(r["Code"] for r in reasons)
    return dynamodb_error(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        CancellationReasons=reasons,
    )


def _capacity(
    mode: str | None, actions: list[_Action], units: float
) -> list[dict[str, Any]] | None:
    if mode not in ("TOTAL", "INDEXES"):
        return None
    per_table: dict[str, float] = {}
    for action in actions:
        per_table[action.table_name] = per_table.get(action.table_name, 0.0) + units
    out = []
    for name, total in per_table.items():
        entry: dict[str, Any] = {"TableName": name, "CapacityUnits": total}
        if mode == "INDEXES":
            entry["Table"] = {"CapacityUnits": total}
        out.append(entry)
    return out


async def transact_write_items(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    entries = params["TransactItems"]
    actions = [_prepare(tables, ctx, entry) for entry in entries]
    seen: set[tuple[int, bytes, bytes]] = set()
    total = 0
    for action in actions:
        target = (action.table_id, action.pk, action.sk)
        if target in seen:
            raise validation("Transaction request cannot include multiple operations on one item")
        seen.add(target)
        total += item_size(action.item) if action.item is not None else 0
    if total > _MAX_BYTES:
        raise validation("Transaction request cannot be larger than 4 MB")
    token = params.get("ClientRequestToken")
    digest = _digest(entries) if token is not None else ""
    consumed = _capacity(params.get("ReturnConsumedCapacity"), actions, 2.0)
    response: dict[str, Any] = {"ConsumedCapacity": consumed} if consumed else {}
    now = tables.clock()

    def job(txn: WriteTxn) -> None:
        if token is not None:
            known = txn.token(ctx.account_id, ctx.region, token)
            if known is not None and known[2] >= now - TOKEN_LIFETIME:
                if known[0] != digest:
                    raise dynamodb_error(
                        "IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical "
                        "request.",
                    )
                return  # already applied: succeed without applying again
        # Definitions first, then items: every write job takes its locks in that order.
        definitions = {a.table_id: tables.catalog.for_write(txn, a.table_id) for a in actions}
        txn.lock_items([(a.table_id, a.pk, a.sk) for a in actions])
        olds: list[Item | None] = []
        news: list[Item | None] = []
        reasons: list[dict[str, Any]] = []
        failed = False
        for action in actions:
            table = definitions[action.table_id]
            old = load(txn, table, action.pk, action.sk)
            olds.append(old)
            reason: dict[str, Any] = {"Code": "None"}
            new: Item | None = old
            if action.condition is not None and not matches(action.condition, old or {}):
                reason = {
                    "Code": "ConditionalCheckFailed",
                    "Message": "The conditional request failed",
                }
                if action.on_failure and old is not None:
                    reason["Item"] = old
            elif action.kind == "Put":
                new = action.item
            elif action.kind == "Delete":
                new = None
            elif action.kind == "Update":
                assert action.update is not None
                try:
                    new = updated_item(action.update, action.key, old, table.key.names)
                    check_index_keys(table, new)
                except ServiceError as exc:
                    reason = {"Code": "ValidationError", "Message": exc.message}
            if reason["Code"] != "None":
                failed = True
            reasons.append(reason)
            news.append(new)
        if failed:
            raise _cancelled(reasons)
        for action, old, new in zip(actions, olds, news, strict=True):
            if action.kind == "ConditionCheck":
                continue
            table = definitions[action.table_id]
            store(txn, table, action.pk, action.sk, old, new)
            tables.streams.record(txn, table, old, new)
        if token is not None:
            txn.save_token(ctx.account_id, ctx.region, token, digest, json.dumps(response), now)

    flight = (ctx.account_id, ctx.region, token)
    if token is not None:
        if flight in tables.tokens_in_flight:
            raise dynamodb_error(
                "TransactionInProgressException",
                "Transaction from previous request is still in progress",
            )
        tables.tokens_in_flight.add(flight)
    try:
        await tables.engine.write(job)
    except ServiceError as exc:
        if exc.code != "TransactionConflictException":
            raise
        # A transaction that lost its race reports it per action, as DynamoDB does.
        conflict = {
            "Code": "TransactionConflict",
            "Message": "Transaction is ongoing for the item.",
        }
        raise _cancelled([dict(conflict) for _ in actions]) from None
    finally:
        tables.tokens_in_flight.discard(flight)
    return response


async def transact_get_items(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    gets: list[tuple[Any, bytes, bytes, list[Path] | None]] = []
    for entry in params["TransactItems"]:
        spec = entry["Get"]
        exprs = RequestExpressions(spec, expressions=("ProjectionExpression",))
        paths = exprs.projection(spec.get("ProjectionExpression"))
        exprs.finish()
        table = tables.catalog.require(ctx.account_id, ctx.region, spec["TableName"])
        pk, sk = table.key.lookup_key(spec["Key"])
        gets.append((table, pk, sk, paths))
    seen = {(t.table_id, pk, sk) for t, pk, sk, _ in gets}
    if len(seen) != len(gets):
        raise validation("Transaction request cannot include multiple operations on one item")

    def job(txn: ReadTxn) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for table, pk, sk, paths in gets:
            item = load(txn, table, pk, sk)
            if item is None:
                out.append({})
            else:
                out.append({"Item": project(item, paths) if paths is not None else item})
        return out

    responses = await tables.engine.read(job, quick=True)  # at most 100 items
    result: dict[str, Any] = {"Responses": responses}
    mode = params.get("ReturnConsumedCapacity")
    if mode in ("TOTAL", "INDEXES"):
        per_table: dict[str, float] = {}
        for table, _, _, _ in gets:
            per_table[table.name] = per_table.get(table.name, 0.0) + 2.0
        result["ConsumedCapacity"] = [
            {"TableName": n, "CapacityUnits": u} for n, u in per_table.items()
        ]
    return result
