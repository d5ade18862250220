"""The Kafka parameters of CreateEventSourceMapping / UpdateEventSourceMapping, checked as
Lambda checks them for MSK and self-managed Kafka sources (`fireside.compute.mapping_api`
calls these; the poller is `fireside.compute.kafka_mapping`).

- The source: an MSK cluster ARN (`arn:aws:kafka:<region>:<account>:cluster/<name>/<id>`) that
  the MSK directory knows as the caller's own ACTIVE cluster (another account's is not found:
  accounts are walls), or `SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS`
  (1 to 10 `host:port`), never both.
- Topics: exactly one Kafka topic name. StartingPosition: TRIM_HORIZON, LATEST or AT_TIMESTAMP
  (with StartingPositionTimestamp, not in the future). BatchSize 1-10,000 (default 100).
  MaximumBatchingWindowInSeconds 0-300 (default 500 ms until set).
- ConsumerGroupId (Amazon/SelfManagedKafkaEventSourceConfig): default the mapping's UUID,
  immutable, unique among the Kafka mappings of the same source.
- Retries: MaximumRetryAttempts -1..10,000, MaximumRecordAgeInSeconds -1 or 60..604,800,
  BisectBatchOnFunctionError, DestinationConfig.OnFailure (SQS, SNS or S3).
- Refused, naming what is missing: stream- and queue-only parameters, SASL/mTLS access
  configurations, ReportBatchItemFailures, a Kafka topic as the on-failure destination.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.compute.destinations import destination as destination_of
from fireside.compute.errors import conflict, invalid
from fireside.compute.kafka_sources import KafkaClusters
from fireside.compute.mappings import EventSourceMapping

__all__ = ["check_kafka_conflicts", "is_kafka_request", "kafka_settings"]

_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:kafka:([a-z0-9-]+):(\d{12}):cluster/[^/]+/[^/]+$")
_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_GROUP = re.compile(r"^[ a-zA-Z0-9\-/*:_+=.@]{1,200}$")
_ENDPOINT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
#: Parameters Lambda takes for other sources only.
_NOT_KAFKA = ("ParallelizationFactor", "TumblingWindowInSeconds", "Queues", "ScalingConfig")
MAX_FUNCTION_TIMEOUT = 840  # Kafka mappings need a function timeout of at most 14 minutes


def is_kafka_request(params: dict[str, Any]) -> bool:
    arn = str(params.get("EventSourceArn") or "")
    return bool(params.get("SelfManagedEventSource")) or arn.split(":")[2:3] == ["kafka"]


def _servers(params: dict[str, Any]) -> list[str]:
    endpoints = (params["SelfManagedEventSource"].get("Endpoints") or {}).get(
        "KAFKA_BOOTSTRAP_SERVERS"
    )
    if not endpoints:
        raise invalid(
            "The KAFKA_BOOTSTRAP_SERVERS endpoint is required for self-managed Apache Kafka "
            "event sources."
        )
    if not 1 <= len(endpoints) <= 10:
        raise invalid("KAFKA_BOOTSTRAP_SERVERS must have between 1 and 10 servers.")
    for server in endpoints:
        if not isinstance(server, str) or not _ENDPOINT.match(server):
            raise invalid(f"Invalid bootstrap server: {server}. Use the format host:port.")
    return [str(s) for s in endpoints]


def _group(params: dict[str, Any], mapping: EventSourceMapping) -> str | None:
    key = (
        "SelfManagedKafkaEventSourceConfig"
        if mapping.self_managed
        else "AmazonManagedKafkaEventSourceConfig"
    )
    other = (
        "AmazonManagedKafkaEventSourceConfig"
        if mapping.self_managed
        else "SelfManagedKafkaEventSourceConfig"
    )
    if params.get(other) is not None:
        raise invalid(f"Unsupported {other} parameter for given event source.")
    group = (params.get(key) or {}).get("ConsumerGroupId")
    if group is not None and not _GROUP.match(str(group)):
        raise invalid(
            f"1 validation error detected: Value '{group}' at '{key}.consumerGroupId' failed "
            "to satisfy constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z0-9-\\/*:_+=.@-]*"
        )
    return None if group is None else str(group)


def kafka_settings(
    mapping: EventSourceMapping,
    params: dict[str, Any],
    clusters: KafkaClusters,
    *,
    creating: bool,
    function_timeout: int,
) -> None:
    """Check a Kafka mapping's parameters and apply them to `mapping`."""
    for key in _NOT_KAFKA:
        if params.get(key) is not None:
            raise invalid(f"Unsupported {key} parameter for given event source.")
    if creating:
        _source(mapping, params, clusters)
    group = _group(params, mapping)
    if creating:
        mapping.group_id = group or mapping.uuid
    elif group is not None and group != mapping.group_id:
        raise invalid(
            "Updating the ConsumerGroupId of an event source mapping is not supported: it is "
            f"{mapping.group_id}."
        )
    if function_timeout > MAX_FUNCTION_TIMEOUT:
        raise invalid(
            f"Function timeout of {function_timeout} seconds exceeds the maximum of "
            f"{MAX_FUNCTION_TIMEOUT} seconds for Kafka event sources."
        )
    if not 1 <= mapping.batch_size <= 10000:
        raise invalid("BatchSize must be between 1 and 10000 for Kafka event sources.")
    if params.get("MaximumBatchingWindowInSeconds") is not None:
        if not 0 <= int(params["MaximumBatchingWindowInSeconds"]) <= 300:
            raise invalid("MaximumBatchingWindowInSeconds must be between 0 and 300.")
        mapping.window_set = True
    for access in params.get("SourceAccessConfigurations") or []:
        if access.get("Type") not in ("VPC_SUBNET", "VPC_SECURITY_GROUP"):
            raise invalid(
                f"Fireside does not support {access.get('Type')} source access for Kafka "
                "event sources yet: its brokers take unauthenticated plaintext clients."
            )
    if "ReportBatchItemFailures" in (params.get("FunctionResponseTypes") or []):
        raise invalid(
            "Fireside does not support ReportBatchItemFailures for Kafka event sources yet."
        )
    _retries(mapping, params)


