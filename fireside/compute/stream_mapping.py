"""The poller of a DynamoDB Streams event-source mapping: batches in order per shard,
checkpoints, retries, bisection and the on-failure destination.

As Lambda does it ("Using Lambda with DynamoDB"):

- Shards are read in lineage order: a child only after its parent has been read to its end,
  so each item's changes reach the function in the order they were committed. A batch is up
  to BatchSize records (one GetRecords, or more within MaximumBatchingWindowInSeconds).
- A batch is retried until it succeeds, its retries (MaximumRetryAttempts) or its oldest
  record's age (MaximumRecordAgeInSeconds) run out: then a record of it (`DDBStreamBatchInfo`)
  goes to the OnFailure destination and the shard moves past it. -1 means until the record
  expires from the stream (24 hours). With BisectBatchOnFunctionError a failed batch is
  split in two and each half retried on its own. Throttles and other failures to run are
  retried without counting.
- With ReportBatchItemFailures the function names the first record that failed
  (`batchItemFailures[].itemIdentifier`, its sequence number); the records before it are
  done, and the batch is retried from it.
- The checkpoint (the last record handled, per shard) is stored with the mapping after each
  batch, so a restart, or a `kill -9`, resumes after it: a batch is delivered at least once,
  and never skipped. LATEST is resolved into checkpoints once, when the mapping is created.
- FilterCriteria patterns apply to each record (`eventName`, `dynamodb.NewImage`, ...);
  records matching none are passed over as handled.

ParallelizationFactor is stored and reported but batches of one shard run one at a time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from fireside.aws.errors import ServiceError
from fireside.compute.destinations import timestamp
from fireside.compute.mappings import EventSourceMapping
from fireside.compute.sqs_mapping import Invoke
from fireside.patterns import Pattern, compile_pattern

__all__ = ["StreamPoller", "StreamSource"]

log = logging.getLogger(__name__)

IDLE_POLL = 0.05
#: How long a stream keeps a record: what MaximumRecordAgeInSeconds -1 means.
RECORD_LIFETIME = 86_400
SHARD_REFRESH = 5.0
_BACKOFF_MAX = 30.0


class StreamSource(Protocol):
    """What a poller needs of DynamoDB Streams (`fireside.tables.reader.StreamReader`)."""

    async def shards(self, account: str, region: str, arn: str) -> list[dict[str, Any]]: ...

    async def iterator(
        self, account: str, region: str, arn: str, shard: str, kind: str, number: str | None
    ) -> str: ...

    async def latest(self, account: str, region: str, arn: str, shard: str) -> str: ...

    async def records(
        self, account: str, region: str, iterator: str, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]: ...


#: Stores the mapping (its checkpoints) durably.
Save = Callable[[EventSourceMapping], None]
#: Sends an on-failure record to the mapping's destination.
SendFailure = Callable[[EventSourceMapping, dict[str, Any]], None]


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


def _number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


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


class StreamPoller:
    def __init__(
        self,
        mapping: EventSourceMapping,
        source: StreamSource,
        invoke: Invoke,
        save: Save,
        send_failure: SendFailure,
    ) -> None:
        self.mapping = mapping
        self._source = source
        self._invoke = invoke
        self._save = save
        self._send_failure = send_failure
        self._filters: list[Pattern] = [compile_pattern(p) for p in mapping.filters]
        self._shards: list[dict[str, Any]] = []
        self._shards_at = 0.0

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                progressed = await self.poll_once()
                failures = 0
                if not progressed:
                    await asyncio.sleep(IDLE_POLL)
            except ServiceError as error:
                failures += 1
                self.mapping.last_result = f"PROBLEM: {error.code}: {error.message}"
                log.warning(
                    "event-source mapping %s: %s: %s", self.mapping.uuid, error.code, error.message
                )
                await asyncio.sleep(min(2.0 ** min(failures, 8) / 4, _BACKOFF_MAX))
            except Exception:
                failures += 1
                log.exception("event-source mapping %s: poll failed", self.mapping.uuid)
                await asyncio.sleep(min(2.0 ** min(failures, 8) / 4, _BACKOFF_MAX))

    async def _refresh(self, force: bool = False) -> list[dict[str, Any]]:
        now = time.monotonic()
        if force or not self._shards or now - self._shards_at > SHARD_REFRESH:
            m = self.mapping
            self._shards = await self._source.shards(m.account, m.region, m.source_arn)
            self._shards_at = now
        return self._shards

    async def _position(self, shards: list[dict[str, Any]]) -> None:
        m = self.mapping
        if not m.positioned:
            if m.starting_position == "LATEST":
                await position_at_latest(self._source, m, shards)
            m.positioned = True
            self._save(m)

    async def poll_once(self) -> bool:
        """Read each ready shard once; False when nothing new came."""
        m = self.mapping
        shards = await self._refresh()
        await self._position(shards)
        known = {s["ShardId"] for s in shards}
        progressed = False
        for shard in sorted(shards, key=lambda s: s["ShardId"]):
            shard_id = shard["ShardId"]
            parent = shard.get("ParentShardId")
            if shard_id in m.finished or (parent in known and parent not in m.finished):
                continue
            progressed |= await self._read(shard)
        return progressed

    async def _read(self, shard: dict[str, Any]) -> bool:
        m = self.mapping
        shard_id = shard["ShardId"]
        start = shard["SequenceNumberRange"]["StartingSequenceNumber"]
        checkpoint = m.checkpoints.get(shard_id)
        if checkpoint is not None and checkpoint >= start:
            kind, number = "AFTER_SEQUENCE_NUMBER", checkpoint
        else:
            kind, number = "TRIM_HORIZON", None
        iterator: str | None = await self._source.iterator(
            m.account, m.region, m.source_arn, shard_id, kind, number
        )
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + m.window
        while iterator is not None and len(batch) < m.batch_size:
            records, iterator = await self._source.records(
                m.account, m.region, iterator, m.batch_size - len(batch)
            )
            batch += records
            if not batch or time.monotonic() >= deadline:
                break
            if not records:
                await asyncio.sleep(min(IDLE_POLL, max(0.0, deadline - time.monotonic())))
        if batch:
            await self._handle(shard_id, batch)
        if iterator is None and len(batch) < m.batch_size:  # closed, and read to its end
            m.finished.append(shard_id)
            m.checkpoints.pop(shard_id, None)
            self._save(m)
            await self._refresh(force=True)  # its children are ready now
            return True
        return bool(batch)

    def _matching(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._filters:
            return batch
        return [r for r in batch if any(f.matches(r) for f in self._filters)]

    def _done(self, shard_id: str, record: dict[str, Any]) -> None:
        self.mapping.checkpoints[shard_id] = _number(record)
        self._save(self.mapping)

    async def _handle(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        m = self.mapping
        plain = [stream_record(r, m.source_arn) for r in batch]
        matching = self._matching(plain)
        if not matching:
            self._done(shard_id, batch[-1])
            return
        pending = [matching]
        while pending:
            await self._deliver(shard_id, pending.pop(0), pending)
        self._done(shard_id, batch[-1])

    async def _deliver(
        self, shard_id: str, batch: list[dict[str, Any]], pending: list[list[dict[str, Any]]]
    ) -> None:
        """Run `batch` until it succeeds, is given up (to the on-failure destination), or is
        bisected (its halves put at the front of `pending`)."""
        m = self.mapping
        attempts = 0
        throttles = 0
        while True:
            oldest = batch[0]["dynamodb"].get("ApproximateCreationDateTime", time.time())
            if time.time() - float(oldest) > (m.max_age if m.max_age >= 0 else RECORD_LIFETIME):
                self._give_up(shard_id, batch, "RecordAgeExceeded", attempts, None)
                return
            payload = json.dumps({"Records": batch}).encode("utf-8")
            try:
                answer, error = await self._invoke(m, payload)
            except ServiceError as failure:  # not run (throttled, not ready): not counted
                throttles += 1
                m.last_result = f"PROBLEM: {failure.code}"
                await asyncio.sleep(min(2.0 ** min(throttles, 8) / 4, _BACKOFF_MAX))
                continue
            attempts += 1
            if error is None:
                failed = self._first_failure(answer, batch)
                if failed is None:
                    m.last_result = "OK"
                    return
                if failed > 0:
                    self._done(shard_id, batch[failed - 1])
                    batch = batch[failed:]
            else:
                m.last_result = "PROBLEM: Function call failed"
            if m.max_retries >= 0 and attempts > m.max_retries:
                self._give_up(shard_id, batch, "RetryAttemptsExhausted", attempts, error)
                return
            if error is not None and m.bisect and len(batch) > 1:
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
                return
            await asyncio.sleep(min(2.0 ** min(attempts, 8) / 8, _BACKOFF_MAX))

    def _first_failure(self, answer: bytes, batch: list[dict[str, Any]]) -> int | None:
        """Where ReportBatchItemFailures says the batch failed (None: it did not)."""
        if "ReportBatchItemFailures" not in self.mapping.response_types:
            return None
        try:
            parsed = json.loads(answer or b"null")
        except ValueError:
            return 0
        failures = parsed.get("batchItemFailures") if isinstance(parsed, dict) else None
        if not failures:
            return None
        numbers = [_number(r) for r in batch]
        found = []
        for failure in failures:
            item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if item not in numbers:
                return 0  # an answer that names no record of the batch fails all of it
            found.append(numbers.index(item))
        return min(found)

    def _give_up(
        self,
        shard_id: str,
        batch: list[dict[str, Any]],
        condition: str,
        attempts: int,
        error: str | None,
    ) -> None:
        m = self.mapping
        log.warning(
            "event-source mapping %s: %d record(s) of %s given up (%s)",
            m.uuid,
            len(batch),
            shard_id,
            condition,
        )
        if m.on_failure is None:
            return
        first = batch[0]["dynamodb"].get("ApproximateCreationDateTime", 0)
        last = batch[-1]["dynamodb"].get("ApproximateCreationDateTime", 0)
        record: dict[str, Any] = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": m.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "version": "1.0",
            "timestamp": timestamp(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": _number(batch[0]),
                "endSequenceNumber": _number(batch[-1]),
                "approximateArrivalOfFirstRecord": datetime.fromtimestamp(first, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "approximateArrivalOfLastRecord": datetime.fromtimestamp(last, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "batchSize": len(batch),
                "streamArn": m.source_arn,
            },
        }
        if error is not None:
            record["responseContext"] = {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": error,
            }
        self._send_failure(m, record)
