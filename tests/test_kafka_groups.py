"""The group coordinator's state machine over raw frames: the MEMBER_ID_REQUIRED round, leader
election and assignment hand-out, REBALANCE_IN_PROGRESS on heartbeats when a member joins,
session expiry of a silent member, stale generations, LeaveGroup, and offset commits checked
against membership; DescribeGroups and ListGroups report it all."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.kafka_wire import Conn

FIND, JOIN, SYNC, HEARTBEAT, LEAVE, COMMIT, FETCH_OFFSETS, DESCRIBE, LIST = (
    10,
    11,
    14,
    12,
    13,
    8,
    9,
    15,
    16,
)
NONE, ILLEGAL_GENERATION, UNKNOWN_MEMBER, REBALANCING, MEMBER_ID_REQUIRED = 0, 22, 25, 27, 79


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("kafka-groups")).start()
    yield srv
    srv.stop()


def join(conn: Conn, group: str, member: str = "", session_ms: int = 10_000) -> dict[str, Any]:
    return conn.call(JOIN, 5, {"group_id": group, "session_timeout_ms": session_ms,
        "rebalance_timeout_ms": 10_000, "member_id": member, "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b"meta-" + member.encode()[-4:]}]})  # fmt: skip


def join_new(conn: Conn, group: str, session_ms: int = 10_000) -> dict[str, Any]:
    first = join(conn, group, session_ms=session_ms)
    assert first["error_code"] == MEMBER_ID_REQUIRED and first["member_id"]
    return join(conn, group, first["member_id"], session_ms)


def sync(
    conn: Conn, group: str, generation: int, member: str, assignments: list[Any]
) -> dict[str, Any]:
    return conn.call(SYNC, 3, {"group_id": group, "generation_id": generation, "member_id": member,
                               "assignments": assignments})  # fmt: skip


def heartbeat(conn: Conn, group: str, generation: int, member: str) -> int:
    answer = conn.call(
        HEARTBEAT, 3, {"group_id": group, "generation_id": generation, "member_id": member}
    )
    code: int = answer["error_code"]
    return code


def in_thread(fn: Any, *args: Any) -> dict[str, Any]:
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(result=fn(*args)))
    thread.start()
    box["thread"] = thread
    return box


def test_find_coordinator_is_this_broker(broker: Server) -> None:
    conn = Conn(broker.kafka_port)
    answer = conn.call(FIND, 2, {"key": "any-group", "key_type": 0})
    assert (answer["error_code"], answer["host"], answer["port"]) == (
        0,
        "127.0.0.1",
        broker.kafka_port,
    )
    conn.close()


def test_join_sync_rebalance_and_leave(broker: Server) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    a, b = Conn(broker.kafka_port), Conn(broker.kafka_port)
    first = join_new(a, group)
    member_a, gen1 = first["member_id"], first["generation_id"]
    assert first["error_code"] == NONE and first["leader"] == member_a
    assert [m["member_id"] for m in first["members"]] == [member_a]
    assert (
        sync(a, group, gen1, member_a, [{"member_id": member_a, "assignment": b"all"}])[
            "assignment"
        ]
        == b"all"
    )
    assert heartbeat(a, group, gen1, member_a) == NONE
    # B joins: the join waits until A rejoins, which A learns from its heartbeat.
    b_first = join(b, group)
    b_join = in_thread(join, b, group, b_first["member_id"])
    deadline = time.monotonic() + 10
    while heartbeat(a, group, gen1, member_a) != REBALANCING:
        assert time.monotonic() < deadline
    a_again = join(a, group, member_a)
    b_join["thread"].join(10)
    b_again = b_join["result"]
    gen2 = a_again["generation_id"]
    assert gen2 == b_again["generation_id"] > gen1
    assert (
        a_again["leader"] == member_a and len(a_again["members"]) == 2 and b_again["members"] == []
    )
    member_b = b_again["member_id"]
    b_sync = in_thread(sync, b, group, gen2, member_b, [])  # waits for the leader's assignment
    plan = [
        {"member_id": member_a, "assignment": b"p0"},
        {"member_id": member_b, "assignment": b"p1"},
    ]
    assert sync(a, group, gen2, member_a, plan)["assignment"] == b"p0"
    b_sync["thread"].join(10)
    assert b_sync["result"] == {"error_code": NONE, "assignment": b"p1", "throttle_time_ms": 0}
    assert heartbeat(a, group, gen1, member_a) == ILLEGAL_GENERATION
    described = a.call(DESCRIBE, 4, {"groups": [group]})["groups"][0]
    assert described["group_state"] == "Stable" and described["protocol_data"] == "range"
    assert sorted(m["member_assignment"] for m in described["members"]) == [b"p0", b"p1"]
    assert group in [g["group_id"] for g in a.call(LIST, 2, {})["groups"]]
    # B leaves; A must rejoin and becomes the group alone.
    assert (
        b.call(LEAVE, 3, {"group_id": group, "members": [{"member_id": member_b}]})["members"][0][
            "error_code"
        ]
        == NONE
    )
    assert heartbeat(a, group, gen2, member_a) == REBALANCING
    alone = join(a, group, member_a)
    assert alone["error_code"] == NONE and [m["member_id"] for m in alone["members"]] == [member_a]
    assert heartbeat(b, group, alone["generation_id"], member_b) == UNKNOWN_MEMBER
    a.close()
    b.close()


def test_silent_member_expires(broker: Server) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    a, b = Conn(broker.kafka_port), Conn(broker.kafka_port)
    first = join_new(a, group, session_ms=1000)
    sync(a, group, first["generation_id"], first["member_id"], [])
    started = time.monotonic()
    second = join_new(b, group)  # A never heartbeats or rejoins: dropped after its 1 s session
    assert second["error_code"] == NONE and [m["member_id"] for m in second["members"]] == [
        second["member_id"]
    ]
    assert time.monotonic() - started < 8
    assert heartbeat(a, group, first["generation_id"], first["member_id"]) == UNKNOWN_MEMBER
    a.close()
    b.close()


def test_offset_commit_checks_membership(broker: Server) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    conn = Conn(broker.kafka_port)
    conn.call(3, 8, {"topics": [{"name": "grp-offsets"}], "allow_auto_topic_creation": True})

    def commit(generation: int, member: str, offset: int) -> int:
        answer = conn.call(COMMIT, 7, {"group_id": group, "generation_id": generation, "member_id": member,
            "topics": [{"name": "grp-offsets", "partitions": [
                {"partition_index": 0, "committed_offset": offset, "committed_metadata": "m"}]}]})  # fmt: skip
        code: int = answer["topics"][0]["partitions"][0]["error_code"]
        return code

    assert commit(-1, "", 3) == NONE  # a standalone consumer's commit
    joined = join_new(conn, group)
    member, gen = joined["member_id"], joined["generation_id"]
    sync(conn, group, gen, member, [])
    assert commit(gen, "someone-else", 4) == UNKNOWN_MEMBER
    assert commit(gen + 5, member, 4) == ILLEGAL_GENERATION
    assert commit(gen, member, 9) == NONE
    fetched = conn.call(FETCH_OFFSETS, 5, {"group_id": group, "topics": None})
    [part] = fetched["topics"][0]["partitions"]
    assert (part["committed_offset"], part["metadata"]) == (9, "m")
    conn.close()
