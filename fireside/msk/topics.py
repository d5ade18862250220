"""MSK's topic operations (CreateTopic, DescribeTopic, ListTopics, UpdateTopic, DeleteTopic,
DescribeTopicPartitions) on a cluster's own broker, through `fireside.kafka.broker.Broker`.

`Configs` travels base64-encoded (as MSK's model says); we read a JSON object or Java
properties lines (`retention.ms=1000`) and answer with a JSON object. A cluster has one
physical broker, so every partition's leader, replica and in-sync replica is broker 1.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.aws.pagination import token_page
from fireside.kafka.broker import Topic
from fireside.kafka.errors import Err
from fireside.kafka.service import KafkaService
from fireside.msk.clusters import Clusters
from fireside.msk.store import ClusterRecord

__all__ = ["TopicOperations"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
error = ModelledErrors("kafka")

#: A Configs string's largest accepted size (base64 text).
_MAX_CONFIGS: Final = 64 * 1024


def _bad(message: str, field: str | None = None) -> ServiceError:
    extra: dict[str, Any] = {"InvalidParameter": field} if field else {}
    return error("BadRequestException", message, **extra)


def decode_configs(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    if len(text) > _MAX_CONFIGS:
        raise _bad(f"Configs must be at most {_MAX_CONFIGS} characters.", "configs")
    try:
        raw = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _bad("Configs must be a Base64-encoded string.", "configs") from None
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return {str(k): str(v) for k, v in parsed.items()}
    out: dict[str, str] = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise _bad(f"Invalid topic configuration line: {line!r}", "configs")
        out[key.strip()] = value.strip()
    return out


def encode_configs(configs: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(configs, sort_keys=True).encode()).decode()


class TopicOperations:
    def __init__(
        self, clusters: Clusters, find: Callable[[RequestContext, str], ClusterRecord]
    ) -> None:
        self.clusters = clusters
        self._find = find

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateTopic": self.create_topic,
            "DescribeTopic": self.describe_topic,
            "ListTopics": self.list_topics,
            "UpdateTopic": self.update_topic,
            "DeleteTopic": self.delete_topic,
            "DescribeTopicPartitions": self.describe_topic_partitions,
        }

    def _broker(self, ctx: RequestContext, arn: str) -> tuple[ClusterRecord, KafkaService]:
        record = self._find(ctx, arn)
        service = self.clusters.services.get(record.arn)
        if record.state != "ACTIVE" or service is None:
            raise error(
                "ClusterConnectivityException",
                f"The cluster {record.arn} is in the {record.state} state; topic operations "
                "need an ACTIVE cluster.",
                InvalidParameter="clusterArn",
            )
        return record, service

    def _topic(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[ClusterRecord, Topic]:
        record, service = self._broker(ctx, params["ClusterArn"])
        topic = service.broker.topics.get(params["TopicName"])
        if topic is None:
            raise error(
                "NotFoundException",
                f"The topic {params['TopicName']} does not exist in the cluster.",
                InvalidParameter="topicName",
            )
        return record, topic

    @staticmethod
    def _arn(record: ClusterRecord, topic: str) -> str:
        return (
            f"arn:aws:kafka:{record.region}:{record.account}:topic/{record.name}/"
            f"{record.uuid}-25/{topic}"
        )

    async def create_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, service = self._broker(ctx, params["ClusterArn"])
        name, replication = params["TopicName"], params["ReplicationFactor"]
        if not 1 <= replication <= record.brokers:
            raise _bad(
                f"Replication factor: {replication} larger than available brokers: "
                f"{record.brokers}."
                if replication > 0
                else "Replication factor must be > 0.",
                "replicationFactor",
            )
        configs = decode_configs(params.get("Configs"))
        failure, message = await service.broker.create_topic(
            name, params["PartitionCount"], configs
        )
        if failure == Err.TOPIC_ALREADY_EXISTS:
            raise error("TopicExistsException", message or "", InvalidParameter="topicName")
        if failure:
            raise _bad(message or failure.name, "topicName")
        return {"TopicArn": self._arn(record, name), "TopicName": name, "Status": "ACTIVE"}

    async def describe_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, topic = self._topic(ctx, params)
        return {
            "TopicArn": self._arn(record, topic.name),
            "TopicName": topic.name,
            "ReplicationFactor": 1,
            "PartitionCount": len(topic.logs),
            "Configs": encode_configs(topic.configs),
            "Status": "ACTIVE",
            "ReplicaIds": [1],
        }

    async def list_topics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, service = self._broker(ctx, params["ClusterArn"])
        prefix = params.get("TopicNameFilter") or ""
        topics = sorted(
            (t for t in service.broker.topics.values() if t.name.startswith(prefix)),
            key=lambda t: t.name,
        )
        page, more = token_page(
            topics,
            lambda t: t.name,
            params.get("NextToken"),
            params.get("MaxResults"),
            scope=f"msk-topics:{record.arn}",
            invalid=lambda: _bad("The NextToken is not valid.", "nextToken"),
        )
        return {
            "Topics": [
                {
                    "TopicArn": self._arn(record, t.name),
                    "TopicName": t.name,
                    "ReplicationFactor": 1,
                    "PartitionCount": len(t.logs),
                    "OutOfSyncReplicaCount": 0,
                    "ReplicaIds": [1],
                }
                for t in page
            ],
            **more,
        }

    async def update_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, topic = self._topic(ctx, params)
        service = self.clusters.services[record.arn]
        count = params.get("PartitionCount")
        if params.get("Configs") is not None:
            # Per-topic configs are read when a topic's logs open; Fireside's broker has no
            # AlterConfigs yet, so a change to them cannot be applied in place.
            raise error(
                "KafkaRequestException",
                "Fireside does not support changing a topic's Configs yet.",
                InvalidParameter="configs",
            )
        if count is not None:
            failure, message = await service.broker.add_partitions(topic.name, count)
            if failure:
                raise _bad(message or failure.name, "partitionCount")
        return {
            "TopicArn": self._arn(record, topic.name),
            "TopicName": topic.name,
            "Status": "UPDATING",
        }

    async def delete_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record, topic = self._topic(ctx, params)
        await self.clusters.services[record.arn].broker.delete_topic(topic.name)
        return {
            "TopicArn": self._arn(record, topic.name),
            "TopicName": topic.name,
            "Status": "DELETING",
        }

    async def describe_topic_partitions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record, topic = self._topic(ctx, params)
        partitions = [
            {"Partition": p, "Leader": 1, "Replicas": [1], "Isr": [1]}
            for p in range(len(topic.logs))
        ]
        page, more = token_page(
            partitions,
            lambda p: f"{p['Partition']:08d}",
            params.get("NextToken"),
            params.get("MaxResults"),
            scope=f"msk-partitions:{record.arn}:{topic.name}",
            invalid=lambda: _bad("The NextToken is not valid.", "nextToken"),
        )
        return {"Partitions": page, **more}
