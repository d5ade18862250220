"""The messages the broker serves: each API's request and response tables, and its versions.

Written from the Kafka protocol guide (https://kafka.apache.org/protocol) for exactly the version
ranges advertised in `APIS`. Every range tops out at the API's first *flexible* version (compact
strings and arrays, tagged fields; the codec does both), where the fields are those of the
version before, give or take a few added here; raising a range means adding that version's
fields here.
"""

from __future__ import annotations

from fireside.kafka.codec import Api, Arr, F, Struct
from fireside.kafka.group_schemas import (
    DELETE_GROUPS,
    DESCRIBE_GROUPS,
    FIND_COORDINATOR,
    HEARTBEAT,
    JOIN_GROUP,
    LEAVE_GROUP,
    LIST_GROUPS,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    SYNC_GROUP,
)

__all__ = ["APIS", "API_VERSIONS", "Api", "api"]

S = Struct.of


_TOPIC_NAMES = Arr("str")

API_VERSIONS = Api(
    18, "ApiVersions", 0, 3, 3,
    S(F("client_software_name", "str", 3), F("client_software_version", "str", 3)),
    S(
        F("error_code", "i16"),
        F("api_keys", Arr(S(F("api_key", "i16"), F("min_version", "i16"), F("max_version", "i16")))),
        F("throttle_time_ms", "i32", 1),
    ),
)  # fmt: skip

METADATA = Api(
    3, "Metadata", 0, 9, 9,
    S(
        F("topics", Arr(S(F("name", "str")), nullable=True)),
        F("allow_auto_topic_creation", "bool", 4),
        F("include_cluster_authorized_operations", "bool", 8),
        F("include_topic_authorized_operations", "bool", 8),
    ),
    S(
        F("throttle_time_ms", "i32", 3),
        F("brokers", Arr(S(F("node_id", "i32"), F("host", "str"), F("port", "i32"), F("rack", "nstr", 1)))),
        F("cluster_id", "nstr", 2),
        F("controller_id", "i32", 1),
        F("topics", Arr(S(
            F("error_code", "i16"),
            F("name", "str"),
            F("is_internal", "bool", 1),
            F("partitions", Arr(S(
                F("error_code", "i16"),
                F("partition_index", "i32"),
                F("leader_id", "i32"),
                F("leader_epoch", "i32", 7),
                F("replica_nodes", Arr("i32")),
                F("isr_nodes", Arr("i32")),
                F("offline_replicas", Arr("i32"), 5),
            ))),
            F("topic_authorized_operations", "i32", 8),
        ))),
        F("cluster_authorized_operations", "i32", 8),
    ),
)  # fmt: skip

PRODUCE = Api(
    0, "Produce", 3, 9, 9,
    S(
        F("transactional_id", "nstr"),
        F("acks", "i16"),
        F("timeout_ms", "i32"),
        F("topic_data", Arr(S(
            F("name", "str"),
            F("partition_data", Arr(S(F("index", "i32"), F("records", "records")))),
        ))),
    ),
    S(
        F("responses", Arr(S(
            F("name", "str"),
            F("partition_responses", Arr(S(
                F("index", "i32"),
                F("error_code", "i16"),
                F("base_offset", "i64"),
                F("log_append_time_ms", "i64", 2),
                F("log_start_offset", "i64", 5),
                F("record_errors", Arr(S(F("batch_index", "i32"), F("batch_index_error_message", "nstr"))), 8),
                F("error_message", "nstr", 8),
            ))),
        ))),
        F("throttle_time_ms", "i32", 1),
    ),
)  # fmt: skip

FETCH = Api(
    1, "Fetch", 4, 12, 12,
    S(
        F("replica_id", "i32"),
        F("max_wait_ms", "i32"),
        F("min_bytes", "i32"),
        F("max_bytes", "i32", 3),
        F("isolation_level", "i8", 4),
        F("session_id", "i32", 7),
        F("session_epoch", "i32", 7),
        F("topics", Arr(S(
            F("topic", "str"),
            F("partitions", Arr(S(
                F("partition", "i32"),
                F("current_leader_epoch", "i32", 9),
                F("fetch_offset", "i64"),
                F("last_fetched_epoch", "i32", 12),
                F("log_start_offset", "i64", 5),
                F("partition_max_bytes", "i32"),
            ))),
        ))),
        F("forgotten_topics_data", Arr(S(F("topic", "str"), F("partitions", Arr("i32")))), 7),
        F("rack_id", "str", 11),
    ),
    S(
        F("throttle_time_ms", "i32", 1),
        F("error_code", "i16", 7),
        F("session_id", "i32", 7),
        F("responses", Arr(S(
            F("topic", "str"),
            F("partitions", Arr(S(
                F("partition_index", "i32"),
                F("error_code", "i16"),
                F("high_watermark", "i64"),
                F("last_stable_offset", "i64", 4),
                F("log_start_offset", "i64", 5),
                F("aborted_transactions", Arr(S(F("producer_id", "i64"), F("first_offset", "i64")), nullable=True), 4),
                F("preferred_read_replica", "i32", 11),
                F("records", "records"),
            ))),
        ))),
    ),
)  # fmt: skip

