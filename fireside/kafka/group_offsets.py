"""Committed offsets and group inspection: OffsetCommit, OffsetFetch, DescribeGroups, ListGroups.

A commit from a group member is checked against the coordinator's membership (member id,
generation, not mid-rebalance); a standalone consumer (generation -1, no member id) may commit
into a group with no live members. Offsets are on disk before the answer (`KafkaStore.commit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fireside.kafka.errors import Err
from fireside.kafka.store import Committed

if TYPE_CHECKING:
    from fireside.kafka.groups import GroupCoordinator

__all__ = ["GroupOffsets"]

Req = dict[str, Any]
#: Kafka's offset.metadata.max.bytes.
MAX_METADATA = 4096
EMPTY, COMPLETING, DEAD, STABLE = "Empty", "CompletingRebalance", "Dead", "Stable"


class GroupOffsets:
    def __init__(self, coordinator: GroupCoordinator) -> None:
        self.coordinator = coordinator

    # ---- offsets ----------------------------------------------------------------------------

    async def offset_commit(self, version: int, req: Req) -> Req:
        group_id = req["group_id"]
        generation = req.get("generation_id", -1)
        err = Err.NONE
        if not group_id:
            err = Err.INVALID_GROUP_ID
        elif generation >= 0 or req.get("member_id"):
            group, _member, err = self.coordinator.check(req, generation)
            if not err and group is not None and group.state == COMPLETING:
                err = Err.REBALANCE_IN_PROGRESS
        elif (group := self.coordinator.groups.get(group_id)) is not None and group.members:
            err = Err.UNKNOWN_MEMBER_ID  # a simple commit into a group with live members
        offsets: dict[tuple[str, int], Committed] = {}
        topics = []
        for t in req.get("topics", []):
            parts = []
            for p in t.get("partitions", []):
                code = err
                metadata = p.get("committed_metadata")
                if (
                    not code
                    and self.coordinator.broker.partition(t["name"], p["partition_index"]) is None
                ):
                    code = Err.UNKNOWN_TOPIC_OR_PARTITION
                elif not code and metadata is not None and len(metadata) > MAX_METADATA:
                    code = Err.OFFSET_METADATA_TOO_LARGE
                elif not code:
                    offsets[(t["name"], p["partition_index"])] = Committed(
                        p["committed_offset"], metadata, p.get("committed_leader_epoch", -1)
                    )
                parts.append({"partition_index": p["partition_index"], "error_code": code})
            topics.append({"name": t["name"], "partitions": parts})
        await self.coordinator.broker.commit_offsets(group_id, offsets)
        return {"topics": topics}

    async def offset_fetch(self, version: int, req: Req) -> Req:
        committed = self.coordinator.broker.committed_offsets(req["group_id"])
        wanted = req.get("topics")
        if wanted is None:
            by_topic: dict[str, list[int]] = {}
            for topic, partition in sorted(committed):
                by_topic.setdefault(topic, []).append(partition)
            wanted = [{"name": t, "partition_indexes": ps} for t, ps in by_topic.items()]
        topics = []
        for t in wanted:
            parts = []
            for index in t["partition_indexes"]:
                found = committed.get((t["name"], index))
                parts.append({
                    "partition_index": index,
                    "committed_offset": found.offset if found else -1,
                    "committed_leader_epoch": found.leader_epoch if found else -1,
                    "metadata": found.metadata if found else "",
                    "error_code": 0,
                })  # fmt: skip
            topics.append({"name": t["name"], "partitions": parts})
        return {"topics": topics, "error_code": 0}

    # ---- inspection -------------------------------------------------------------------------

    async def describe_groups(self, version: int, req: Req) -> Req:
        out = []
        for group_id in req.get("groups", []):
            group = self.coordinator.groups.get(group_id)
            if group is None:
                known = group_id in self.coordinator.broker.store.groups_with_offsets()
                out.append({"error_code": 0, "group_id": group_id,
                            "group_state": EMPTY if known else DEAD, "members": []})  # fmt: skip
                continue
            stable = group.state == STABLE
            members = [
                {"member_id": m.member_id, "group_instance_id": m.instance_id,
                 "client_id": m.client_id, "client_host": m.client_host,
                 "member_metadata": dict(m.protocols).get(group.protocol or "", b"") if stable else b"",
                 "member_assignment": m.assignment if stable else b""}
                for m in group.members.values()
            ]  # fmt: skip
            out.append({"error_code": 0, "group_id": group_id, "group_state": group.state,
                        "protocol_type": group.protocol_type, "protocol_data": group.protocol or "",
                        "members": members, "authorized_operations": -(2**31)})  # fmt: skip
        return {"groups": out}

    async def list_groups(self, version: int, req: Req) -> Req:
        listed = {
            g.group_id: g.protocol_type for g in self.coordinator.groups.values() if g.state != DEAD
        }
        for group_id in self.coordinator.broker.store.groups_with_offsets():
            listed.setdefault(group_id, "consumer")
        return {"error_code": 0, "groups": [
            {"group_id": g, "protocol_type": t} for g, t in sorted(listed.items())
        ]}  # fmt: skip

    async def delete_groups(self, version: int, req: Req) -> Req:
        results = []
        with_offsets = set(self.coordinator.broker.store.groups_with_offsets())
        for group_id in req.get("groups_names", []):
            group = self.coordinator.groups.get(group_id)
            if group is not None and group.members:
                code = Err.NON_EMPTY_GROUP
            elif group is None and group_id not in with_offsets:
                code = Err.GROUP_ID_NOT_FOUND
            else:
                self.coordinator.groups.pop(group_id, None)
                await self.coordinator.broker.store.delete_group(group_id)
                code = Err.NONE
            results.append({"group_id": group_id, "error_code": code})
        return {"results": results}
