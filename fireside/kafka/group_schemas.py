"""The group coordinator's messages: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups and ListGroups (see `schemas`)."""

from __future__ import annotations

from fireside.kafka.codec import Api, Arr, F, Struct

__all__ = [
    "DELETE_GROUPS",
    "DESCRIBE_GROUPS",
    "FIND_COORDINATOR",
    "HEARTBEAT",
    "JOIN_GROUP",
    "LEAVE_GROUP",
    "LIST_GROUPS",
    "OFFSET_COMMIT",
    "OFFSET_FETCH",
    "SYNC_GROUP",
]

S = Struct.of


FIND_COORDINATOR = Api(
    10, "FindCoordinator", 0, 3, 3,
    S(F("key", "str"), F("key_type", "i8", 1)),
    S(
        F("throttle_time_ms", "i32", 1),
        F("error_code", "i16"),
        F("error_message", "nstr", 1),
        F("node_id", "i32"),
        F("host", "str"),
        F("port", "i32"),
    ),
)  # fmt: skip

JOIN_GROUP = Api(
    11, "JoinGroup", 0, 6, 6,
    S(
        F("group_id", "str"),
        F("session_timeout_ms", "i32"),
        F("rebalance_timeout_ms", "i32", 1),
        F("member_id", "str"),
        F("group_instance_id", "nstr", 5),
        F("protocol_type", "str"),
        F("protocols", Arr(S(F("name", "str"), F("metadata", "bytes")))),
    ),
    S(
        F("throttle_time_ms", "i32", 2),
        F("error_code", "i16"),
        F("generation_id", "i32"),
        F("protocol_name", "str"),
        F("leader", "str"),
        F("member_id", "str"),
        F("members", Arr(S(F("member_id", "str"), F("group_instance_id", "nstr", 5), F("metadata", "bytes")))),
    ),
)  # fmt: skip

SYNC_GROUP = Api(
    14, "SyncGroup", 0, 4, 4,
    S(
        F("group_id", "str"),
        F("generation_id", "i32"),
        F("member_id", "str"),
        F("group_instance_id", "nstr", 3),
        F("assignments", Arr(S(F("member_id", "str"), F("assignment", "bytes")))),
    ),
    S(F("throttle_time_ms", "i32", 1), F("error_code", "i16"), F("assignment", "bytes")),
)  # fmt: skip

HEARTBEAT = Api(
    12, "Heartbeat", 0, 4, 4,
    S(F("group_id", "str"), F("generation_id", "i32"), F("member_id", "str"), F("group_instance_id", "nstr", 3)),
    S(F("throttle_time_ms", "i32", 1), F("error_code", "i16")),
)  # fmt: skip

LEAVE_GROUP = Api(
    13, "LeaveGroup", 0, 4, 4,
    S(
        F("group_id", "str"),
        F("member_id", "str", 0, 2),
        F("members", Arr(S(F("member_id", "str"), F("group_instance_id", "nstr"))), 3),
    ),
    S(
        F("throttle_time_ms", "i32", 1),
        F("error_code", "i16"),
        F("members", Arr(S(F("member_id", "str"), F("group_instance_id", "nstr"), F("error_code", "i16"))), 3),
    ),
)  # fmt: skip

OFFSET_COMMIT = Api(
    8, "OffsetCommit", 2, 8, 8,
    S(
        F("group_id", "str"),
        F("generation_id", "i32", 1),
        F("member_id", "str", 1),
        F("group_instance_id", "nstr", 7),
        F("retention_time_ms", "i64", 2, 4),
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(
                F("partition_index", "i32"),
                F("committed_offset", "i64"),
                F("committed_leader_epoch", "i32", 6),
                F("committed_metadata", "nstr"),
            ))),
        ))),
    ),
    S(
        F("throttle_time_ms", "i32", 3),
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(F("partition_index", "i32"), F("error_code", "i16")))),
        ))),
    ),
)  # fmt: skip

OFFSET_FETCH = Api(
    9, "OffsetFetch", 1, 6, 6,
    S(
        F("group_id", "str"),
        F("topics", Arr(S(F("name", "str"), F("partition_indexes", Arr("i32"))), nullable=True)),
    ),
    S(
        F("throttle_time_ms", "i32", 3),
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(
                F("partition_index", "i32"),
                F("committed_offset", "i64"),
                F("committed_leader_epoch", "i32", 5),
                F("metadata", "nstr"),
                F("error_code", "i16"),
            ))),
        ))),
        F("error_code", "i16", 2),
    ),
)  # fmt: skip

DESCRIBE_GROUPS = Api(
    15, "DescribeGroups", 0, 5, 5,
    S(F("groups", Arr("str")), F("include_authorized_operations", "bool", 3)),
    S(
        F("throttle_time_ms", "i32", 1),
        F("groups", Arr(S(
            F("error_code", "i16"),
            F("group_id", "str"),
            F("group_state", "str"),
            F("protocol_type", "str"),
            F("protocol_data", "str"),
            F("members", Arr(S(
                F("member_id", "str"),
                F("group_instance_id", "nstr", 4),
                F("client_id", "str"),
                F("client_host", "str"),
                F("member_metadata", "bytes"),
                F("member_assignment", "bytes"),
            ))),
            F("authorized_operations", "i32", 3),
        ))),
    ),
)  # fmt: skip

LIST_GROUPS = Api(
    16, "ListGroups", 0, 3, 3,
    S(),
    S(
        F("throttle_time_ms", "i32", 1),
        F("error_code", "i16"),
        F("groups", Arr(S(F("group_id", "str"), F("protocol_type", "str")))),
    ),
)  # fmt: skip

DELETE_GROUPS = Api(
    42, "DeleteGroups", 0, 2, 2,
    S(F("groups_names", Arr("str"))),
    S(F("throttle_time_ms", "i32"), F("results", Arr(S(F("group_id", "str"), F("error_code", "i16"))))),
)  # fmt: skip
