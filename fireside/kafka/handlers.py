"""Wire handlers for the data-plane APIs: a decoded request dict in, a response dict out.

Metadata, Produce, Fetch, ListOffsets, CreateTopics, DeleteTopics, InitProducerId and
DescribeConfigs, in terms of `fireside.kafka.broker.Broker`. Fetch is served without fetch
sessions (KIP-227): every answer carries session id 0, which tells a client to keep sending
full fetch requests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fireside.kafka.broker import Broker, topic_name_error
from fireside.kafka.errors import Err
from fireside.kafka.log import PartitionLog

__all__ = ["DataHandlers"]

Req = dict[str, Any]
#: Longest a Fetch may wait for data, whatever it asks.
MAX_FETCH_WAIT = 30.0
_UNKNOWN_OPS = -(2**31)
_TOPIC, _BROKER = 2, 4
_SOURCE_TOPIC, _SOURCE_STATIC, _SOURCE_DEFAULT = 1, 4, 5
#: DescribeConfigs v3+ config types: BOOLEAN 1, STRING 2, INT 3, LONG 5, LIST 7.
_TYPES = {
    "auto.create.topics.enable": 1, "broker.id": 3, "num.partitions": 3,
    "offsets.topic.replication.factor": 4, "message.max.bytes": 3, "max.message.bytes": 3,
    "min.insync.replicas": 3, "segment.bytes": 3, "log.segment.bytes": 3,
    "retention.bytes": 5, "retention.ms": 5, "segment.ms": 5, "log.retention.bytes": 5,
    "log.retention.ms": 5, "cleanup.policy": 7, "advertised.listeners": 7, "listeners": 7,
}  # fmt: skip


class DataHandlers:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    # ---- Metadata ---------------------------------------------------------------------------

    def _broker_entry(self) -> dict[str, Any]:
        c = self.broker.config
        return {"node_id": c.node_id, "host": c.host, "port": c.port, "rack": None}

    async def metadata(self, version: int, req: Req) -> Req:
        broker, node = self.broker, self.broker.config.node_id
        requested = req.get("topics")
        if requested is None or (version == 0 and not requested):
            names = sorted(broker.topics)
            allow_create = False
        else:
            names = [t["name"] for t in requested]
            allow_create = req.get("allow_auto_topic_creation", True)
        topics = []
        for name in names:
            topic = broker.topics.get(name)
            if topic is None and allow_create:
                topic = await broker.ensure_topic(name)
            if topic is None:
                invalid = topic_name_error(name) is not None
                code = Err.INVALID_TOPIC_EXCEPTION if invalid else Err.UNKNOWN_TOPIC_OR_PARTITION
                topics.append({"error_code": code, "name": name, "partitions": [],
                               "topic_authorized_operations": _UNKNOWN_OPS})  # fmt: skip
                continue
            partitions = [
                {"error_code": 0, "partition_index": i, "leader_id": node, "leader_epoch": 0,
                 "replica_nodes": [node], "isr_nodes": [node], "offline_replicas": []}
                for i in range(len(topic.logs))
            ]  # fmt: skip
            topics.append({"error_code": 0, "name": name, "is_internal": False,
                           "partitions": partitions, "topic_authorized_operations": _UNKNOWN_OPS})  # fmt: skip
        return {
            "brokers": [self._broker_entry()],
            "cluster_id": broker.config.cluster_id,
            "controller_id": node,
            "topics": topics,
            "cluster_authorized_operations": _UNKNOWN_OPS,
        }

    # ---- Produce ----------------------------------------------------------------------------

    async def produce(self, version: int, req: Req) -> Req | None:
        acks = req.get("acks", 1)
        transactional = req.get("transactional_id") is not None
        touched: list[PartitionLog] = []
        responses = []
        for topic in req.get("topic_data", []):
            parts = []
            for p in topic.get("partition_data", []):
                index = p.get("index", 0)
                if acks not in (0, 1, -1):
                    result_error, base = Err.INVALID_REQUIRED_ACKS, -1
                elif transactional:
                    result_error, base = Err.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1
                else:
                    result = self.broker.append(topic["name"], index, p.get("records"))
                    result_error, base = result.error, result.base_offset
                log = self.broker.partition(topic["name"], index)
                if log is not None and result_error == Err.NONE:
                    touched.append(log)
                parts.append({
                    "index": index, "error_code": result_error, "base_offset": base,
                    "log_append_time_ms": -1,
                    "log_start_offset": log.log_start_offset if log is not None else -1,
                    "record_errors": [], "error_message": None,
                })  # fmt: skip
            responses.append({"name": topic.get("name", ""), "partition_responses": parts})
        if acks == 0:
            return None
        if touched:
            await asyncio.gather(*(log.sync() for log in set(touched)))
        return {"responses": responses, "throttle_time_ms": 0}

    # ---- Fetch ------------------------------------------------------------------------------

    async def fetch(self, version: int, req: Req) -> Req:
        if req.get("session_id", 0) != 0 or req.get("session_epoch", -1) > 0:
            return {"error_code": Err.FETCH_SESSION_ID_NOT_FOUND, "session_id": 0, "responses": []}
        deadline = time.monotonic() + min(max(req.get("max_wait_ms", 0), 0) / 1000, MAX_FETCH_WAIT)
        min_bytes = req.get("min_bytes", 1)
        while True:
            responses, size, logs, failed = self._fetch_once(req)
            remaining = deadline - time.monotonic()
            if size >= min_bytes or failed or remaining <= 0:
                return {"error_code": 0, "session_id": 0, "responses": responses}
            await self.broker.wait_for_append(logs, remaining)

    def _fetch_once(self, req: Req) -> tuple[list[Req], int, list[PartitionLog], bool]:
        budget = req.get("max_bytes", 0x7FFFFFFF)
        responses, logs, total, failed = [], [], 0, False
        for topic in req.get("topics", []):
            name = topic["topic"]
            parts = []
            for p in topic.get("partitions", []):
                index = p["partition"]
                limit = min(p.get("partition_max_bytes", 0), max(budget - total, 0))
                if limit <= 0 and total > 0:
                    result = self.broker.read(name, index, p["fetch_offset"], 0)
                    result.records = b""
                else:
                    result = self.broker.read(name, index, p["fetch_offset"], limit)
                total += len(result.records)
                failed = failed or result.error != Err.NONE
                log = self.broker.partition(name, index)
                if log is not None:
                    logs.append(log)
                parts.append({
                    "partition_index": index, "error_code": result.error,
                    "high_watermark": result.high_watermark,
                    "last_stable_offset": result.high_watermark,
                    "log_start_offset": result.log_start_offset, "aborted_transactions": [],
                    "preferred_read_replica": -1, "records": result.records,
                })  # fmt: skip
            responses.append({"topic": name, "partitions": parts})
        return responses, total, logs, failed

    # ---- ListOffsets ------------------------------------------------------------------------

    async def list_offsets(self, version: int, req: Req) -> Req:
        topics = []
        for topic in req.get("topics", []):
            parts = []
            for p in topic.get("partitions", []):
                error, offset, ts = self.broker.list_offset(
                    topic["name"], p["partition_index"], p["timestamp"]
                )
                parts.append({"partition_index": p["partition_index"], "error_code": error,
                              "timestamp": ts, "offset": offset, "leader_epoch": 0})  # fmt: skip
            topics.append({"name": topic["name"], "partitions": parts})
        return {"topics": topics}

    # ---- CreateTopics / DeleteTopics --------------------------------------------------------

    async def create_topics(self, version: int, req: Req) -> Req:
        results = []
        names = [t["name"] for t in req.get("topics", [])]
        for topic in req.get("topics", []):
            name = topic["name"]
            configs = {c["name"]: c["value"] for c in topic.get("configs", [])}
            partitions = topic.get("num_partitions", -1)
            if topic.get("assignments"):
                partitions = len(topic["assignments"])
            rf = topic.get("replication_factor", -1)
            error, message = Err.NONE, None
            if names.count(name) > 1:
                error, message = Err.INVALID_REQUEST, f"Duplicate topic name {name!r}"
            elif rf not in (-1, 1):
                error = Err.INVALID_REPLICATION_FACTOR
                message = f"Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only 1 broker(s) are registered."
            elif req.get("validate_only"):
                count = self.broker.config.default_partitions if partitions == -1 else partitions
                error, message = self.broker.validate_topic(name, count, configs)
            else:
                error, message = await self.broker.create_topic(name, partitions, configs)
            created = self.broker.topics.get(name) if error == Err.NONE else None
            results.append({
                "name": name, "error_code": error, "error_message": message,
                "num_partitions": len(created.logs) if created else -1,
                "replication_factor": 1 if created else -1, "configs": None,
            })  # fmt: skip
        return {"topics": results}

    async def delete_topics(self, version: int, req: Req) -> Req:
        results = []
        for name in req.get("topic_names", []):
            results.append({"name": name, "error_code": await self.broker.delete_topic(name)})
        return {"responses": results}

    async def create_partitions(self, version: int, req: Req) -> Req:
        results = []
        for topic in req.get("topics", []):
            error, message = await self.broker.add_partitions(
                topic["name"], topic["count"], validate_only=req.get("validate_only", False)
            )
            results.append({"name": topic["name"], "error_code": error, "error_message": message})
        return {"results": results}

    async def delete_records(self, version: int, req: Req) -> Req:
        topics = []
        for topic in req.get("topics", []):
            parts = []
            for p in topic.get("partitions", []):
                log = self.broker.partition(topic["name"], p["partition_index"])
                error, low = (
                    log.delete_records(p["offset"])
                    if log is not None
                    else (Err.UNKNOWN_TOPIC_OR_PARTITION, -1)
                )
                parts.append({"partition_index": p["partition_index"], "low_watermark": low,
                              "error_code": error})  # fmt: skip
            topics.append({"name": topic["name"], "partitions": parts})
        return {"topics": topics}

    # ---- InitProducerId ---------------------------------------------------------------------

    async def init_producer_id(self, version: int, req: Req) -> Req:
        if req.get("transactional_id") is not None:
            return {"error_code": Err.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    "producer_id": -1, "producer_epoch": -1}  # fmt: skip
        pid = await self.broker.store.next_producer_id()
        return {"error_code": 0, "producer_id": pid, "producer_epoch": 0}

    # ---- DescribeConfigs --------------------------------------------------------------------

    def _topic_configs(self, name: str) -> list[tuple[str, str, int]]:
        topic = self.broker.topics[name]
        log = topic.logs[0].config if topic.logs else self.broker.config.log
        values = {
            "cleanup.policy": "delete",
            "compression.type": "producer",
            "max.message.bytes": str(self.broker.config.max_message_bytes),
            "message.timestamp.type": "CreateTime",
            "min.insync.replicas": "1",
            "retention.bytes": str(log.retention_bytes),
            "retention.ms": str(log.retention_ms),
            "segment.bytes": str(log.segment_bytes),
            "segment.ms": str(log.segment_ms),
        }
        values.update(topic.configs)
        return [
            (k, v, _SOURCE_TOPIC if k in topic.configs else _SOURCE_DEFAULT)
            for k, v in sorted(values.items())
        ]

    def _broker_configs(self) -> list[tuple[str, str, int]]:
        c = self.broker.config
        values = {
            "advertised.listeners": f"PLAINTEXT://{c.host}:{c.port}",
            "auto.create.topics.enable": str(c.auto_create_topics).lower(),
            "listeners": f"PLAINTEXT://{c.host}:{c.port}",
            "broker.id": str(c.node_id),
            "log.retention.bytes": str(c.log.retention_bytes),
            "log.retention.ms": str(c.log.retention_ms),
            "log.segment.bytes": str(c.log.segment_bytes),
            "message.max.bytes": str(c.max_message_bytes),
            "num.partitions": str(c.default_partitions),
            "offsets.topic.replication.factor": "1",
        }
        return [(k, v, _SOURCE_STATIC) for k, v in sorted(values.items())]

    async def describe_configs(self, version: int, req: Req) -> Req:
        results = []
        for res in req.get("resources", []):
            rtype, name = res["resource_type"], res["resource_name"]
            out: Req = {"error_code": 0, "error_message": None, "resource_type": rtype,
                        "resource_name": name, "configs": []}  # fmt: skip
            if rtype == _TOPIC and name in self.broker.topics:
                entries = self._topic_configs(name)
            elif rtype == _TOPIC:
                out["error_code"] = Err.UNKNOWN_TOPIC_OR_PARTITION
                out["error_message"] = f"Topic {name} does not exist."
                entries = []
            elif rtype == _BROKER and name in ("", str(self.broker.config.node_id)):
                entries = self._broker_configs()
            else:
                out["error_code"] = Err.INVALID_REQUEST
                out["error_message"] = f"Unsupported resource type {rtype} or name {name!r}"
                entries = []
            keys = res.get("configuration_keys")
            out["configs"] = [
                {"name": k, "value": v, "read_only": s == _SOURCE_STATIC,
                 "is_default": s == _SOURCE_DEFAULT, "config_source": s, "is_sensitive": False,
                 "synonyms": [], "config_type": _TYPES.get(k, 2), "documentation": None}
                for k, v, s in entries if keys is None or k in keys
            ]  # fmt: skip
            results.append(out)
        return {"throttle_time_ms": 0, "results": results}
