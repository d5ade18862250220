"""The poller of a Kafka event-source mapping (MSK or self-managed): a real Kafka consumer over
the wire, so Fireside's own broker, an MSK cluster of Fireside's, or an external cluster
(Tansu, Kafka) are read the same way.

As Lambda does it ("Using Lambda with Amazon MSK", "Kafka retry configurations"):

- The mapping's consumer group (ConsumerGroupId, else the mapping's UUID) holds its position.
  The poller (aiokafka) is assigned every partition of the topic and commits the group's
  offsets itself (standalone commits: no rebalance protocol, so a restarted server resumes at
  once instead of waiting out a dead member's session). A partition with no committed offset
  starts at StartingPosition (TRIM_HORIZON, LATEST, AT_TIMESTAMP), resolved and committed
  when the poller first starts, so LATEST survives a restart.
- A batch is flushed when BatchSize records are in, the batching window (opened by the first
  record; Kafka's default 500 ms) has passed, or the payload reached 6 MB. One invocation may
  carry several partitions, each in offset order.
- Offsets are committed only after the function succeeded: a failure, a throttle or a
  `kill -9` mid-batch leaves the group where it was, and the batch is delivered again.
- A failed batch is retried whole (the mapping waits on it) until it succeeds, or
  MaximumRetryAttempts / MaximumRecordAgeInSeconds run out (-1: forever); then its
  `KafkaBatchInfo` goes to the OnFailure destination and the group moves past it.
  BisectBatchOnFunctionError splits a failed batch and retries each half.
- FilterCriteria patterns see each record with `value` parsed as JSON; records matching none
  are committed without an invoke.
- On an MSK cluster with IAM client authentication the poller signs in with SASL/OAUTHBEARER as
  its own account (`fireside.compute.kafka_iam`); a refusal is reported as AWS does
  (LastProcessingResult "PROBLEM: SASL authentication failed.", StateTransitionReason
  EVENT_SOURCE_AUTHN_ERROR) and retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed
from aiokafka.structs import OffsetAndMetadata

from fireside.aws.errors import ServiceError
from fireside.compute.kafka_iam import MappingTokens
from fireside.compute.kafka_sources import (
    KafkaClusters,
    failure_record,
    filter_view,
    kafka_payload,
    kafka_record,
)
from fireside.compute.mappings import EventSourceMapping
from fireside.compute.polling import backoff
from fireside.compute.sqs_mapping import MAX_BATCH_BYTES, Invoke
from fireside.patterns import Pattern, compile_pattern

__all__ = ["KafkaPoller"]

log = logging.getLogger(__name__)

#: How long one fetch waits for records (the window is checked between fetches).
FETCH_WAIT = 0.05
#: What MaximumRecordAgeInSeconds -1 means (Kafka keeps records 7 days by default).
RECORD_LIFETIME = 7 * 86_400
TOPIC_REFRESH = 5.0

SendFailure = Callable[[EventSourceMapping, dict[str, Any]], None]
#: AWS's words for a mapping whose SASL sign-in the cluster refused.
AUTH_FAILED = "PROBLEM: SASL authentication failed."
AUTHN_ERROR = "EVENT_SOURCE_AUTHN_ERROR"


class MappingCredentials:
    """Temporary keys of a mapping's account (a session of its function's role): `issue`
    gives one, or None when the function is gone; `revoke` withdraws it."""

    def __init__(
        self,
        issue: Callable[[EventSourceMapping], tuple[str, str, str] | None],
        revoke: Callable[[str], None],
    ) -> None:
        self.issue = issue
        self.revoke = revoke


class KafkaPoller:
    def __init__(
        self,
        mapping: EventSourceMapping,
        clusters: KafkaClusters,
        invoke: Invoke,
        send_failure: SendFailure,
        credentials: MappingCredentials | None = None,
    ) -> None:
        self.mapping = mapping
        self._credentials = credentials
        self._clusters = clusters
        self._invoke = invoke
        self._send_failure = send_failure
        self._filters: list[Pattern] = [compile_pattern(p) for p in mapping.filters]
        self._bootstrap = ""

    def _resolve(self) -> str | None:
        m = self.mapping
        if m.self_managed:
            return ",".join(m.self_managed)
        return self._clusters.bootstrap(m.account, m.region, m.source_arn)

    def _tokens(self) -> MappingTokens | None:
        """The SASL/IAM sign-in, when the mapping's MSK cluster requires it."""
        m = self.mapping
        if m.self_managed or not self._clusters.uses_iam(m.account, m.region, m.source_arn):
            return None
        credentials = self._credentials
        if credentials is None:
            return MappingTokens(lambda: None, lambda key: None, m.region)
        return MappingTokens(lambda: credentials.issue(m), credentials.revoke, m.region)

    async def run(self) -> None:
        tokens: list[MappingTokens] = []
        try:
            await self._run(tokens)
        finally:
            for provider in tokens:
                provider.close()

    async def _run(self, issued: list[MappingTokens]) -> None:
        failures = 0
        while True:
            bootstrap = self._resolve()
            if bootstrap is None:
                self.mapping.last_result = "PROBLEM: Cluster not found or not active"
            else:
                self._bootstrap = bootstrap
                tokens = self._tokens()
                sasl: dict[str, Any] = {}
                if tokens is not None:
                    if not issued:
                        issued.append(tokens)
                    tokens = issued[0]
                    sasl = {
                        "security_protocol": "SASL_PLAINTEXT",
                        "sasl_mechanism": "OAUTHBEARER",
                        "sasl_oauth_token_provider": tokens,
                    }
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=bootstrap,
                    group_id=self.mapping.group_id,
                    client_id=f"lambda-{self.mapping.uuid}",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    fetch_max_wait_ms=int(FETCH_WAIT * 1000),
                    metadata_max_age_ms=int(TOPIC_REFRESH * 1000),
                    max_partition_fetch_bytes=MAX_BATCH_BYTES,
                    fetch_max_bytes=MAX_BATCH_BYTES,
                    **sasl,
                )
                try:
                    await consumer.start()
                    failures = 0  # connected: a later loss backs off from the start again
                    if self.mapping.reason == AUTHN_ERROR:
                        self.mapping.reason = "USER_INITIATED"
                    await self._consume(consumer)
                except (asyncio.CancelledError, KeyboardInterrupt):
                    raise
                except Exception as error:  # the cluster went away, a bug: start again
                    self.mapping.last_result = f"PROBLEM: {type(error).__name__}: {error}"
                    if tokens is not None and await self._refused(bootstrap, tokens):
                        self.mapping.last_result = AUTH_FAILED
                        self.mapping.reason = AUTHN_ERROR
                    log.warning("kafka event-source mapping %s: %r", self.mapping.uuid, error)
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(consumer.stop())
            failures += 1
            await asyncio.sleep(backoff(failures, 8))

    async def _refused(self, bootstrap: str, tokens: MappingTokens) -> bool:
        """Whether the cluster refuses this mapping's sign-in (aiokafka's bootstrap error
        does not say why it could not connect; one more connection does)."""
        host, _, port = bootstrap.split(",")[0].rpartition(":")
        try:
            conn = await create_conn(
                host,
                int(port),
                client_id=f"lambda-{self.mapping.uuid}",
                request_timeout_ms=10_000,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="OAUTHBEARER",
                sasl_oauth_token_provider=tokens,
            )
        except SaslAuthenticationFailed as refused:
            log.warning("kafka event-source mapping %s: %s", self.mapping.uuid, refused)
            return True
        except (KafkaError, OSError):  # PermissionError, TimeoutError are OSErrors
            return False
        conn.close()
        return False

    async def _assign(self, consumer: Any) -> list[Any]:
        """Every partition of the topic, positioned at the group's offsets (or the starting
        position, committed at once when the group has none)."""
        m = self.mapping
        topic = m.topics[0]
        while True:
            cluster = await consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(topic)
            if partitions:
                break
            m.last_result = f"PROBLEM: Topic not found: {topic}"
            await asyncio.sleep(1.0)
        parts = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(parts)
        fresh = [tp for tp in parts if await consumer.committed(tp) is None]
        if fresh:
            if m.starting_position == "LATEST":
                start = await consumer.end_offsets(fresh)
            else:
                start = await consumer.beginning_offsets(fresh)
                if m.starting_position == "AT_TIMESTAMP" and m.position_timestamp is not None:
                    at = int(m.position_timestamp * 1000)
                    found = await consumer.offsets_for_times(dict.fromkeys(fresh, at))
                    ends = await consumer.end_offsets(fresh)
                    start = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in fresh}
            await consumer.commit({tp: OffsetAndMetadata(start[tp], "") for tp in fresh})
        for tp in parts:
            committed = await consumer.committed(tp)
            consumer.seek(tp, committed)
        return parts

    async def _consume(self, consumer: Any) -> None:
        parts = await self._assign(consumer)
        checked = time.monotonic()
        while True:
            if time.monotonic() - checked > TOPIC_REFRESH:
                cluster = await consumer._client.fetch_all_metadata()
                if len(cluster.partitions_for_topic(self.mapping.topics[0]) or ()) != len(parts):
                    parts = await self._assign(consumer)  # partitions were added
                checked = time.monotonic()
            batch = await self._gather(consumer)
            if batch:
                await self._handle(consumer, batch)

    async def _gather(self, consumer: Any) -> list[dict[str, Any]]:
        m = self.mapping
        batch: list[dict[str, Any]] = []
        size = 0
        deadline: float | None = None
        while len(batch) < m.batch_size and size < MAX_BATCH_BYTES:
            wait = FETCH_WAIT if deadline is None else max(0.0, deadline - time.monotonic())
            if deadline is not None and wait <= 0:
                break
            found = await consumer.getmany(
                timeout_ms=int(min(wait, 1.0) * 1000), max_records=m.batch_size - len(batch)
            )
            for tp in sorted(found, key=lambda t: t.partition):
                for r in found[tp]:
                    record = kafka_record(
                        r.topic,
                        r.partition,
                        r.offset,
                        r.timestamp,
                        r.timestamp_type,
                        r.key,
                        r.value,
                        list(r.headers or ()),
                    )
                    batch.append(record)
                    size += len(r.value or b"") * 4 // 3 + len(r.key or b"") * 4 // 3 + 200
            if batch and deadline is None:
                deadline = time.monotonic() + m.batching_window
            if not batch:
                return batch  # nothing yet: the caller comes back (and checks partitions)
        return batch

    async def _commit(self, consumer: Any, batch: list[dict[str, Any]]) -> None:
        ends: dict[Any, int] = {}
        for record in batch:
            tp = TopicPartition(record["topic"], record["partition"])
            ends[tp] = max(ends.get(tp, 0), record["offset"] + 1)
        await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})

    async def _handle(self, consumer: Any, batch: list[dict[str, Any]]) -> None:
        matching = batch
        if self._filters:
            matching = [r for r in batch if any(f.matches(filter_view(r)) for f in self._filters)]
        pending = [matching] if matching else []
        while pending:
            await self._deliver(pending.pop(0), pending)
        await self._commit(consumer, batch)

    async def _deliver(
        self, batch: list[dict[str, Any]], pending: list[list[dict[str, Any]]]
    ) -> None:
        """Run `batch` until it succeeds, is given up (to the on-failure destination), or is
        bisected (its halves put at the front of `pending`)."""
        m = self.mapping
        attempts = 0
        throttles = 0
        while True:
            payload = kafka_payload(m, self._bootstrap, batch)
            stamps = [r["timestamp"] for r in batch if r["timestamp"] > 0]  # -1: none given
            oldest = min(stamps) / 1000 if stamps else time.time()
            if time.time() - oldest > (m.max_age if m.max_age >= 0 else RECORD_LIFETIME):
                self._give_up(batch, len(payload), "RecordAgeExceeded", attempts, None)
                return
            try:
                _, error = await self._invoke(m, payload)
            except ServiceError as failure:  # not run (throttled, not ready): not counted
                throttles += 1
                m.last_result = f"PROBLEM: {failure.code}"
                await asyncio.sleep(backoff(throttles, 4))
                continue
            attempts += 1
            if error is None:
                m.last_result = "OK"
                return
            m.last_result = "PROBLEM: Function call failed"
            if m.max_retries >= 0 and attempts > m.max_retries:
                self._give_up(batch, len(payload), "RetryAttemptsExhausted", attempts, error)
                return
            if m.bisect and len(batch) > 1:
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
                return
            await asyncio.sleep(backoff(attempts, 8))

    def _give_up(
        self,
        batch: list[dict[str, Any]],
        payload_size: int,
        condition: str,
        attempts: int,
        error: str | None,
    ) -> None:
        m = self.mapping
        log.warning(
            "kafka event-source mapping %s: %d record(s) given up (%s)",
            m.uuid,
            len(batch),
            condition,
        )
        if m.on_failure is not None:
            self._send_failure(
                m,
                failure_record(m, self._bootstrap, batch, payload_size, condition, attempts, error),
            )
