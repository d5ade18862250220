"""The shards of a DynamoDB stream: opened with the stream, rolled over as it ages, closed when
the stream is disabled.

A stream's records carry the engine's sequence numbers, which every stream of the server
shares: one stream's numbers grow in commit order but skip the numbers other tables took. A
shard is therefore a range of numbers fixed when it opens, not a count of records: its
`StartingSequenceNumber` is a lower bound of every number appended after it opened
(`WriteTxn.next_sequence`), so an iterator taken on an empty shard (LATEST, TRIM_HORIZON or
AT_SEQUENCE_NUMBER of its start) reads the shard's first record whatever other streams
wrote meanwhile. A shard is closed at its last record's number (its `EndingSequenceNumber`),
and its child starts at the number of the record that rolled it over.

As on DynamoDB, an open shard is closed and a child opened once it is older than a few hours
(`Tables.shard_lifetime`, by default 4 hours; the roll-over happens at the stream's first write
after that, inside the write's transaction, so it is serialized like the records are). Shards
are stored (`stream_shards`), so their ids and ranges survive restarts.

Streams written before shards were stored (SQLite schema 2, or a PostgreSQL database without
`stream_shards`) get their one shard when the engine first opens the database (`backfill`).
A stream without shards is gone: every shard of a disabled stream is dropped 24 hours after
it closed, and then the stream is, as on DynamoDB.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fireside.tables.engine import ReadTxn, ShardRow, WriteTxn
from fireside.tables.schema import TableInfo

__all__ = [
    "SHARD_LIFETIME",
    "backfill",
    "close_stream",
    "open_stream",
    "roll_over",
    "shards_of",
]

#: How long a shard stays open before a write rolls it over (DynamoDB: about 4 hours).
SHARD_LIFETIME = 4 * 3600.0


def label_time(label: str) -> float:
    """The creation time a stream label spells (`2026-12-07T00:11:04.123`)."""
    return datetime.strptime(label, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def _shard_id(opened: float, suffix: int) -> str:
    # Ids sort in opening order, as DynamoDB's do (consumers page DescribeStream by them).
    return f"shardId-{int(opened * 1000):020d}-{suffix:08x}"


def first_shard_id(table: TableInfo, label: str) -> str:
    return _shard_id(label_time(label), table.table_id)


def open_stream(txn: WriteTxn, table: TableInfo, label: str, now: float) -> None:
    """Open a newly enabled stream's first shard."""
    shard = first_shard_id(table, label)
    view = str(table.stream_view)
    txn.open_shard(table.table_id, label, shard, None, view, txn.next_sequence(), now)


def close_stream(txn: WriteTxn, table: TableInfo, label: str, now: float) -> None:
    """Close the open shard of a stream being disabled."""
    tid = table.table_id
    shards = txn.stream_shards(tid, label)
    if not shards or shards[-1].end is not None:
        return
    current = shards[-1]
    last = txn.stream_last(tid, label, current.start - 1, None)
    # An empty shard ends where it starts: no record of this stream will be numbered inside it.
    txn.close_shard(tid, label, current.shard_id, current.start if last is None else last, now)


def roll_over(
    txn: WriteTxn, table: TableInfo, label: str, number: int, now: float, lifetime: float
) -> None:
    """Called after record `number` was appended: close the open shard at its last record and
    open its child from `number` when the shard has outlived `lifetime`."""
    tid = table.table_id
    shards = txn.stream_shards(tid, label)
    if not shards:  # cannot happen once backfilled; a record must still have a shard
        shard = first_shard_id(table, label)
        txn.open_shard(tid, label, shard, None, str(table.stream_view), number, now)
        return
    current = shards[-1]
    if current.end is not None or now - current.opened < lifetime:
        return
    last = txn.stream_last(tid, label, current.start - 1, number - 1)
    if last is None:  # nothing in it yet: an empty shard is not worth a child
        return
    txn.close_shard(tid, label, current.shard_id, last, now)
    child = _shard_id(now, number)
    txn.open_shard(tid, label, child, current.shard_id, current.view, number, now)


def backfill(txn: WriteTxn, now: float) -> int:
    """Give every stream stored without shards its one shard (from its first record, closed
    at its last if the stream is disabled); returns how many were given one."""
    count = 0
    for _, _, _, _, meta in txn.tables():
        table = TableInfo.from_json(meta)
        label = table.stream_label
        if label is None or txn.stream_shards(table.table_id, label):
            continue
        tid = table.table_id
        first = txn.stream_records(tid, label, 0, None, 1)
        start = first[0][0] if first else txn.next_sequence()
        # A disabled stream's table no longer names its view type; its records do.
        view = table.stream_view or (
            json.loads(first[0][2])["dynamodb"]["StreamViewType"] if first else "KEYS_ONLY"
        )
        shard = first_shard_id(table, label)
        txn.open_shard(tid, label, shard, None, view, start, label_time(label))
        if table.stream_view is None:
            txn.close_shard(tid, label, shard, txn.stream_last(tid, label, 0, None) or start, now)
        count += 1
    return count


def shards_of(txn: ReadTxn, table: TableInfo, label: str) -> list[ShardRow]:
    """A stream's shards, oldest first (ids in the same order); none once it is gone."""
    return txn.stream_shards(table.table_id, label)
