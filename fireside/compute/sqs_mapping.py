"""The poller of an SQS event-source mapping: batches from a queue, invokes, deletes.

As Lambda does it ("Using Lambda with Amazon SQS"):

- Several pollers per mapping (5, or ScalingConfig's MaximumConcurrency when lower) each
  long-poll the queue as the function's account. With a batching window of 0 a poller
  invokes with what one receive returned; otherwise it keeps receiving until the batch is
  full (BatchSize), the window has passed, or the batch reached 6 MB.
- The function is invoked synchronously with `{"Records": [...]}` (the `aws:sqs` records).
  On success the batch's messages are deleted; on a function error, a throttle or any other
  failure none are, so each returns to the queue when its visibility timeout ends and the
  queue's redrive policy (maxReceiveCount) decides when it goes to the dead-letter queue.
- With `ReportBatchItemFailures`, the function's `batchItemFailures` names the messages to
  keep; the others are deleted. An answer that does not parse, or names a message that was
  not in the batch, fails the whole batch, as AWS treats it.
- Messages that match none of the FilterCriteria patterns are deleted without an invoke.
  A pattern sees the record with `body` parsed when the body is JSON.

A message is deleted only after its invoke succeeded, so a `kill -9` at any point leaves it
in the queue (visible again after its timeout): delivery is at least once, and FIFO order
per message group holds because the queue gives a group nothing while one of its messages
is in flight.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fireside.compute.mappings import EventSourceMapping
from fireside.compute.polling import poll_forever
from fireside.patterns import Pattern, compile_pattern

__all__ = ["Invoke", "QueueSource", "SqsPoller", "sqs_record"]

MAX_BATCH_BYTES = 6 * 1024 * 1024
DEFAULT_POLLERS = 5
MAX_POLLERS = 64

#: Runs the mapping's function on a payload: (answer, function error or None); raises
#: ServiceError when it could not run (throttled, not found, ...).
Invoke = Callable[[EventSourceMapping, bytes], Awaitable[tuple[bytes, str | None]]]


class QueueSource(Protocol):
    """What a poller needs of SQS (`fireside.sqs.reader.QueueReader`)."""

    async def receive(
        self, account: str, region: str, arn: str, count: int, wait: int
    ) -> list[dict[str, Any]]: ...

    async def delete(self, account: str, region: str, arn: str, handles: list[str]) -> None: ...


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"stringListValues": [], "binaryListValues": []}
    if "StringValue" in value:
        record["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        record["binaryValue"] = base64.b64encode(bytes(value["BinaryValue"])).decode("ascii")
    record["dataType"] = value.get("DataType", "String")
    return record


def sqs_record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    """One `aws:sqs` record, as Lambda builds it from a received message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": region})
    return record


def _filter_view(record: dict[str, Any]) -> dict[str, Any]:
    body = record["body"]
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body
    return {**record, "body": parsed}


def failed_ids(answer: bytes, batch: list[dict[str, Any]]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures answer keeps (None: the answer is invalid,
    so the whole batch failed). An empty or null answer, or an empty list, is success."""
    text = answer.strip()
    if text in (b"", b"null"):
        return set()
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if parsed is None:
        return set()
    if not isinstance(parsed, dict):
        return None
    failures = parsed.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids = {record["messageId"] for record in batch}
    kept: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in ids:
            return None
        kept.add(item)
    return kept


async def _next_turn() -> None:
    """An empty poll has waited already (receives long-poll): only let other tasks run."""
    await asyncio.sleep(0)


class SqsPoller:
    """The pollers of one enabled SQS mapping (cancel `run` to stop them)."""

    def __init__(self, mapping: EventSourceMapping, source: QueueSource, invoke: Invoke) -> None:
        self.mapping = mapping
        self._source = source
        self._invoke = invoke
        self._filters: list[Pattern] = [compile_pattern(p) for p in mapping.filters]

    @property
    def pollers(self) -> int:
        """ScalingConfig's MaximumConcurrency (at most MAX_POLLERS), else DEFAULT_POLLERS:
        the 5 Lambda starts with (it scales further under a backlog; Fireside does not)."""
        return max(1, min(self.mapping.max_concurrency or DEFAULT_POLLERS, MAX_POLLERS))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self.pollers):
                group.create_task(poll_forever(self.mapping, self.poll_once, _next_turn))

    async def _gather(self) -> list[dict[str, Any]]:
        mapping = self.mapping
        if mapping.window == 0:
            return await self._source.receive(
                mapping.account, mapping.region, mapping.source_arn, min(mapping.batch_size, 10), 20
            )
        batch: list[dict[str, Any]] = []
        size = 0
        deadline: float | None = None
        while len(batch) < mapping.batch_size and size < MAX_BATCH_BYTES:
            if deadline is None:
                wait = 20
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = max(0, min(20, int(left)))
            found = await self._source.receive(
                mapping.account,
                mapping.region,
                mapping.source_arn,
                min(10, mapping.batch_size - len(batch)),
                wait,
            )
            if found and deadline is None:  # the window opens with the first message
                deadline = time.monotonic() + mapping.window
            batch += found
            size += sum(len(m["Body"].encode("utf-8")) for m in found)
            if not found and deadline is not None and wait == 0:
                await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return batch

    async def poll_once(self) -> bool:
        """Receive one batch and deal with it; False when nothing came."""
        mapping = self.mapping
        messages = await self._gather()
        if not messages:
            return False
        records = [sqs_record(m, mapping.source_arn, mapping.region) for m in messages]
        if self._filters:
            matching = [
                r for r in records if any(f.matches(_filter_view(r)) for f in self._filters)
            ]
            dropped = [r["receiptHandle"] for r in records if r not in matching]
            if dropped:
                await self._delete(dropped)
            records = matching
            if not records:
                return True
        payload = json.dumps({"Records": records}).encode("utf-8")
        answer, function_error = await self._invoke(mapping, payload)
        if function_error is not None:
            mapping.last_result = "PROBLEM: Function call failed"
            return True
        keep: set[str] | None = set()
        if "ReportBatchItemFailures" in mapping.response_types:
            keep = failed_ids(answer, records)
        if keep is None:
            mapping.last_result = "PROBLEM: Function call failed"
            return True
        await self._delete([r["receiptHandle"] for r in records if r["messageId"] not in keep])
        mapping.last_result = "OK"
        return True

    async def _delete(self, handles: list[str]) -> None:
        mapping = self.mapping
        await self._source.delete(mapping.account, mapping.region, mapping.source_arn, handles)
