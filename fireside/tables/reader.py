"""DynamoDB Streams as an event source: a Lambda event-source mapping reading a stream.

Lambda's poller reads with the function's execution role, so it reads as the function's
account, through the Streams API's own operations (and their owner checks): DescribeStream
for the shards, GetShardIterator and GetRecords for the records.
"""

from __future__ import annotations

import uuid
from typing import Any

from fireside.aws.context import RequestContext
from fireside.tables import streams
from fireside.tables.service import Tables

__all__ = ["StreamReader"]


class StreamReader:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    @staticmethod
    def _ctx(account: str, region: str) -> RequestContext:
        return RequestContext(account, region, str(uuid.uuid4()), "", account)

    async def shards(self, account: str, region: str, arn: str) -> list[dict[str, Any]]:
        """Every shard of the stream (`ShardId`, `ParentShardId`, `SequenceNumberRange`)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"StreamArn": arn}
        while True:
            answer = await streams.describe_stream(self._tables, self._ctx(account, region), params)
            description = answer["StreamDescription"]
            found += description["Shards"]
            last = description.get("LastEvaluatedShardId")
            if last is None:
                return found
            params = {"StreamArn": arn, "ExclusiveStartShardId": last}

    def generation(self) -> int:
        """A mark to pass to `changed`: taken before reading, so no write is missed."""
        return self._tables.streams.generation

    async def changed(self, since: int, timeout: float) -> None:
        """Wait until a stream change committed after `since` (any table's), or `timeout`."""
        await self._tables.streams.changed(since, timeout)

    async def iterator(
        self, account: str, region: str, arn: str, shard: str, kind: str, number: str | None
    ) -> str:
        params: dict[str, Any] = {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind}
        if number is not None:
            params["SequenceNumber"] = number
        answer = await streams.get_shard_iterator(self._tables, self._ctx(account, region), params)
        return str(answer["ShardIterator"])

    async def latest(self, account: str, region: str, arn: str, shard: str) -> str:
        """The sequence number of the newest record in `shard` now (a checkpoint that starts
        a LATEST reader after it, surviving restarts)."""
        iterator = await self.iterator(account, region, arn, shard, "LATEST", None)
        return streams.sequence(streams.iterator_position(iterator))

    async def records(
        self, account: str, region: str, iterator: str, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` records from `iterator`, and the next iterator (None: the shard is
        closed and read to its end)."""
        answer = await streams.get_records(
            self._tables,
            self._ctx(account, region),
            {"ShardIterator": iterator, "Limit": min(limit, 1000)},
        )
        records: list[dict[str, Any]] = answer["Records"]
        return records, answer.get("NextShardIterator")
