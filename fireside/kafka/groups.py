"""The group coordinator: consumer-group membership, rebalances, and committed offsets.

Kafka's classic group protocol, for one broker that coordinates every group:

- JoinGroup moves a group to PreparingRebalance. The join phase ends when every known member has
  rejoined, or when the longest rebalance timeout passes (members that did not rejoin are
  dropped); then the generation advances, the leader is told every member's subscription, and
  the group awaits the leader's SyncGroup (CompletingRebalance).
- SyncGroup from the leader carries the assignments; every member's SyncGroup is answered with
  its own and the group is Stable.
- Heartbeats keep a member alive (a timer per member, its session timeout) and tell it
  REBALANCE_IN_PROGRESS when it must rejoin.
- A new member first gets MEMBER_ID_REQUIRED with its id (JoinGroup v4+), and joins with it.

Membership lives in memory (a restart makes members rejoin, as a coordinator failover does in
Kafka); committed offsets are durable (`fireside.kafka.store`).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from fireside.kafka.broker import Broker
from fireside.kafka.errors import Err
from fireside.kafka.group_offsets import GroupOffsets
from fireside.kafka.server import Handler

__all__ = ["GroupCoordinator"]

Req = dict[str, Any]
MIN_SESSION_MS, MAX_SESSION_MS = 1000, 1_800_000
MAX_MEMBERS = 1000
EMPTY, PREPARING, COMPLETING, STABLE, DEAD = (
    "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead",
)  # fmt: skip


@dataclass(slots=True, eq=False)
class Member:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_ms: int
    rebalance_ms: int
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    join: asyncio.Future[Req] | None = None
    sync: asyncio.Future[Req] | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True, eq=False)
class Group:
    group_id: str
    state: str = EMPTY
    generation: int = 0
    protocol_type: str = ""
    protocol: str | None = None
    leader: str = ""
    members: dict[str, Member] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)  # ids handed out by MEMBER_ID_REQUIRED
    join_timer: asyncio.TimerHandle | None = None


class GroupCoordinator:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.groups: dict[str, Group] = {}

    def handlers(self) -> dict[int, Handler]:
        offsets = GroupOffsets(self)
        return {
            10: self.find_coordinator, 11: self.join_group, 14: self.sync_group,
            12: self.heartbeat, 13: self.leave_group, 8: offsets.offset_commit,
            9: offsets.offset_fetch, 15: offsets.describe_groups, 16: offsets.list_groups,
            42: offsets.delete_groups,
        }  # fmt: skip

    # ---- membership -------------------------------------------------------------------------

    async def find_coordinator(self, version: int, req: Req) -> Req:
        c = self.broker.config
        if req.get("key_type", 0) != 0:  # transactions: not offered
            return {"error_code": Err.COORDINATOR_NOT_AVAILABLE, "error_message": "transactions are not supported",
                    "node_id": -1, "host": "", "port": -1}  # fmt: skip
        return {"error_code": 0, "error_message": None, "node_id": c.node_id, "host": c.host,
                "port": c.port}  # fmt: skip

    async def join_group(self, version: int, req: Req) -> Req:
        group_id, member_id = req["group_id"], req["member_id"]
        session = req["session_timeout_ms"]
        fail = {"generation_id": -1, "member_id": member_id, "protocol_name": "", "leader": ""}
        if not group_id:
            return {**fail, "error_code": Err.INVALID_GROUP_ID}
        if not MIN_SESSION_MS <= session <= MAX_SESSION_MS:
            return {**fail, "error_code": Err.INVALID_SESSION_TIMEOUT}
        group = self.groups.setdefault(group_id, Group(group_id))
        protocols = [(p["name"], p["metadata"]) for p in req["protocols"]]
        if not protocols or (group.members and req["protocol_type"] != group.protocol_type):
            return {**fail, "error_code": Err.INCONSISTENT_GROUP_PROTOCOL}
        if group.members and not self._common(group, {n for n, _ in protocols}):
            return {**fail, "error_code": Err.INCONSISTENT_GROUP_PROTOCOL}
        if not member_id:
            if len(group.members) + len(group.pending) >= MAX_MEMBERS:
                return {**fail, "error_code": Err.GROUP_MAX_SIZE_REACHED}
            member_id = f"{req.get('_client_id') or 'member'}-{uuid.uuid4()}"
            if version >= 4:
                group.pending.add(member_id)  # forgotten unless it joins within its session
                asyncio.get_running_loop().call_later(
                    session / 1000, self._forget_pending, group, member_id
                )
                return {**fail, "member_id": member_id, "error_code": Err.MEMBER_ID_REQUIRED}
        elif member_id not in group.members and member_id not in group.pending:
            return {**fail, "error_code": Err.UNKNOWN_MEMBER_ID}
        group.pending.discard(member_id)
        member = group.members.get(member_id)
        rebalance = req.get("rebalance_timeout_ms", -1)
        if member is None:
            member = Member(member_id, req.get("group_instance_id"), req.get("_client_id") or "",
                            req.get("_client_host") or "", session,
                            rebalance if rebalance > 0 else session, protocols)  # fmt: skip
            group.members[member_id] = member
            group.protocol_type = req["protocol_type"]
        else:
            member.protocols, member.session_ms = protocols, session
            member.rebalance_ms = rebalance if rebalance > 0 else session
        if member.timer is not None:
            member.timer.cancel()
            member.timer = None
        if member.join is not None and not member.join.done():
            member.join.set_result({**fail, "error_code": Err.REBALANCE_IN_PROGRESS})
        joined: asyncio.Future[Req] = asyncio.get_running_loop().create_future()
        member.join = joined
        if group.state != PREPARING:
            self._prepare(group)
        self._maybe_complete_join(group)
        return await joined

    def _forget_pending(self, group: Group, member_id: str) -> None:
        group.pending.discard(member_id)
        self._drop_if_unused(group)

    def _drop_if_unused(self, group: Group) -> None:
        """An empty group is forgotten (its committed offsets stay in the store)."""
        unused = group.state == EMPTY and not group.members and not group.pending
        if unused and self.groups.get(group.group_id) is group:
            del self.groups[group.group_id]

    def _common(self, group: Group, offered: set[str]) -> list[str]:
        names = set(offered)
        for m in group.members.values():
            names &= {n for n, _ in m.protocols}
        return sorted(names)

    def _prepare(self, group: Group) -> None:
        for m in group.members.values():  # a member waiting in SyncGroup must rejoin
            if m.sync is not None and not m.sync.done():
                m.sync.set_result({"error_code": Err.REBALANCE_IN_PROGRESS, "assignment": b""})
        group.state = PREPARING
        timeout = max((m.rebalance_ms for m in group.members.values()), default=0) / 1000
        if group.join_timer is not None:
            group.join_timer.cancel()
        group.join_timer = asyncio.get_running_loop().call_later(
            timeout, self._complete_join, group
        )

    def _maybe_complete_join(self, group: Group) -> None:
        if group.state == PREPARING and all(
            m.join is not None and not m.join.done() for m in group.members.values()
        ):
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        if group.state != PREPARING:
            return
        if group.join_timer is not None:
            group.join_timer.cancel()
            group.join_timer = None
        for m in [m for m in group.members.values() if m.join is None or m.join.done()]:
            self._remove(group, m)  # did not rejoin in time
        group.generation += 1
        if not group.members:
            group.state, group.protocol, group.leader = EMPTY, None, ""
            self._drop_if_unused(group)
            return
        first = next(iter(group.members.values()))
        if group.leader not in group.members:
            group.leader = first.member_id
        common = self._common(group, {n for n, _ in first.protocols})
        leader = group.members[group.leader]
        group.protocol = next(n for n, _ in leader.protocols if n in common)
        group.state = COMPLETING
        listing = [
            {"member_id": m.member_id, "group_instance_id": m.instance_id,
             "metadata": dict(m.protocols)[group.protocol]}
            for m in group.members.values()
        ]  # fmt: skip
        for m in group.members.values():
            assert m.join is not None
            m.join.set_result({
                "error_code": 0, "generation_id": group.generation,
                "protocol_name": group.protocol, "leader": group.leader,
                "member_id": m.member_id,
                "members": listing if m.member_id == group.leader else [],
            })  # fmt: skip
            m.join = None
            self._touch(group, m)

    def _touch(self, group: Group, member: Member) -> None:
        """Restart `member`'s session timer."""
        if member.timer is not None:
            member.timer.cancel()
        member.timer = asyncio.get_running_loop().call_later(
            member.session_ms / 1000, self._expire, group, member
        )

    def _expire(self, group: Group, member: Member) -> None:
        if group.members.get(member.member_id) is member and member.join is None:
            self._remove(group, member)
            self._rebalance_after_loss(group)

    def _remove(self, group: Group, member: Member) -> None:
        group.members.pop(member.member_id, None)
        if member.timer is not None:
            member.timer.cancel()
        for future in (member.join, member.sync):
            if future is not None and not future.done():
                future.set_result({"error_code": Err.UNKNOWN_MEMBER_ID, "generation_id": -1,
                                   "member_id": member.member_id, "assignment": b""})  # fmt: skip

    def _rebalance_after_loss(self, group: Group) -> None:
        if not group.members:
            if group.join_timer is not None:
                group.join_timer.cancel()
            group.state, group.protocol, group.leader = EMPTY, None, ""
            group.generation += 1
            self._drop_if_unused(group)
        elif group.state == PREPARING:
            self._maybe_complete_join(group)
        else:
            self._prepare(group)

    def check(
        self, req: Req, generation: int | None = None
    ) -> tuple[Group | None, Member | None, Err]:
        """The group and member a request names, or UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION."""
        group = self.groups.get(req["group_id"])
        member = group.members.get(req["member_id"]) if group else None
        if group is None or member is None:
            return group, None, Err.UNKNOWN_MEMBER_ID
        if generation is not None and generation != group.generation:
            return group, member, Err.ILLEGAL_GENERATION
        return group, member, Err.NONE

    async def sync_group(self, version: int, req: Req) -> Req:
        group, member, err = self.check(req, req["generation_id"])
        if err:
            return {"error_code": err, "assignment": b""}
        assert group is not None and member is not None
        if group.state == PREPARING:
            return {"error_code": Err.REBALANCE_IN_PROGRESS, "assignment": b""}
        self._touch(group, member)
        if group.state == STABLE:
            return {"error_code": 0, "assignment": member.assignment}
        if member.member_id == group.leader:
            given = {a["member_id"]: a["assignment"] for a in req.get("assignments", [])}
            group.state = STABLE
            for m in group.members.values():
                m.assignment = given.get(m.member_id, b"")
                if m.sync is not None and not m.sync.done():
                    m.sync.set_result({"error_code": 0, "assignment": m.assignment})
                m.sync = None
            return {"error_code": 0, "assignment": member.assignment}
        synced: asyncio.Future[Req] = asyncio.get_running_loop().create_future()
        member.sync = synced
        return await synced

    async def heartbeat(self, version: int, req: Req) -> Req:
        group, member, err = self.check(req, req["generation_id"])
        if group is not None and member is not None and err != Err.UNKNOWN_MEMBER_ID:
            self._touch(group, member)
        if err:
            return {"error_code": err}
        assert group is not None
        return {"error_code": Err.REBALANCE_IN_PROGRESS if group.state == PREPARING else 0}

    async def leave_group(self, version: int, req: Req) -> Req:
        group = self.groups.get(req["group_id"])
        leaving = (
            [m["member_id"] for m in req.get("members", [])] if version >= 3 else [req["member_id"]]
        )
        results = []
        for member_id in leaving:
            member = group.members.get(member_id) if group else None
            if group is None or member is None:
                results.append({"member_id": member_id, "error_code": Err.UNKNOWN_MEMBER_ID})
                continue
            self._remove(group, member)
            results.append({"member_id": member_id, "error_code": 0})
        if group is not None and any(r["error_code"] == 0 for r in results):
            self._rebalance_after_loss(group)
        top = results[0]["error_code"] if version < 3 and results else 0
        return {"error_code": top, "members": results}

    def close(self) -> None:
        for group in self.groups.values():
            if group.join_timer is not None:
                group.join_timer.cancel()
            for member in group.members.values():
                if member.timer is not None:
                    member.timer.cancel()
