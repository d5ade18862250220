"""Lambda event-source mappings: what each one is, and where they are kept.

A mapping ties an event source (an SQS queue today) to a function: a poller
(`fireside.compute.sqs_mapping`) reads batches from the source as the function's account and
invokes the function with them. Mappings are rows of the metadata store's
`event_source_mappings` table behind an in-memory map, written before each answer; the
pollers (`fireside.compute.mapping_runner`) follow them.

States, as AWS reports them: a new mapping is `Creating`, then `Enabled` once its poller
runs; an update is `Updating` (or `Enabling` / `Disabling`) until the poller follows it, then
`Enabled` or `Disabled`; a deleted one answers `Deleting` and is gone when its poller stops.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from fireside.store.database import Database

__all__ = ["EventSourceMapping", "MappingStore"]

#: What AWS reports before a mapping has processed anything.
NO_RECORDS = "No records processed"


@dataclass(slots=True)
class EventSourceMapping:
    uuid: str
    account: str
    region: str
    function: str
    #: The version or alias named in FunctionName (None: the unqualified function).
    qualifier: str | None
    source_arn: str
    batch_size: int
    window: int
    enabled: bool
    state: str
    last_modified: float
    reason: str = "USER_INITIATED"
    #: FilterCriteria's patterns, as given (JSON texts).
    filters: list[str] = field(default_factory=list)
    response_types: list[str] = field(default_factory=list)
    #: ScalingConfig's MaximumConcurrency (None: not set).
    max_concurrency: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    last_result: str = NO_RECORDS
    # -- stream sources (DynamoDB Streams) --
    #: TRIM_HORIZON or LATEST (None: a queue).
    starting_position: str | None = None
    #: MaximumRetryAttempts and MaximumRecordAgeInSeconds (-1: until the record expires).
    max_retries: int = -1
    max_age: int = -1
    bisect: bool = False
    parallelization: int = 1
    #: TumblingWindowInSeconds (0: none).
    tumbling_window: int = 0
    #: Shard id -> its open tumbling window: {"start": epoch seconds, "state": {...}}.
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: DestinationConfig's OnFailure destination (an SQS queue, SNS topic or S3 bucket).
    on_failure: str | None = None
    #: Shard id -> the sequence number of the last record handled (the checkpoint).
    checkpoints: dict[str, str] = field(default_factory=dict)
    #: Shards read to their end.
    finished: list[str] = field(default_factory=list)
    #: Whether LATEST has been resolved into checkpoints (done once, when polling starts).
    positioned: bool = False
    # -- Kafka sources (MSK or self-managed) --
    #: Topics (exactly one; empty: not a Kafka source).
    topics: list[str] = field(default_factory=list)
    #: SelfManagedEventSource's KAFKA_BOOTSTRAP_SERVERS (empty: an MSK cluster's ARN).
    self_managed: list[str] = field(default_factory=list)
    #: The consumer group (ConsumerGroupId, else the mapping's UUID).
    group_id: str = ""
    #: StartingPositionTimestamp, with AT_TIMESTAMP (epoch seconds).
    position_timestamp: float | None = None
    #: Whether MaximumBatchingWindowInSeconds was set (Kafka's 500 ms default is then gone).
    window_set: bool = False

    @property
    def is_kafka(self) -> bool:
        return bool(self.topics)

    @property
    def is_stream(self) -> bool:
        return self.starting_position is not None and not self.topics

    @property
    def kafka_event_source(self) -> str:
        return "SelfManagedKafka" if self.self_managed else "aws:kafka"

    @property
    def batching_window(self) -> float:
        """The batching window in seconds (Kafka's default: 500 ms until one is set)."""
        return 0.5 if self.is_kafka and not self.window_set else float(self.window)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:event-source-mapping:{self.uuid}"

    @property
    def function_arn(self) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}"
        return f"{arn}:{self.qualifier}" if self.qualifier else arn

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.window,
            "EventSourceArn": self.source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": self.state,
            "StateTransitionReason": self.reason,
            "FunctionResponseTypes": list(self.response_types),
            "EventSourceMappingArn": self.arn,
        }
        if self.filters:
            wire["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in self.filters]}
        if self.max_concurrency is not None:
            wire["ScalingConfig"] = {"MaximumConcurrency": self.max_concurrency}
        if self.is_kafka:
            wire.update(self._kafka_wire())
            if self.self_managed:  # no ARN: the bootstrap servers name the source
                del wire["EventSourceArn"]
        if self.is_stream:
            wire.update(
                {
                    "StartingPosition": self.starting_position,
                    "ParallelizationFactor": self.parallelization,
                    "MaximumRecordAgeInSeconds": self.max_age,
                    "BisectBatchOnFunctionError": self.bisect,
                    "MaximumRetryAttempts": self.max_retries,
                    "TumblingWindowInSeconds": self.tumbling_window,
                    "DestinationConfig": {
                        "OnFailure": {"Destination": self.on_failure} if self.on_failure else {}
                    },
                    "LastProcessingResult": self.last_result,
                }
            )
        return wire

    def _kafka_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "StartingPosition": self.starting_position,
            "Topics": list(self.topics),
            "LastProcessingResult": self.last_result,
        }
        if self.position_timestamp is not None:
            wire["StartingPositionTimestamp"] = self.position_timestamp
        config = {"ConsumerGroupId": self.group_id}
        if self.self_managed:
            wire["SelfManagedEventSource"] = {
                "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": list(self.self_managed)}
            }
            wire["SelfManagedKafkaEventSourceConfig"] = config
        else:
            wire["AmazonManagedKafkaEventSourceConfig"] = config
        if self.max_retries != -1:
            wire["MaximumRetryAttempts"] = self.max_retries
        if self.max_age != -1:
            wire["MaximumRecordAgeInSeconds"] = self.max_age
        if self.bisect:
            wire["BisectBatchOnFunctionError"] = True
        if self.on_failure:
            wire["DestinationConfig"] = {"OnFailure": {"Destination": self.on_failure}}
        return wire


class MappingStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._mappings: dict[str, EventSourceMapping] = {}
        for (record,) in db.query("SELECT record FROM event_source_mappings"):
            mapping = EventSourceMapping(**json.loads(str(record)))
            self._mappings[mapping.uuid] = mapping

    def get(self, uuid: str) -> EventSourceMapping | None:
        return self._mappings.get(uuid)

    def all(self) -> list[EventSourceMapping]:
        return list(self._mappings.values())

    def put(self, mapping: EventSourceMapping) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO event_source_mappings (uuid, account, region, record) "
                "VALUES (?, ?, ?, ?)",
                (
                    mapping.uuid,
                    mapping.account,
                    mapping.region,
                    json.dumps(dataclasses.asdict(mapping)),
                ),
            )
        self._mappings[mapping.uuid] = mapping

    def delete(self, uuid: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,))
        self._mappings.pop(uuid, None)
