"""Answers for requests that cannot be served: an unsupported version, a body that does not
decode, a frame over the size cap, a handler that failed.

Kafka has no generic error frame: each response carries its error codes in its own places. So an
error answer is built in the response's own shape, from whatever part of the request was read
(`codec.decode` leaves the parts read before a fault in place): a top-level `error_code` where the
response has one, and otherwise the error on each topic, partition, group or resource named.
"""

from __future__ import annotations

from typing import Any

from fireside.kafka.errors import Err
from fireside.kafka.schemas import Api

__all__ = ["error_response"]

Req = dict[str, Any]


def _has_field(api: Api, name: str, version: int) -> bool:
    return any(f.name == name and f.lo <= version <= f.hi for f in api.response.fields)


def _parts(items: Any, key: str) -> list[Req]:
    return [i for i in (items or []) if isinstance(i, dict) and key in i]


def error_response(api: Api, version: int, req: Req, err: Err) -> Req:
    code = int(err)
    out: Req = {"error_code": code} if _has_field(api, "error_code", version) else {}
    name = api.name
    if name == "Produce":
        out["responses"] = [
            {"name": t["name"], "partition_responses": [
                {"index": p["index"], "error_code": code, "base_offset": -1,
                 "log_append_time_ms": -1, "log_start_offset": -1}
                for p in _parts(t.get("partition_data"), "index")]}
            for t in _parts(req.get("topic_data"), "name")
        ]  # fmt: skip
    elif name == "Fetch":
        out["responses"] = [
            {"topic": t["topic"], "partitions": [
                {"partition_index": p["partition"], "error_code": code, "high_watermark": -1,
                 "last_stable_offset": -1, "log_start_offset": -1}
                for p in _parts(t.get("partitions"), "partition")]}
            for t in _parts(req.get("topics"), "topic")
        ]  # fmt: skip
    elif name in ("ListOffsets", "DeleteRecords"):
        out["topics"] = [
            {"name": t["name"], "partitions": [
                {"partition_index": p["partition_index"], "error_code": code,
                 "timestamp": -1, "offset": -1, "low_watermark": -1}
                for p in _parts(t.get("partitions"), "partition_index")]}
            for t in _parts(req.get("topics"), "name")
        ]  # fmt: skip
    elif name == "Metadata":
        out["topics"] = [
            {"error_code": code, "name": t["name"]} for t in _parts(req.get("topics"), "name")
        ]
    elif name == "CreateTopics":
        out["topics"] = [
            {"name": t["name"], "error_code": code, "error_message": err.name}
            for t in _parts(req.get("topics"), "name")
        ]
    elif name == "DeleteTopics":
        out["responses"] = [{"name": n, "error_code": code} for n in req.get("topic_names") or []]
    elif name in ("OffsetCommit", "OffsetFetch"):
        key = "partition_indexes" if name == "OffsetFetch" else "partitions"
        out["topics"] = [
            {"name": t["name"], "partitions": [
                {"partition_index": p if isinstance(p, int) else p.get("partition_index", -1),
                 "error_code": code, "committed_offset": -1}
                for p in (t.get(key) or [])]}
            for t in _parts(req.get("topics"), "name")
        ]  # fmt: skip
    elif name == "DescribeConfigs":
        out["results"] = [
            {"error_code": code, "error_message": err.name, "resource_type": r["resource_type"],
             "resource_name": r.get("resource_name", "")}
            for r in _parts(req.get("resources"), "resource_type")
        ]  # fmt: skip
    elif name == "CreatePartitions":
        out["results"] = [
            {"name": t["name"], "error_code": code, "error_message": err.name}
            for t in _parts(req.get("topics"), "name")
        ]
    elif name == "DeleteGroups":
        out["results"] = [
            {"group_id": g, "error_code": code} for g in req.get("groups_names") or []
        ]
    elif name == "DescribeGroups":
        out["groups"] = [{"error_code": code, "group_id": g} for g in req.get("groups") or []]
    elif name == "FindCoordinator":
        out.update(node_id=-1, host="", port=-1)
    elif name == "InitProducerId":
        out.update(producer_id=-1, producer_epoch=-1)
    elif name == "JoinGroup":
        out.update(generation_id=-1, member_id=req.get("member_id", ""))
    return out
