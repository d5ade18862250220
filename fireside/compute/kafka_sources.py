"""Where a Kafka event-source mapping's records come from, and what Lambda makes of them.

A mapping reads either an MSK cluster (its `EventSourceArn`; the cluster's bootstrap string
comes from `KafkaClusters`, the MSK directory, which answers only for the caller's own ACTIVE
cluster: accounts are walls) or any Kafka named by `SelfManagedEventSource`'s
`KAFKA_BOOTSTRAP_SERVERS` (Fireside's own broker, or an external cluster). Both are read over
the Kafka wire by the same poller (`fireside.compute.kafka_mapping`).

Also here: the `aws:kafka` / `SelfManagedKafka` records as Lambda delivers them (keyed
`<topic>-<partition>`, key and value base64, headers as arrays of byte integers), the view
FilterCriteria patterns see (`value` parsed as JSON when it is JSON), and the `KafkaBatchInfo`
record of a batch given up, for the OnFailure destination.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from fireside.compute.destinations import timestamp
from fireside.compute.mappings import EventSourceMapping

__all__ = [
    "KafkaClusters",
    "NoClusters",
    "failure_record",
    "filter_view",
    "kafka_payload",
    "kafka_record",
]


class KafkaClusters(Protocol):
    """The MSK directory (`fireside.msk.directory`), as the mappings use it."""

    def bootstrap(self, account: str, region: str, cluster_arn: str) -> str | None:
        """'host:port,...' of the caller's own ACTIVE cluster, or None (unknown, another
        account's, not active)."""
        ...

    def uses_iam(self, account: str, region: str, cluster_arn: str) -> bool:
        """Whether the caller's own cluster has IAM client authentication (clients sign in
        with SASL/IAM)."""


class NoClusters:
    """The directory when no MSK control plane is wired in: every cluster is unknown."""

    def bootstrap(self, account: str, region: str, cluster_arn: str) -> str | None:
        return None

    def uses_iam(self, account: str, region: str, cluster_arn: str) -> bool:
        return False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def kafka_record(
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    timestamp_type: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
) -> dict[str, Any]:
    """One record of the event, as Lambda sends it."""
    record: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp_ms,
        "timestampType": "LOG_APPEND_TIME" if timestamp_type == 1 else "CREATE_TIME",
    }
    if key is not None:
        record["key"] = _b64(key)
    if value is not None:
        record["value"] = _b64(value)
    record["headers"] = [{name: list(data or b"")} for name, data in headers]
    return record


def kafka_payload(
    mapping: EventSourceMapping, bootstrap: str, records: Sequence[dict[str, Any]]
) -> bytes:
    """The event of one invocation: records grouped by `<topic>-<partition>`, in offset order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(f"{record['topic']}-{record['partition']}", []).append(record)
    event: dict[str, Any] = {"eventSource": mapping.kafka_event_source}
    if not mapping.self_managed:
        event["eventSourceArn"] = mapping.source_arn
    event["bootstrapServers"] = bootstrap
    event["records"] = grouped
    return json.dumps(event).encode("utf-8")


def filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What a FilterCriteria pattern sees: `value` decoded, and parsed when it is JSON (a
    pattern on `value` fields matches only JSON values, as Lambda's does)."""
    if "value" not in record:
        return record
    text = base64.b64decode(record["value"]).decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return {**record, "value": parsed}


def failure_record(
    mapping: EventSourceMapping,
    bootstrap: str,
    batch: Sequence[dict[str, Any]],
    payload_size: int,
    condition: str,
    attempts: int,
    error: str | None,
) -> dict[str, Any]:
    """What Lambda sends the OnFailure destination for a Kafka batch it gave up."""
    info: dict[str, dict[str, Any]] = {}
    for record in batch:
        name = f"{record['topic']}-{record['partition']}"
        entry = info.setdefault(
            name,
            {
                "firstRecordOffset": str(record["offset"]),
                "firstRecordTimestamp": str(record["timestamp"]),
            },
        )
        entry["lastRecordOffset"] = str(record["offset"])
        entry["lastRecordTimestamp"] = str(record["timestamp"])
    result: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping.function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "version": "1.0",
        "timestamp": timestamp(),
        "KafkaBatchInfo": {
            "batchSize": len(batch),
            "bootstrapServers": bootstrap,
            "payloadSize": payload_size,
            "recordsInfo": info,
        },
    }
    if error is not None:
        result["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": error,
        }
    return result
