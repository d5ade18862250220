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

- ParallelizationFactor N: a read takes up to N batches of a shard at once and splits them
  into N lanes by the hash of each record's key, run concurrently; each lane keeps its
  records in order, so each item's changes still arrive in order. The shard's checkpoint
  moves once every lane is done (a partial ReportBatchItemFailures answer retries within its
  lane, and does not move the checkpoint past the other lanes' records).
- TumblingWindowInSeconds: `fireside.compute.stream_windows` (one lane: the window's state
  is one sequence).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Callable
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.compute.mappings import EventSourceMapping
from fireside.compute.polling import backoff, poll_forever
from fireside.compute.sqs_mapping import Invoke
from fireside.compute.stream_records import (
    StreamSource,
    failure_record,
    position_at_latest,
    record_number,
    stream_record,
)
from fireside.compute.stream_windows import (
    MAX_STATE,
    answered_state,
    state_size,
    window_payload,
    window_start,
)
from fireside.patterns import Pattern, compile_pattern

__all__ = ["SendFailure", "StreamPoller"]

log = logging.getLogger(__name__)

IDLE_POLL = 0.05
#: How long a stream keeps a record: what MaximumRecordAgeInSeconds -1 means.
RECORD_LIFETIME = 86_400
SHARD_REFRESH = 5.0


#: Stores the mapping (its checkpoints) durably.
Save = Callable[[EventSourceMapping], None]
#: Sends an on-failure record to the mapping's destination.
SendFailure = Callable[[EventSourceMapping, dict[str, Any]], None]


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
        self._seen = 0  # the source's generation when the last poll began

    async def run(self) -> None:
        await poll_forever(self.mapping, self.poll_once, self._wait_for_records)

    async def _wait_for_records(self) -> None:
        """Until a record is added after the last poll began, or IDLE_POLL has passed (records
        another node adds wake no one here: the next poll finds them)."""
        await self._source.changed(self._seen, IDLE_POLL)

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
        self._seen = self._source.generation()  # a record added from here on ends the wait
        m = self.mapping
        shards = await self._refresh()
        await self._position(shards)
        known = {s["ShardId"] for s in shards}
        if shards and any(shard not in known for shard in m.finished):
            # Shards trimmed from the stream (after 24 hours) need no memory of being read.
            m.finished = [shard for shard in m.finished if shard in known]
            self._save(m)
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
        limit = m.batch_size * self._lanes
        while iterator is not None and len(batch) < limit:
            records, iterator = await self._source.records(
                m.account, m.region, iterator, limit - len(batch)
            )
            batch += records
            if not batch or time.monotonic() >= deadline:
                break
            if not records:
                await asyncio.sleep(min(IDLE_POLL, max(0.0, deadline - time.monotonic())))
        if batch:
            await self._handle(shard_id, batch)
        caught_up = len(batch) < limit
        window = m.windows.get(shard_id)
        if caught_up and window is not None:
            ended = window["start"] + m.tumbling_window <= time.time()
            if ended or iterator is None:
                await self._close_window(shard_id)
        if iterator is None and caught_up:  # closed, and read to its end
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
        self.mapping.checkpoints[shard_id] = record_number(record)
        self._save(self.mapping)

    @property
    def _lanes(self) -> int:
        return 1 if self.mapping.tumbling_window else max(1, self.mapping.parallelization)

    async def _handle(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        m = self.mapping
        plain = [stream_record(r, m.source_arn) for r in batch]
        if m.tumbling_window:
            await self._handle_windows(shard_id, plain)
            return
        matching = self._matching(plain)
        if self._lanes == 1:
            await self._run_lane(shard_id, matching, checkpoint=True)
        else:
            lanes: list[list[dict[str, Any]]] = [[] for _ in range(self._lanes)]
            for record in matching:
                key = json.dumps(record["dynamodb"].get("Keys"), sort_keys=True)
                lanes[zlib.crc32(key.encode()) % len(lanes)].append(record)
            async with asyncio.TaskGroup() as group:
                for lane in lanes:
                    if lane:
                        group.create_task(self._run_lane(shard_id, lane, checkpoint=False))
        self._done(shard_id, batch[-1])

    async def _run_lane(
        self, shard_id: str, records: list[dict[str, Any]], *, checkpoint: bool
    ) -> None:
        """Deliver `records` in order, a batch at a time; `checkpoint`: the lane is the whole
        shard, so a partial success may move the shard's checkpoint."""
        size = self.mapping.batch_size
        pending = [records[i : i + size] for i in range(0, len(records), size)]
        while pending:
            await self._deliver(shard_id, pending.pop(0), pending, checkpoint=checkpoint)

    async def _handle_windows(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """A windowed batch: each window's records in one sequence of invocations, the last
        window closed (its final invocation) before the next one's first."""
        m = self.mapping
        while records:
            start = window_start(records[0], m.tumbling_window)
            count = 1
            while count < len(records) and (
                window_start(records[count], m.tumbling_window) == start
            ):
                count += 1
            group, records = records[:count], records[count:]
            window = m.windows.get(shard_id)
            if window is not None and window["start"] != start:
                await self._close_window(shard_id)
            if shard_id not in m.windows:
                m.windows[shard_id] = {"start": start, "state": {}}
            matching = self._matching(group)
            if matching:
                await self._run_lane(shard_id, matching, checkpoint=True)
            self._done(shard_id, group[-1])

    async def _close_window(self, shard_id: str, early: bool = False) -> None:
        """The window's final invocation, retried until it succeeds (the shard waits)."""
        m = self.mapping
        window = m.windows[shard_id]
        payload = window_payload(
            [],
            shard_id=shard_id,
            source_arn=m.source_arn,
            start=window["start"],
            seconds=m.tumbling_window,
            state=window["state"],
            final=True,
            early=early,
        )
        failures = 0
        while True:
            try:
                _, error = await self._invoke(m, payload)
            except ServiceError as failure:
                error = failure.code
            if error is None:
                break
            failures += 1
            m.last_result = "PROBLEM: Function call failed"
            await asyncio.sleep(backoff(failures, 8))
        if early:
            window["state"] = {}
        else:
            del m.windows[shard_id]
        self._save(m)

    def _payload(self, shard_id: str, batch: list[dict[str, Any]]) -> bytes:
        m = self.mapping
        if not m.tumbling_window:
            return json.dumps({"Records": batch}).encode("utf-8")
        window = m.windows[shard_id]
        return window_payload(
            batch,
            shard_id=shard_id,
            source_arn=m.source_arn,
            start=window["start"],
            seconds=m.tumbling_window,
            state=window["state"],
        )

    async def _deliver(
        self,
        shard_id: str,
        batch: list[dict[str, Any]],
        pending: list[list[dict[str, Any]]],
        *,
        checkpoint: bool,
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
            payload = self._payload(shard_id, batch)
            try:
                answer, error = await self._invoke(m, payload)
            except ServiceError as failure:  # not run (throttled, not ready): not counted
                throttles += 1
                m.last_result = f"PROBLEM: {failure.code}"
                await asyncio.sleep(backoff(throttles, 4))
                continue
            attempts += 1
            if error is None and m.tumbling_window:
                error = await self._keep_state(shard_id, answer)
            if error is None:
                failed = self._first_failure(answer, batch)
                if failed is None:
                    m.last_result = "OK"
                    return
                if failed > 0:
                    if checkpoint:
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
            await asyncio.sleep(backoff(attempts, 8))

    async def _keep_state(self, shard_id: str, answer: bytes) -> str | None:
        """Take the window state a function answered; an error when it answered none."""
        state = answered_state(answer)
        if state is None:
            return "The function's response did not contain a state"
        self.mapping.windows[shard_id]["state"] = state
        if state_size(state) > MAX_STATE:
            await self._close_window(shard_id, early=True)
        return None

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
        numbers = [record_number(r) for r in batch]
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
        if m.on_failure is not None:
            self._send_failure(m, failure_record(m, shard_id, batch, condition, attempts, error))
