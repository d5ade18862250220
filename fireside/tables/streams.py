"""The DynamoDB Streams API: ListStreams, DescribeStream, GetShardIterator, GetRecords.

Each stream (a table's StreamLabel) is a lineage of shards (`streamshards.py`): one open while
the stream is enabled, its closed ancestors before it; disabling the stream closes the open one
(it gets an EndingSequenceNumber); re-enabling makes a new stream, and the old one stays
readable until its shards are dropped, 24 hours after it closed. Records are numbered in
commit order, so a consumer reading a shard and then its child sees every item's changes in
the order they were committed. Records are kept 24 hours (trimmed by the TTL sweep, `ttl.py`).

A shard iterator is a position in one shard: the number of the last record it has passed. It
is a self-contained token (valid for 15 minutes, as on DynamoDB) after the stream's ARN, as
DynamoDB spells its iterators (`<stream arn>|1|<token>`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError, validation_error
from fireside.tables.engine import ReadTxn, ShardRow
from fireside.tables.errors import not_found, streams_error, validation
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables
from fireside.tables.streamlog import decode_record
from fireside.tables.streamshards import label_time, shards_of

__all__ = ["OPERATIONS", "iterator_position", "sequence"]

_ITERATOR_LIFETIME = 15 * 60.0
_DIGITS = 21
_BY_NUMBER = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
_STREAM_ARN = re.compile(
    r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}"
    r"/stream/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}"
)


def sequence(number: int) -> str:
    """A sequence number as DynamoDB spells them: digits, ordered as strings too."""
    return f"{number:0{_DIGITS}d}"


def _trimmed() -> ServiceError:
    return streams_error(
        "TrimmedDataAccessException",
        "The operation attempted to read past the oldest stream record in a shard.",
    )


def _limit(params: dict[str, Any], most: int, default: int) -> int:
    limit = params.get("Limit")
    if limit is None:
        return default
    if limit > most:  # the model says only "at least 1"; the service caps it
        raise validation_error(
            [
                f"Value '{limit}' at 'limit' failed to satisfy constraint: "
                f"Member must have value less than or equal to {most}"
            ]
        )
    return int(limit)


def _check_arn(arn: str) -> None:
    if _STREAM_ARN.fullmatch(arn) is None:
        raise validation("Invalid StreamArn")


def _stream_gone(arn: str | None) -> ServiceError:
    return not_found(f"Requested resource not found: Stream: {arn} not found")


def _stream_of(tables: Tables, ctx: RequestContext, arn: str) -> tuple[TableInfo, str]:
    """The table and label an ARN names. Any of the table's streams that still has shards
    exists (its latest, and earlier ones disabled less than 24 hours ago): the callers look
    at the shards, and answer ResourceNotFoundException when there are none."""
    _check_arn(arn)
    table_arn, _, label = arn.partition("/stream/")
    name = table_arn.rpartition(":table/")[2]
    table = tables.catalog.get(ctx.account_id, ctx.region, name)
    if table is None or table.arn != table_arn:
        raise _stream_gone(arn)
    return table, label


def _enabled(table: TableInfo, label: str) -> bool:
    return table.stream_label == label and table.stream_view is not None


async def list_streams(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    wanted = params.get("TableName")
    limit = _limit(params, 100, 100)
    if wanted is not None and tables.catalog.get(ctx.account_id, ctx.region, wanted) is None:
        raise not_found(f"Requested resource not found: Table: {wanted} not found")
    start = params.get("ExclusiveStartStreamArn")
    if start is not None:
        _check_arn(start)
    # Every stream with shards: a table's latest, and earlier ones until their shards are
    # dropped, 24 hours after they closed.
    labels = await tables.engine.read(lambda txn: txn.stream_labels())
    streams = []
    for tid, label in labels:
        table = tables.catalog.by_id(tid)
        if (
            table is None or table.account != ctx.account_id or table.region != ctx.region
            or (wanted is not None and table.name != wanted)
        ):  # fmt: skip
            continue
        arn = f"{table.arn}/stream/{label}"
        # In ARN order, and a page starts after the last ARN given, so streams created or
        # deleted between pages never make one repeat or go missing.
        if start is None or arn > start:
            streams.append({"StreamArn": arn, "TableName": table.name, "StreamLabel": label})
    streams.sort(key=lambda s: s["StreamArn"])
    out: dict[str, Any] = {"Streams": streams[:limit]}
    if len(streams) > limit:
        out["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
    return out


def _describe_shard(shard: ShardRow) -> dict[str, Any]:
    numbers = {"StartingSequenceNumber": sequence(shard.start)}
    if shard.end is not None:
        numbers["EndingSequenceNumber"] = sequence(shard.end)
    out: dict[str, Any] = {"ShardId": shard.shard_id, "SequenceNumberRange": numbers}
    if shard.parent is not None:
        out["ParentShardId"] = shard.parent
    return out


async def describe_stream(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table, label = _stream_of(tables, ctx, params["StreamArn"])
    limit = _limit(params, 100, 100)
    shards = await tables.engine.read(lambda txn: shards_of(txn, table, label))
    if not shards:
        raise _stream_gone(params["StreamArn"])
    view = shards[0].view
    shards = sorted(shards, key=lambda s: s.shard_id)
    start = params.get("ExclusiveStartShardId")
    if start is not None:
        shards = [s for s in shards if s.shard_id > start]
    wanted = params.get("ShardFilter")
    if wanted is not None:  # CHILD_SHARDS, the only type: the shards opened from this one
        shards = [s for s in shards if s.parent is not None and s.parent == wanted.get("ShardId")]
    description: dict[str, Any] = {
        "StreamArn": params["StreamArn"],
        "StreamLabel": label,
        "StreamStatus": "ENABLED" if _enabled(table, label) else "DISABLED",
        "StreamViewType": view,
        "CreationRequestDateTime": datetime.fromtimestamp(label_time(label), UTC),
        "TableName": table.name,
        "KeySchema": table.key_schema,
        "Shards": [_describe_shard(s) for s in shards[:limit]],
    }
    if len(shards) > limit:
        description["LastEvaluatedShardId"] = shards[limit - 1].shard_id
    return {"StreamDescription": description}


def _iterator(table: TableInfo, label: str, shard: str, position: int, now: float) -> str:
    token = json.dumps([table.table_id, label, shard, position, now, table.account, table.region])
    arn = f"{table.arn}/stream/{label}"
    return f"{arn}|1|{base64.urlsafe_b64encode(token.encode()).decode()}"


def _number(text: str | None, kind: str) -> int | None:
    """The SequenceNumber given, checked against the iterator type."""
    if kind not in _BY_NUMBER:
        if text is not None:
            raise validation(f"Sequence number should not be specified for {kind} iterator type")
        return None
    if text is None:
        raise validation(f"Sequence number must be specified for {kind} iterator type")
    if not text.isdigit() or not text.isascii():
        raise validation(f"Invalid SequenceNumber provided: {text}")
    return int(text)


def _position(
    txn: ReadTxn, table: TableInfo, label: str, shard: ShardRow, params: dict[str, Any]
) -> int:
    """Where an iterator of the requested type starts: the number of the last record it
    has passed (the records it reads are numbered above it)."""
    kind = params["ShardIteratorType"]
    number = _number(params.get("SequenceNumber"), kind)
    tid = table.table_id
    horizon = max(shard.start - 1, shard.trimmed)  # before the oldest record still kept
    if kind == "TRIM_HORIZON":
        return horizon
    if kind == "LATEST":
        if shard.end is not None:
            return shard.end
        last = txn.stream_last(tid, label, horizon, None)
        return horizon if last is None else last
    if kind == "AT_TIMESTAMP":
        stamp = params.get("Timestamp")
        if stamp is None:
            raise validation("Timestamp must be specified for AT_TIMESTAMP iterator type")
        found = txn.stream_position(tid, label, stamp.timestamp())
        return max(horizon, found if shard.end is None else min(found, shard.end))
    assert number is not None
    # Numbers this shard cannot hold: before its start, after its end, or not issued yet
    # (its start is always valid, as on DynamoDB, even before its first record).
    last = shard.end if shard.end is not None else max(shard.start, txn.next_sequence() - 1)
    if number < shard.start or number > last:
        raise validation(
            f"Invalid SequenceNumber provided for shard {shard.shard_id}: "
            f"{params['SequenceNumber']}"
        )
    position = number - 1 if kind == "AT_SEQUENCE_NUMBER" else number
    if position < shard.trimmed:
        raise _trimmed()
    return position


async def get_shard_iterator(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    _check_arn(params["StreamArn"])
    _number(params.get("SequenceNumber"), params["ShardIteratorType"])
    table, label = _stream_of(tables, ctx, params["StreamArn"])
    wanted = params["ShardId"]

    def job(txn: ReadTxn) -> tuple[ShardRow, int] | None:
        shards = shards_of(txn, table, label)
        if not shards:
            raise _stream_gone(params["StreamArn"])
        shard = next((s for s in shards if s.shard_id == wanted), None)
        return None if shard is None else (shard, _position(txn, table, label, shard, params))

    found = await tables.engine.read(job)
    if found is None:
        raise not_found(f"Requested resource not found: Shard does not exist: {wanted}")
    shard, position = found
    return {"ShardIterator": _iterator(table, label, shard.shard_id, position, tables.clock())}


def _decode_iterator(text: str) -> tuple[int, str, str, int, float, str, str]:
    try:
        tid, label, shard, position, issued, account, region = json.loads(
            base64.urlsafe_b64decode(text.rpartition("|")[2].encode())
        )
        return (
            int(tid), str(label), str(shard), int(position), float(issued), str(account),
            str(region),
        )  # fmt: skip
    except (ValueError, TypeError, binascii.Error):
        raise validation("Invalid ShardIterator") from None


def iterator_position(text: str) -> int:
    """The number of the last record an iterator has passed (for Lambda's checkpoints)."""
    return _decode_iterator(text)[3]


async def get_records(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    tid, label, wanted, position, issued, account, region = _decode_iterator(
        params["ShardIterator"]
    )
    limit = _limit(params, 1000, 1000)
    now = tables.clock()
    if now - issued > _ITERATOR_LIFETIME:
        raise streams_error(
            "ExpiredIteratorException", "Iterator expired. The iterator was created at time "
            f"{datetime.fromtimestamp(issued, UTC).isoformat()} while right now it is "
            f"{datetime.fromtimestamp(now, UTC).isoformat()} which is further in the future "
            "than the tolerated delay of 900000 milliseconds.",
        )  # fmt: skip
    table = tables.catalog.by_id(tid)
    stream_gone = not_found("Requested resource not found: Stream does not exist")
    if table is None or (account, region) != (ctx.account_id, ctx.region):
        raise stream_gone

    def job(txn: ReadTxn) -> tuple[ShardRow | None, list[tuple[int, float, str]]]:
        shards = shards_of(txn, table, label)
        if not shards:
            raise stream_gone
        shard = next((s for s in shards if s.shard_id == wanted), None)
        if shard is None or position < shard.trimmed:
            return shard, []
        return shard, txn.stream_records(tid, label, position, shard.end, limit)

    shard, rows = await tables.engine.read(job)
    if shard is None:
        raise not_found(f"Requested resource not found: Shard does not exist: {wanted}")
    if position < shard.trimmed:
        raise _trimmed()
    records = []
    for number, at, text in rows:
        record = decode_record(text)
        record["dynamodb"]["SequenceNumber"] = sequence(number)
        record["dynamodb"]["ApproximateCreationDateTime"] = datetime.fromtimestamp(int(at), UTC)
        records.append(record)
        position = number
    out: dict[str, Any] = {"Records": records}
    # A closed shard read to its end has no next iterator: the reader moves on to its child.
    exhausted = shard.end is not None and (len(rows) < limit or position >= shard.end)
    if not exhausted:
        out["NextShardIterator"] = _iterator(table, label, shard.shard_id, position, now)
    return out


OPERATIONS = {
    "ListStreams": list_streams,
    "DescribeStream": describe_stream,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
}