LIST_OFFSETS = Api(
    2, "ListOffsets", 1, 6, 6,
    S(
        F("replica_id", "i32"),
        F("isolation_level", "i8", 2),
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(
                F("partition_index", "i32"),
                F("current_leader_epoch", "i32", 4),
                F("timestamp", "i64"),
            ))),
        ))),
    ),
    S(
        F("throttle_time_ms", "i32", 2),
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(
                F("partition_index", "i32"),
                F("error_code", "i16"),
                F("timestamp", "i64", 1),
                F("offset", "i64", 1),
                F("leader_epoch", "i32", 4),
            ))),
        ))),
    ),
)  # fmt: skip

CREATE_TOPICS = Api(
    19, "CreateTopics", 0, 5, 5,
    S(
        F("topics", Arr(S(
            F("name", "str"),
            F("num_partitions", "i32"),
            F("replication_factor", "i16"),
            F("assignments", Arr(S(F("partition_index", "i32"), F("broker_ids", Arr("i32"))))),
            F("configs", Arr(S(F("name", "str"), F("value", "nstr")))),
        ))),
        F("timeout_ms", "i32"),
        F("validate_only", "bool", 1),
    ),
    S(
        F("throttle_time_ms", "i32", 2),
        F("topics", Arr(S(
            F("name", "str"),
            F("error_code", "i16"),
            F("error_message", "nstr", 1),
            F("num_partitions", "i32", 5),
            F("replication_factor", "i16", 5),
            F("configs", Arr(S(
                F("name", "str"), F("value", "nstr"), F("read_only", "bool"),
                F("config_source", "i8"), F("is_sensitive", "bool"),
            ), nullable=True), 5),
        ))),
    ),
)  # fmt: skip

DELETE_TOPICS = Api(
    20, "DeleteTopics", 0, 4, 4,
    S(F("topic_names", _TOPIC_NAMES), F("timeout_ms", "i32")),
    S(
        F("throttle_time_ms", "i32", 1),
        F("responses", Arr(S(F("name", "str"), F("error_code", "i16")))),
    ),
)  # fmt: skip

INIT_PRODUCER_ID = Api(
    22, "InitProducerId", 0, 2, 2,
    S(F("transactional_id", "nstr"), F("transaction_timeout_ms", "i32")),
    S(
        F("throttle_time_ms", "i32"),
        F("error_code", "i16"),
        F("producer_id", "i64"),
        F("producer_epoch", "i16"),
    ),
)  # fmt: skip

DESCRIBE_CONFIGS = Api(
    32, "DescribeConfigs", 0, 4, 4,
    S(
        F("resources", Arr(S(
            F("resource_type", "i8"),
            F("resource_name", "str"),
            F("configuration_keys", Arr("str", nullable=True)),
        ))),
        F("include_synonyms", "bool", 1),
        F("include_documentation", "bool", 3),
    ),
    S(
        F("throttle_time_ms", "i32"),
        F("results", Arr(S(
            F("error_code", "i16"),
            F("error_message", "nstr"),
            F("resource_type", "i8"),
            F("resource_name", "str"),
            F("configs", Arr(S(
                F("name", "str"),
                F("value", "nstr"),
                F("read_only", "bool"),
                F("is_default", "bool", 0, 0),
                F("config_source", "i8", 1),
                F("is_sensitive", "bool"),
                F("synonyms", Arr(S(F("name", "str"), F("value", "nstr"), F("source", "i8"))), 1),
                F("config_type", "i8", 3),
                F("documentation", "nstr", 3),
            ))),
        ))),
    ),
)  # fmt: skip

CREATE_PARTITIONS = Api(
    37, "CreatePartitions", 0, 2, 2,
    S(
        F("topics", Arr(S(
            F("name", "str"),
            F("count", "i32"),
            F("assignments", Arr(S(F("broker_ids", Arr("i32"))), nullable=True)),
        ))),
        F("timeout_ms", "i32"),
        F("validate_only", "bool"),
    ),
    S(
        F("throttle_time_ms", "i32"),
        F("results", Arr(S(F("name", "str"), F("error_code", "i16"), F("error_message", "nstr")))),
    ),
)  # fmt: skip

DELETE_RECORDS = Api(
    21, "DeleteRecords", 0, 2, 2,
    S(
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(F("partition_index", "i32"), F("offset", "i64")))),
        ))),
        F("timeout_ms", "i32"),
    ),
    S(
        F("throttle_time_ms", "i32"),
        F("topics", Arr(S(
            F("name", "str"),
            F("partitions", Arr(S(
                F("partition_index", "i32"), F("low_watermark", "i64"), F("error_code", "i16"),
            ))),
        ))),
    ),
)  # fmt: skip

APIS: dict[int, Api] = {
    a.key: a
    for a in (
        API_VERSIONS, METADATA, PRODUCE, FETCH, LIST_OFFSETS, CREATE_TOPICS, DELETE_TOPICS,
        INIT_PRODUCER_ID, DESCRIBE_CONFIGS, CREATE_PARTITIONS, FIND_COORDINATOR, JOIN_GROUP,
        SYNC_GROUP, HEARTBEAT, LEAVE_GROUP, OFFSET_COMMIT, OFFSET_FETCH, DESCRIBE_GROUPS,
        LIST_GROUPS, DELETE_GROUPS, DELETE_RECORDS,
    )
}  # fmt: skip


def api(key: int) -> Api | None:
    return APIS.get(key)
