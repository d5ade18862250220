"""The DynamoDB Streams API: ListStreams, DescribeStream, GetShardIterator, GetRecords.

Each stream (a table's StreamLabel) has one shard, open while the stream is enabled and closed
(it gets an EndingSequenceNumber) once it is disabled; re-enabling makes a new stream. Records
are numbered in commit order, so a consumer reading a shard sees every item's changes in the
order they were committed. Records are kept 24 hours (trimmed by the TTL sweep, `ttl.py`). Shard iterators are self-contained
tokens valid for 15 minutes, as on DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables.engine import ReadTxn
from fireside.tables.errors import not_found, streams_error, validation
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables
from fireside.tables.streamlog import decode_record

__all__ = ["OPERATIONS"]

_ITERATOR_LIFETIME = 15 * 60.0
_DIGITS = 21


def sequence(number: int) -> str:
    """A sequence number as DynamoDB spells them: digits, ordered as strings too."""
    return f"{number:0{_DIGITS}d}"


def shard_id(table: TableInfo, label: str) -> str:
    created = datetime.strptime(label, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return f"shardId-{int(created.timestamp() * 1000):020d}-{table.table_id:08x}"


def _stream_of(tables: Tables, ctx: RequestContext, arn: str) -> tuple[TableInfo, str]:
    table_arn, _, label = arn.partition("/stream/")
    name = table_arn.rpartition(":table/")[2]
    table = tables.catalog.get(ctx.account_id, ctx.region, name) if label else None
    if table is None or table.arn != table_arn or table.stream_label != label:
        raise not_found(f"Requested resource not found: Stream: {arn} not found")
    return table, label


async def list_streams(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    wanted = params.get("TableName")
    streams = [
        {"StreamArn": t.stream_arn, "TableName": t.name, "StreamLabel": t.stream_label}
        for t in sorted(tables.catalog.all(), key=lambda t: t.name)
        if t.account == ctx.account_id and t.region == ctx.region and t.stream_label is not None
        and (wanted is None or t.name == wanted)
    ]  # fmt: skip
    if wanted is not None and tables.catalog.get(ctx.account_id, ctx.region, wanted) is None:
        raise not_found(f"Requested resource not found: Table: {wanted} not found")
    start = params.get("ExclusiveStartStreamArn")
    if start is not None:
        arns = [s["StreamArn"] for s in streams]
        streams = streams[arns.index(start) + 1 :] if start in arns else streams
    limit = params.get("Limit") or 100
    out: dict[str, Any] = {"Streams": streams[:limit]}
    if len(streams) > limit:
        out["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
    return out


async def describe_stream(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table, label = _stream_of(tables, ctx, params["StreamArn"])
    bounds = await tables.engine.read(lambda txn: txn.stream_bounds(table.table_id, label))
    enabled = table.stream_view is not None
    numbers: dict[str, str] = {"StartingSequenceNumber": sequence(bounds[0] if bounds else 1)}
    if not enabled:
        numbers["EndingSequenceNumber"] = sequence(bounds[1] if bounds else 1)
    shard = {"ShardId": shard_id(table, label), "SequenceNumberRange": numbers}
    start = params.get("ExclusiveStartShardId")
    view = (table.stream or {}).get("StreamViewType") or "KEYS_ONLY"
    description: dict[str, Any] = {
        "StreamArn": table.stream_arn,
        "StreamLabel": label,
        "StreamStatus": "ENABLED" if enabled else "DISABLED",
        "StreamViewType": view,
        "CreationRequestDateTime": datetime.strptime(label, "%Y-%m-%dT%H:%M:%S.%f").replace(
            tzinfo=UTC
        ),
        "TableName": table.name,
        "KeySchema": table.key_schema,
        "Shards": [] if start == shard["ShardId"] else [shard],
    }
    return {"StreamDescription": description}


def _iterator(table: TableInfo, label: str, position: int, now: float) -> str:
    token = json.dumps([table.table_id, label, position, now, table.account, table.region])
    return base64.urlsafe_b64encode(token.encode()).decode()


def _number(text: str | None, kind: str) -> int:
    if text is None:
        raise validation(f"Sequence number is required for ShardIteratorType {kind}")
    if not text.isdigit():
        raise validation(f"Invalid SequenceNumber provided: {text}")
    return int(text)


async def get_shard_iterator(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table, label = _stream_of(tables, ctx, params["StreamArn"])
    if params["ShardId"] != shard_id(table, label):
        raise not_found(f"Requested resource not found: Shard does not exist: {params['ShardId']}")
    kind = params["ShardIteratorType"]
    tid = table.table_id
    bounds = await tables.engine.read(lambda txn: txn.stream_bounds(tid, label))
    first, last = bounds if bounds is not None else (1, 0)
    if kind == "TRIM_HORIZON":
        position = first - 1
    elif kind == "LATEST":
        position = last
    elif kind == "AT_TIMESTAMP":
        stamp = params.get("Timestamp")
        if stamp is None:
            raise validation("Timestamp is required for ShardIteratorType AT_TIMESTAMP")
        moment = stamp.timestamp()
        position = await tables.engine.read(lambda txn: txn.stream_position(tid, label, moment))
    else:
        number = _number(params.get("SequenceNumber"), kind)
        if bounds is not None and number < first:
            raise streams_error(
                "TrimmedDataAccessException",
                "The operation attempted to read past the oldest stream record in a shard.",
            )
        position = number - 1 if kind == "AT_SEQUENCE_NUMBER" else number
    return {"ShardIterator": _iterator(table, label, position, tables.clock())}


def _decode_iterator(text: str) -> tuple[int, str, int, float, str, str]:
    try:
        tid, label, position, issued, account, region = json.loads(
            base64.urlsafe_b64decode(text.encode())
        )
        return int(tid), str(label), int(position), float(issued), str(account), str(region)
    except (ValueError, TypeError, binascii.Error):
        raise validation("Invalid ShardIterator") from None


async def get_records(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    tid, label, position, issued, account, region = _decode_iterator(params["ShardIterator"])
    now = tables.clock()
    if now - issued > _ITERATOR_LIFETIME:
        raise streams_error(
            "ExpiredIteratorException", "Iterator expired. The iterator was created at time "
            f"{datetime.fromtimestamp(issued, UTC).isoformat()} while right now it is "
            f"{datetime.fromtimestamp(now, UTC).isoformat()} which is further in the future "
            "than the tolerated delay of 900000 milliseconds.",
        )  # fmt: skip
    table = tables.catalog.by_id(tid)
    if (
        table is None
        or (account, region) != (ctx.account_id, ctx.region)
        or table.stream_label != label
    ):
        raise not_found("Requested resource not found: Stream does not exist")
    limit = params.get("Limit") or 1000

    def job(txn: ReadTxn) -> tuple[list[tuple[int, float, str]], tuple[int, int] | None]:
        return txn.stream_records(tid, label, position, limit), txn.stream_bounds(tid, label)

    rows, bounds = await tables.engine.read(job)
    if bounds is not None and position < bounds[0] - 1 and rows and rows[0][0] > position + 1:
        raise streams_error(
            "TrimmedDataAccessException",
            "The operation attempted to read past the oldest stream record in a shard.",
        )
    records = []
    for number, at, text in rows:
        record = decode_record(text)
        record["dynamodb"]["SequenceNumber"] = sequence(number)
        record["dynamodb"]["ApproximateCreationDateTime"] = datetime.fromtimestamp(int(at), UTC)
        records.append(record)
        position = number
    out: dict[str, Any] = {"Records": records}
    closed = table.stream_view is None
    if not (closed and (bounds is None or position >= bounds[1])):
        out["NextShardIterator"] = _iterator(table, label, position, now)
    return out


OPERATIONS = {
    "ListStreams": list_streams,
    "DescribeStream": describe_stream,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
}
