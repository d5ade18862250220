"""What a DynamoDB stream mapping reads and sends: the stream it reads (`StreamSource`), the
`aws:dynamodb` records as Lambda delivers them, and the `DDBStreamBatchInfo` record of a
batch given up, for the OnFailure destination."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from fireside.compute.destinations import timestamp
from fireside.compute.mappings import EventSourceMapping
from fireside.compute.stream_windows import iso_seconds

__all__ = [
    "StreamSource",
    "failure_record",
    "position_at_latest",
    "record_number",
    "stream_record",
]


class StreamSource(Protocol):
    """What a poller needs of DynamoDB Streams (`fireside.tables.reader.StreamReader`)."""

    async def shards(self, account: str, region: str, arn: str) -> list[dict[str, Any]]: ...

    def generation(self) -> int: ...

    async def changed(self, since: int, timeout: float) -> None: ...

    async def iterator(
        self, account: str, region: str, arn: str, shard: str, kind: str, number: str | None
    ) -> str: ...

    async def latest(self, account: str, region: str, arn: str, shard: str) -> str: ...

    async def records(
        self, account: str, region: str, iterator: str, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]: ...


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def stream_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """An `aws:dynamodb` record as Lambda sends it: the stream record, JSON-ready, with the
    stream's ARN."""
    plain: dict[str, Any] = json.loads(json.dumps(record, default=_plain))
    plain["eventSourceARN"] = arn
    return plain


def record_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def failure_record(
    mapping: EventSourceMapping,
    shard_id: str,
    batch: list[dict[str, Any]],
    condition: str,
    attempts: int,
    error: str | None,
) -> dict[str, Any]:
    """What Lambda sends the OnFailure destination for records it gave up."""
    first = batch[0]["dynamodb"].get("ApproximateCreationDateTime", 0)
    last = batch[-1]["dynamodb"].get("ApproximateCreationDateTime", 0)
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping.function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "version": "1.0",
        "timestamp": timestamp(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": record_number(batch[0]),
            "endSequenceNumber": record_number(batch[-1]),
            "approximateArrivalOfFirstRecord": iso_seconds(first),
            "approximateArrivalOfLastRecord": iso_seconds(last),
            "batchSize": len(batch),
            "streamArn": mapping.source_arn,
        },
    }
    if error is not None:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": error,
        }
    return record


async def position_at_latest(
    source: StreamSource, mapping: EventSourceMapping, shards: list[dict[str, Any]]
) -> None:
    """Resolve LATEST into checkpoints (done when the mapping is created, so that it starts
    from that moment, and kept across restarts): closed shards count as read, open ones
    start after their newest record."""
    for shard in shards:
        if "EndingSequenceNumber" in shard["SequenceNumberRange"]:
            mapping.finished.append(shard["ShardId"])
        else:
            mapping.checkpoints[shard["ShardId"]] = await source.latest(
                mapping.account, mapping.region, mapping.source_arn, shard["ShardId"]
            )
    mapping.positioned = True