def _source(mapping: EventSourceMapping, params: dict[str, Any], clusters: KafkaClusters) -> None:
    arn = params.get("EventSourceArn")
    if params.get("SelfManagedEventSource"):
        if arn:
            raise invalid(
                "EventSourceArn and SelfManagedEventSource cannot both be specified: a "
                "self-managed Apache Kafka source is named by its bootstrap servers."
            )
        mapping.self_managed = _servers(params)
        mapping.source_arn = ""
    else:
        match = _CLUSTER_ARN.match(str(arn))
        if match is None:
            raise invalid(f"The event source ARN {arn} is not a valid Amazon MSK cluster ARN.")
        if match[1] != mapping.region:
            raise invalid(f"The event source {arn} is not in this function's region.")
        found = (
            clusters.bootstrap(mapping.account, mapping.region, str(arn))
            if match[2] == mapping.account
            else None  # another account's cluster: not found, as AWS's MSK answers it
        )
        if found is None:
            raise invalid(
                f"The Amazon MSK cluster {arn} does not exist, or is not ACTIVE, in this account."
            )
    topics = params.get("Topics")
    if not topics or len(topics) != 1:
        raise invalid("Topics must contain exactly one topic for Kafka event sources.")
    if not _TOPIC.match(str(topics[0])) or topics[0] in (".", ".."):
        raise invalid(f"The topic name {topics[0]} is not a valid Kafka topic name.")
    mapping.topics = [str(topics[0])]
    position = params.get("StartingPosition")
    if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
        raise invalid(
            "StartingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP for Kafka event "
            f"sources, not {position}."
            if position
            else "The StartingPosition parameter is required for Kafka event sources."
        )
    mapping.starting_position = str(position)
    stamp = params.get("StartingPositionTimestamp")
    if position == "AT_TIMESTAMP":
        if stamp is None:
            raise invalid(
                "StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP."
            )
        seconds = stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp)
        if seconds > time.time():
            raise invalid("StartingPositionTimestamp cannot be in the future.")
        mapping.position_timestamp = seconds
    elif stamp is not None:
        raise invalid("StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP.")


def _retries(mapping: EventSourceMapping, params: dict[str, Any]) -> None:
    if params.get("MaximumRetryAttempts") is not None:
        retries = int(params["MaximumRetryAttempts"])
        if not -1 <= retries <= 10000:
            raise invalid("MaximumRetryAttempts must be between -1 and 10000.")
        mapping.max_retries = retries
    if params.get("MaximumRecordAgeInSeconds") is not None:
        age = int(params["MaximumRecordAgeInSeconds"])
        if age != -1 and not 60 <= age <= 604800:
            raise invalid("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800 seconds.")
        mapping.max_age = age
    if params.get("BisectBatchOnFunctionError") is not None:
        mapping.bisect = bool(params["BisectBatchOnFunctionError"])
    destination = params.get("DestinationConfig")
    if destination is not None:
        if (destination.get("OnSuccess") or {}).get("Destination"):
            raise invalid(
                "Unsupported DestinationConfig parameter for given event source: OnSuccess."
            )
        target = (destination.get("OnFailure") or {}).get("Destination") or None
        if target is not None and target.startswith("kafka://"):
            raise invalid("Fireside does not support Kafka topics as on-failure destinations yet.")
        if target is not None and (
            destination_of(target) is None or target.split(":")[2] not in ("sqs", "sns", "s3")
        ):
            raise invalid(f"The destination ARN {target} is invalid.")
        mapping.on_failure = target
        if target is not None and mapping.max_retries == -1:
            mapping.max_retries = 10  # infinite retries with a destination: capped at 10


def check_kafka_conflicts(
    mapping: EventSourceMapping, others: list[EventSourceMapping]
) -> ServiceError | None:
    """Another mapping of the same source, topic and function, or with the same group."""
    source = mapping.source_arn or ",".join(sorted(mapping.self_managed))
    for other in others:
        if not other.is_kafka or other.uuid == mapping.uuid:
            continue
        same_source = (other.source_arn or ",".join(sorted(other.self_managed))) == source
        if not same_source:
            continue
        if other.topics == mapping.topics and other.function_arn == mapping.function_arn:
            return conflict(
                f'The event source ("{source}"), topics ({mapping.topics[0]}) and function '
                f'("{mapping.function}") provided mapping already exists. Please update or '
                f"delete the existing mapping with UUID {other.uuid}"
            )
        if other.group_id == mapping.group_id:
            return conflict(
                f"The consumer group id {mapping.group_id} is already used by the event "
                f"source mapping with UUID {other.uuid}"
            )
    return None
