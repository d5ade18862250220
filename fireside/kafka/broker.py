"""The broker's data plane as a Python API: topics, partitions, produce, fetch, offsets.

The wire handlers (`fireside.kafka.handlers`) are one client of this API; the Kafka event-source
mappings will be another, reading partitions and committing group offsets in-process without a
socket. Everything here runs on the event loop; fsyncs and SQLite writes go to threads.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from fireside.kafka.errors import Err
from fireside.kafka.log import AppendResult, LogConfig, PartitionLog
from fireside.kafka.records import BatchError, parse_batches
from fireside.kafka.store import Committed, KafkaStore, TopicRow

__all__ = ["Broker", "BrokerConfig", "FetchResult", "Topic", "topic_name_error"]

_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
MAX_PARTITIONS = 1000
#: Topic configs we honour (others are accepted, stored and reported, not acted on).
_LOG_CONFIGS = {
    "retention.ms": "retention_ms",
    "retention.bytes": "retention_bytes",
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
}


@dataclass(slots=True)
class BrokerConfig:
    node_id: int = 1
    host: str = "127.0.0.1"
    port: int = 9092
    cluster_id: str = "fireside-kafka"
    auto_create_topics: bool = True
    default_partitions: int = 1
    #: Kafka's message.max.bytes: the largest record batch a Produce may carry.
    max_message_bytes: int = 1_048_588
    #: Partitions across all topics (each holds open files): a bound on what clients can create.
    max_partitions: int = 4096
    log: LogConfig = field(default_factory=LogConfig)
    retention_check_interval: float = 30.0


@dataclass(slots=True)
class Topic:
    name: str
    topic_id: str
    configs: dict[str, str]
    logs: list[PartitionLog]


@dataclass(slots=True)
class FetchResult:
    error: Err
    records: bytes = b""
    high_watermark: int = -1
    log_start_offset: int = -1


def topic_name_error(name: str) -> str | None:
    if name in (".", "..") or not _TOPIC_NAME.match(name):
        return (
            f"Topic name {name!r} is illegal, it contains a character other than ASCII "
            "alphanumerics, '.', '_' and '-'"
            if name not in (".", "..")
            else f"Topic name cannot be {name!r}"
        )
    return None


class Broker:
    def __init__(self, directory: Path, config: BrokerConfig) -> None:
        self.directory = directory
        self.config = config
        directory.mkdir(parents=True, exist_ok=True)
        self.store = KafkaStore(directory / "kafka.sqlite")
        self.topics: dict[str, Topic] = {}
        self._creating: dict[str, asyncio.Future[Err]] = {}
        rows = self.store.topics()
        for row in rows:
            self.topics[row.name] = self._open_topic(row)
        known = {row.topic_id for row in rows}
        for stray in (directory / "logs").glob("*"):  # left by a delete a crash interrupted
            if stray.name not in known:
                shutil.rmtree(stray, ignore_errors=True)

    def _log_config(self, configs: dict[str, str]) -> LogConfig:
        base = self.config.log
        out = LogConfig(
            base.segment_bytes, base.segment_ms, base.retention_ms, base.retention_bytes
        )
        for key, attr in _LOG_CONFIGS.items():
            if key in configs:
                setattr(out, attr, int(configs[key]))
        return out

    def _open_topic(self, row: TopicRow) -> Topic:
        config = self._log_config(row.configs)
        root = self.directory / "logs" / row.topic_id
        logs = [PartitionLog(root / str(p), config) for p in range(row.partitions)]
        return Topic(row.name, row.topic_id, row.configs, logs)

    # ---- topics -----------------------------------------------------------------------------

    def validate_topic(
        self, name: str, partitions: int, configs: dict[str, str]
    ) -> tuple[Err, str | None]:
        if (message := topic_name_error(name)) is not None:
            return Err.INVALID_TOPIC_EXCEPTION, message
        if name in self.topics or name in self._creating:
            return Err.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists."
        if not 1 <= partitions <= MAX_PARTITIONS:
            return Err.INVALID_PARTITIONS, "Number of partitions must be larger than 0."
        existing = sum(len(t.logs) for t in self.topics.values())
        if existing + partitions > self.config.max_partitions:
            return Err.POLICY_VIOLATION, (
                f"The broker holds {existing} partitions; {partitions} more would exceed "
                f"its limit of {self.config.max_partitions}"
            )
        for key in _LOG_CONFIGS:
            if key in configs:
                try:
                    int(configs[key])
                except ValueError:
                    return Err.INVALID_CONFIG, f"Invalid value {configs[key]} for {key}"
        return Err.NONE, None

    async def create_topic(
        self, name: str, partitions: int | None = None, configs: dict[str, str] | None = None
    ) -> tuple[Err, str | None]:
        """Create a topic durably; (error, message)."""
        partitions = self.config.default_partitions if partitions in (None, -1) else partitions
        assert partitions is not None
        configs = dict(configs or {})
        error, message = self.validate_topic(name, partitions, configs)
        if error:
            return error, message
        done: asyncio.Future[Err] = asyncio.get_running_loop().create_future()
        self._creating[name] = done
        try:
            row = await self.store.put_topic(name, partitions, configs)
            self.topics[name] = await asyncio.to_thread(self._open_topic, row)
        finally:
            del self._creating[name]
            done.set_result(Err.NONE)
        return Err.NONE, None

    async def add_partitions(
        self, name: str, count: int, *, validate_only: bool = False
    ) -> tuple[Err, str | None]:
        """Grow `name` to `count` partitions (CreatePartitions); partitions never shrink."""
        topic = self.topics.get(name)
        if topic is None:
            return Err.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{name}' does not exist."
        current = len(topic.logs)
        if count <= current:
            return Err.INVALID_PARTITIONS, (
                f"Topic currently has {current} partitions, which is higher than the requested {count}."
                if count < current
                else f"Topic already has {current} partitions."
            )
        total = sum(len(t.logs) for t in self.topics.values())
        if count > MAX_PARTITIONS or total + count - current > self.config.max_partitions:
            return Err.INVALID_PARTITIONS, f"{count} partitions exceed the broker's limit"
        if validate_only:
            return Err.NONE, None
        await self.store.set_partitions(name, count)
        root, config = self.directory / "logs" / topic.topic_id, topic.logs[0].config
        for p in range(current, count):
            topic.logs.append(await asyncio.to_thread(PartitionLog, root / str(p), config))
        return Err.NONE, None

    async def ensure_topic(self, name: str) -> Topic | None:
        """The topic, created with defaults when auto-creation is on; None otherwise."""
        if name in self.topics:
            return self.topics[name]
        if name in self._creating:
            await asyncio.shield(self._creating[name])
            return self.topics.get(name)
        if not self.config.auto_create_topics or topic_name_error(name):
            return None
        await self.create_topic(name)
        return self.topics.get(name)

    async def delete_topic(self, name: str) -> Err:
        topic = self.topics.pop(name, None)
        if topic is None:
            return Err.UNKNOWN_TOPIC_OR_PARTITION
        await self.store.delete_topic(name)
        for log in topic.logs:
            log.close()
        await asyncio.to_thread(
            shutil.rmtree, self.directory / "logs" / topic.topic_id, ignore_errors=True
        )
        return Err.NONE

    def partition(self, topic: str, partition: int) -> PartitionLog | None:
        found = self.topics.get(topic)
        if found is None or not 0 <= partition < len(found.logs):
            return None
        return found.logs[partition]

    # ---- produce / fetch --------------------------------------------------------------------

    def append(self, topic: str, partition: int, records: bytes | None) -> AppendResult:
        """Append a Produce record set (not yet durable: await `sync` on the log)."""
        log = self.partition(topic, partition)
        if log is None:
            return AppendResult(Err.UNKNOWN_TOPIC_OR_PARTITION)
        if not records:
            return AppendResult(Err.CORRUPT_MESSAGE)
        if len(records) > self.config.max_message_bytes:
            return AppendResult(Err.MESSAGE_TOO_LARGE)
        try:
            batches = parse_batches(records, self.config.max_message_bytes)
        except BatchError as exc:
            return AppendResult(Err.CORRUPT_MESSAGE if exc.corrupt else Err.INVALID_RECORD)
        return log.append(records, batches)

    async def produce(self, topic: str, partition: int, records: bytes) -> AppendResult:
        """Append and make durable: the in-process form of a Produce with acks=all."""
        result = self.append(topic, partition, records)
        log = self.partition(topic, partition)
        if result.error == Err.NONE and log is not None:
            await log.sync()
        return result

    def read(self, topic: str, partition: int, offset: int, max_bytes: int) -> FetchResult:
        log = self.partition(topic, partition)
        if log is None:
            return FetchResult(Err.UNKNOWN_TOPIC_OR_PARTITION)
        error, data = log.read(offset, max_bytes)
        return FetchResult(error, data, log.end_offset, log.log_start_offset)

    async def wait_for_append(self, logs: list[PartitionLog], timeout: float) -> None:
        """Return at the first append to any of `logs`, or after `timeout` seconds."""
        if timeout <= 0 or not logs:
            return
        futures = [log.changed() for log in logs]
        try:
            await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in futures:
                future.cancel()

    def list_offset(self, topic: str, partition: int, timestamp: int) -> tuple[Err, int, int]:
        """(error, offset, timestamp) for -1 latest, -2 earliest, or a timestamp."""
        log = self.partition(topic, partition)
        if log is None:
            return Err.UNKNOWN_TOPIC_OR_PARTITION, -1, -1
        if timestamp == -1:
            return Err.NONE, log.end_offset, -1
        if timestamp == -2:
            return Err.NONE, log.log_start_offset, -1
        offset, found = log.offset_for_timestamp(timestamp)
        return Err.NONE, offset, found

    # ---- committed offsets ------------------------------------------------------------------

    async def commit_offsets(self, group: str, offsets: dict[tuple[str, int], Committed]) -> None:
        await self.store.commit(group, offsets)

    def committed_offsets(self, group: str) -> dict[tuple[str, int], Committed]:
        return self.store.committed(group)

    # ---- housekeeping -----------------------------------------------------------------------

    def enforce_retention(self) -> int:
        now = int(time.time() * 1000)
        return sum(log.enforce_retention(now) for t in self.topics.values() for log in t.logs)

    async def retain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.retention_check_interval)
            self.enforce_retention()

    def close(self) -> None:
        for topic in self.topics.values():
            for log in topic.logs:
                log.close()
        self.store.close()
