"""Query and Scan: paged reads of a table or index, with filters, projections and Select.

A page stops at `Limit` items read or at 1 MB read, whichever comes first, and both are
counted before the FilterExpression is applied (so a page may come back empty with a
`LastEvaluatedKey`, as on DynamoDB). Each page is read from one snapshot.

A page of whole items (no filter, no projection) answered on the wire holds them as stored
(`StoredItem`): the json protocol splices their stored text into the body, so they are
neither decoded nor encoded again, and the stored sizes count toward the 1 MB. A Query, or a
Scan with a small Limit, is a `quick` read (on the event loop while it stays short).

Parallel Scan divides the partition-hash space: items are stored partition hash first (see
`keys.py`), so segment i of n is a contiguous key range.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables.engine import Bound, ReadTxn
from fireside.tables.errors import INVALID, validation
from fireside.tables.expressions import matches, project
from fireside.tables.expressions.ast import (
    And,
    Between,
    Compare,
    Condition,
    Function,
    In,
    Not,
    Or,
    Path,
)
from fireside.tables.keycond import KeyRange, check_key_condition, key_range
from fireside.tables.keys import KeySchema
from fireside.tables.legacy import (
    attributes_to_get,
    check_indexable,
    filter_condition,
    reject_mixed,
)
from fireside.tables.requests import (
    CODED_PREFIX,
    RequestExpressions,
    capacity,
    check_scalar_keys,
    read_units,
)
from fireside.tables.schema import IndexInfo, TableInfo
from fireside.tables.service import Tables
from fireside.tables.storage import load
from fireside.tables.values import Item, StoredItem, load_item, normalize_item, value_type

__all__ = ["query", "scan"]

PAGE_BYTES = 1024 * 1024
#: A Scan with at most this Limit is a quick read (a Query always is: see the module).
_QUICK_LIMIT = 256
_HASH_SPACE = 2**32


@dataclass(slots=True)
class _Plan:
    table: TableInfo
    index: IndexInfo | None
    select: str
    paths: list[Path] | None
    filter: Condition | None
    limit: int | None
    #: LSI reads of attributes the index does not hold fetch the table's item.
    fetch: bool


def _index(table: TableInfo, name: str | None) -> IndexInfo | None:
    if name is None:
        return None
    index = table.indexes.get(name)
    if index is None or index.status == "DELETING":
        raise validation(f"The table does not have the specified index: {name}")
    return index


def _select(
    params: Mapping[str, Any],
    index: IndexInfo | None,
    paths: list[Path] | None,
) -> str:
    # Query and Scan both lead these with Coral's count (moto 5.2.5's AWS-verified tests; its
    # 5.2.3 had Scan without it).
    select = params.get("Select")
    attributes_given = params.get("AttributesToGet") is not None
    if select is None:
        if paths is not None:
            return "SPECIFIC_ATTRIBUTES"
        return "ALL_PROJECTED_ATTRIBUTES" if index is not None else "ALL_ATTRIBUTES"
    if select != "SPECIFIC_ATTRIBUTES" and paths is not None:
        what = {"COUNT": "only the Count"}.get(select, select)
        member = "AttributesToGet" if attributes_given else "ProjectionExpression"
        raise validation(f"{CODED_PREFIX}Cannot specify the {member} when choosing to get {what}")
    if select == "SPECIFIC_ATTRIBUTES" and paths is None:
        raise validation(
            f"{CODED_PREFIX}Must specify the AttributesToGet or ProjectionExpression when choosing to "
            "get SPECIFIC_ATTRIBUTES"
        )
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise validation(
            f"{CODED_PREFIX}ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    return str(select)


def _check_gsi_select(plan: _Plan) -> None:
    """ALL_ATTRIBUTES from a GSI that does not project them (checked later than Select's other
    rules: after the index's part of ExclusiveStartKey, and in a Query after the filter)."""
    index = plan.index
    if (
        plan.select == "ALL_ATTRIBUTES"
        and index is not None
        and index.kind == "GSI"
        and index.projection_type != "ALL"
    ):
        raise validation(
            f"{INVALID}Select type ALL_ATTRIBUTES is not supported for global secondary index "
            f"{index.name} because its projection type is not ALL"
        )


def _start_values(params: Mapping[str, Any]) -> Item | None:
    """ExclusiveStartKey's values, checked as DynamoDB checks them before finding the table."""
    start = params.get("ExclusiveStartKey")
    if start is None:
        return None
    try:
        return normalize_item(start)
    except ServiceError as exc:
        if exc.message.startswith("Supplied AttributeValue"):
            raise validation(f"The provided starting key is invalid: {exc.message}") from None
        raise


def _plan(
    tables: Tables,
    ctx: RequestContext,
    params: Mapping[str, Any],
    exprs: RequestExpressions,
    legacy_filter: str,
) -> tuple[_Plan, Condition | None, Item | None]:
    """Everything but the key condition's fit to the key schema; returns the plan, the bound
    key condition (KeyConditionExpression or KeyConditions) and ExclusiveStartKey's values.
    What the request says about itself is checked before its table is looked up."""
    reject_mixed(params)
    paths = exprs.projection(params.get("ProjectionExpression"))
    if paths is None and params.get("AttributesToGet"):
        paths = attributes_to_get(params["AttributesToGet"])
    key_condition = exprs.condition(params.get("KeyConditionExpression"), "KeyCondition")
    if key_condition is None and legacy_filter == "QueryFilter" and params.get("KeyConditions"):
        key_condition = filter_condition(params["KeyConditions"], None)
    condition = exprs.condition(params.get("FilterExpression"), "Filter")
    if condition is None and params.get(legacy_filter):
        condition = filter_condition(params[legacy_filter], params.get("ConditionalOperator"))
    exprs.finish()
    if params.get("KeyConditionExpression") is not None and key_condition is not None:
        # Every expression parses before the key condition's shape is judged.
        check_key_condition(key_condition)
    start = _start_values(params)
    table = tables.catalog.require(ctx.account_id, ctx.region, params["TableName"])
    index = _index(table, params.get("IndexName"))
    if index is not None and index.kind == "GSI" and params.get("ConsistentRead"):
        raise validation("Consistent reads are not supported on global secondary indexes")
    select = _select(params, index, paths)
    fetch = (
        index is not None
        and index.kind == "LSI"
        and index.projection_type != "ALL"
        and (select == "ALL_ATTRIBUTES" or paths is not None)
    )
    plan = _Plan(table, index, select, paths, condition, params.get("Limit"), fetch)
    return plan, key_condition, start


def _key_paths(condition: Condition) -> Iterator[Path]:
    if isinstance(condition, And | Or):
        yield from _key_paths(condition.left)
        yield from _key_paths(condition.right)
    elif isinstance(condition, Not):
        yield from _key_paths(condition.operand)
    elif isinstance(condition, Compare):
        yield from (o for o in (condition.left, condition.right) if isinstance(o, Path))
    elif isinstance(condition, Between):
        yield from (
            o for o in (condition.operand, condition.low, condition.high) if isinstance(o, Path)
        )
    elif isinstance(condition, In):
        yield from (o for o in (condition.operand, *condition.choices) if isinstance(o, Path))
    elif isinstance(condition, Function):
        for arg in condition.args:
            if isinstance(arg, Path):
                yield arg
            elif isinstance(arg, Function):
                yield from (a for a in arg.args if isinstance(a, Path))


#: ExclusiveStartKey's wordings, case by case as dynalite's suite (checked against DynamoDB)
#: has them: the short one for a key of the wrong size or missing an attribute of the key the
#: read goes by (an index's; a Query of a table: the table's), the bare schema message for one
#: of those of the wrong type, and the long one for the table's key attributes beyond it (and for
#: every fault in a Scan of a table). ExtendDB answers the short one for all but table Scans,
#: with no measurement recorded for these cases; see docs/tables.md.
_START_INVALID = "The provided starting key is invalid"
_START_NO_MATCH = "The provided key element does not match the schema"
_START_TABLE_KEY = f"{_START_INVALID}: {_START_NO_MATCH}"


def _check_start_own_key(plan: _Plan, start: Mapping[str, Any] | None, query: bool) -> None:
    """ExclusiveStartKey's size, then the attributes of the key the read goes by (the index's;
    a Query of a table: the table's). A Scan of a table only checks the table's key, later."""
    if start is None:
        return
    names = set(plan.table.key.names)
    if plan.index is not None:
        names |= set(plan.index.key.names)
    table_scan = not query and plan.index is None
    if len(start) != len(names):
        raise validation(_START_TABLE_KEY if table_scan else _START_INVALID)
    if table_scan:
        return
    own = plan.index.key if plan.index is not None else plan.table.key
    for name, kind in (*own.hashes, *own.ranges):
        value = start.get(name)
        if value is None:
            raise validation(_START_INVALID)
        if value_type(value) != kind:
            raise validation(_START_NO_MATCH)


def _start_key(
    plan: _Plan, start: Mapping[str, Any] | None
) -> tuple[bytes, bytes, bytes, bytes] | None:
    """ExclusiveStartKey as (index pk, index sk, table pk, table sk); index parts b"" for tables.
    Its table key attributes are checked here, after `_check_start_own_key`."""
    if start is None:
        return None
    table_key = plan.table.key
    try:
        tpk, tsk = table_key.lookup_key({n: start[n] for n in table_key.names if n in start})
    except ServiceError as exc:
        raise validation(f"{_START_INVALID}: {exc.message}") from None
    if plan.index is None:
        return b"", b"", tpk, tsk
    try:
        found = plan.index.key.index_key(start, plan.index.name)
    except ServiceError:
        raise validation(_START_INVALID) from None
    if found is None:
        raise validation(_START_INVALID)
    return found[0], found[1], tpk, tsk


def _within(low: Bound | None, high: Bound | None, key: bytes) -> bool:
    if low is not None and (key < low.key or (key == low.key and not low.inclusive)):
        return False
    return high is None or key < high.key or (key == high.key and high.inclusive)


def _check_restart(ranged: KeyRange, start: tuple[bytes, bytes]) -> None:
    """A Query's ExclusiveStartKey must lie inside what its key condition selects."""
    low, high = ranged.low, ranged.high
    exact = low is not None and high is not None and low == high and low.inclusive
    if exact:
        raise validation("The query can return at most one row and cannot be restarted")
    partition, sort = start
    ranged_sort = low is not None or high is not None
    if partition != ranged.pk:
        if ranged_sort and _within(low, high, sort):
            raise validation("The query can return at most one row and cannot be restarted")
        raise validation(
            "The provided starting key is outside query boundaries based on provided conditions"
        )
    if not _within(low, high, sort):
        raise validation("The provided starting key does not match the range key predicate")


class _Page:
    """Collects one page: counts, the 1 MB cap, filter and projection."""

    def __init__(self, plan: _Plan, stored: bool) -> None:
        self.plan = plan
        #: Whole items, answered as stored (`stored`: the caller serializes them for the wire).
        self.whole = stored and plan.filter is None and plan.paths is None and not plan.fetch
        self.items: list[Item | StoredItem] = []
        self.count = 0
        self.scanned = 0
        self.bytes = 0
        self.last: Mapping[str, Any] | None = None

    def add(self, txn: ReadTxn, text: str, size: int, tpk: bytes, tsk: bytes) -> bool:
        """Take one stored item (its text and stored size); False once the page is full."""
        plan = self.plan
        self.scanned += 1
        self.bytes += size
        full = (plan.limit is not None and self.scanned >= plan.limit) or self.bytes >= PAGE_BYTES
        if self.whole:
            self.count += 1
            if plan.select != "COUNT":
                self.items.append(StoredItem(text))
            if full:
                self.last = load_item(text)
            return not full
        stored = load_item(text)
        item = stored
        if plan.fetch:
            item = load(txn, plan.table, tpk, tsk) or stored
        if plan.filter is None or matches(plan.filter, item):
            self.count += 1
            if plan.select != "COUNT":
                self.items.append(project(item, plan.paths) if plan.paths is not None else item)
        if full:
            self.last = item
        return not full

    def result(self, mode: str | None, consistent: bool) -> dict[str, Any]:
        plan = self.plan
        out: dict[str, Any] = {"Count": self.count, "ScannedCount": self.scanned}
        if plan.select != "COUNT":
            out["Items"] = self.items
        if self.last is not None:
            names = list(plan.table.key.names)
            if plan.index is not None:
                names += [n for n in plan.index.key.names if n not in names]
            out["LastEvaluatedKey"] = {n: self.last[n] for n in names if n in self.last}
        index = plan.index.name if plan.index is not None else None
        consumed = capacity(mode, plan.table, read_units(self.bytes, consistent), index)
        if consumed:
            out["ConsumedCapacity"] = consumed
        return out


def _after(bound: Bound | None, start: bytes, forward: bool) -> Bound:
    """Tighten a range end with an exclusive start position."""
    if bound is None:
        return Bound(start, False)
    if forward:
        return bound if bound.key > start else Bound(start, False)
    return bound if bound.key < start else Bound(start, False)


async def query(
    tables: Tables, ctx: RequestContext, params: dict[str, Any], *, stored: bool = False
) -> dict[str, Any]:
    """`stored`: whole items may be answered as `StoredItem`s (the caller serializes the
    result for the wire, see the module)."""
    exprs = RequestExpressions(
        params,
        expressions=("KeyConditionExpression", "FilterExpression", "ProjectionExpression"),
    )
    plan, key_condition, start_values = _plan(tables, ctx, params, exprs, "QueryFilter")
    if key_condition is None:
        raise validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    index = plan.index
    key: KeySchema = index.key if index is not None else plan.table.key
    # DynamoDB's order (dynalite's AWS-checked suite): ExclusiveStartKey against the key the
    # Query goes by, the key condition against that key, ExclusiveStartKey's table key and its
    # place in the condition, paths into key attributes in the projection, key attributes in
    # the filter, ALL_ATTRIBUTES from a GSI, and paths into key attributes in the filter.
    _check_start_own_key(plan, start_values, query=True)
    if params.get("KeyConditionExpression") is None:
        check_indexable(params["KeyConditions"], key)
    ranged = key_range(key_condition, key)
    start = _start_key(plan, start_values)
    if start is not None:
        _check_restart(ranged, start[:2] if index is not None else start[2:])
    check_scalar_keys(plan.table, plan.paths)
    if plan.filter is not None:
        for path in _key_paths(plan.filter):
            if path.elements[0] in key.names:
                what = "Filter Expression" if params.get("FilterExpression") else "QueryFilter"
                raise validation(
                    f"{what} can only contain non-primary key attributes: Primary key "
                    f"attribute: {path.elements[0]}"
                )
    _check_gsi_select(plan)
    check_scalar_keys(plan.table, plan.filter)
    forward = params.get("ScanIndexForward", True) is not False

    def job(txn: ReadTxn) -> _Page:
        page = _Page(plan, stored)
        low, high = ranged.low, ranged.high
        if index is None:
            if start is not None:
                if forward:
                    low = _after(low, start[3], True)
                else:
                    high = _after(high, start[3], False)
            for sk, text, size in txn.query(plan.table.table_id, ranged.pk, low, high, forward):
                if not page.add(txn, text, size, ranged.pk, bytes(sk)):
                    break
        else:
            after = (start[1], start[2], start[3]) if start is not None else None
            rows = txn.index_query(index.index_id, ranged.pk, low, high, forward, after)
            for _, tpk, tsk, text, size in rows:
                if not page.add(txn, text, size, bytes(tpk), bytes(tsk)):
                    break
        return page

    page = await tables.engine.read(job, quick=True)
    return page.result(params.get("ReturnConsumedCapacity"), bool(params.get("ConsistentRead")))


def _segment(params: Mapping[str, Any]) -> tuple[bytes | None, bytes | None]:
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if segment is None and total is None:
        return None, None
    if total is None:
        raise validation(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if segment is None:
        raise validation(
            "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    if segment >= total:
        raise validation(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments"
        )
    low = segment * _HASH_SPACE // total
    high = (segment + 1) * _HASH_SPACE // total
    return (
        low.to_bytes(4, "big") if segment > 0 else None,
        high.to_bytes(4, "big") if segment + 1 < total else None,
    )


async def scan(
    tables: Tables, ctx: RequestContext, params: dict[str, Any], *, stored: bool = False
) -> dict[str, Any]:
    """`stored`: as for `query`."""
    exprs = RequestExpressions(params, expressions=("FilterExpression", "ProjectionExpression"))
    plan, _, start_values = _plan(tables, ctx, params, exprs, "ScanFilter")
    begin, end = _segment(params)
    # DynamoDB's order (dynalite's AWS-checked suite): an index's part of ExclusiveStartKey,
    # ALL_ATTRIBUTES from a GSI, the table's part, then paths into key attributes.
    _check_start_own_key(plan, start_values, query=False)
    _check_gsi_select(plan)
    start = _start_key(plan, start_values)
    check_scalar_keys(plan.table, plan.paths)
    check_scalar_keys(plan.table, plan.filter)
    index = plan.index

    def job(txn: ReadTxn) -> _Page:
        page = _Page(plan, stored)
        if index is None:
            after = (start[2], start[3]) if start is not None else None
            for pk, sk, text, size in txn.scan(plan.table.table_id, after, begin, end):
                if not page.add(txn, text, size, bytes(pk), bytes(sk)):
                    break
        else:
            for _, _, tpk, tsk, text, size in txn.index_scan(index.index_id, start, begin, end):
                if not page.add(txn, text, size, bytes(tpk), bytes(tsk)):
                    break
        return page

    quick = plan.limit is not None and plan.limit <= _QUICK_LIMIT
    page = await tables.engine.read(job, quick=quick)
    return page.result(params.get("ReturnConsumedCapacity"), bool(params.get("ConsistentRead")))
