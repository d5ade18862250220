"""Table and index metadata: what is stored per table, and DescribeTable's view of it.

A `TableInfo` is stored as JSON in the engine's `tables` row and cached in memory by the
`Catalog`. Its descriptions are built here, shaped as botocore's `TableDescription` so the wire
layer serializes them; nothing here is hand-written JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from fireside.tables.keys import KeySchema
from fireside.tables.values import AttributeValue
from fireside.tables.warm import describe_warm

__all__ = ["IndexInfo", "TableInfo"]


def _key_from_wire(schema: list[dict[str, str]], types: Mapping[str, str]) -> KeySchema:
    hashes = [
        (e["AttributeName"], types[e["AttributeName"]]) for e in schema if e["KeyType"] == "HASH"
    ]
    ranges = [
        (e["AttributeName"], types[e["AttributeName"]]) for e in schema if e["KeyType"] == "RANGE"
    ]
    first_range = ranges[0] if ranges else (None, None)
    return KeySchema(
        hashes[0][0],
        hashes[0][1],
        first_range[0],
        first_range[1],
        more_hashes=tuple(hashes[1:]),
        more_ranges=tuple(ranges[1:]),
    )


def _cached_key(schema: list[dict[str, str]], types: Mapping[str, str]) -> KeySchema:
    # Every item operation asks for its table's key: build each distinct one once.
    names = tuple(e["AttributeName"] for e in schema)
    signature = tuple(
        (e["AttributeName"], e["KeyType"], types.get(e["AttributeName"], "")) for e in schema
    )
    found = _KEYS.get(signature)
    if found is None:
        found = _KEYS[signature] = _key_from_wire(schema, {n: types[n] for n in names})
    return found


_KEYS: dict[tuple[tuple[str, str, str], ...], KeySchema] = {}
#: The key of each `key_schema` list seen lately, by the list's identity: a table's (or
#: index's) key never changes, and its `key_schema` list is never changed in place, so every
#: request after the first finds its key in one lookup. The list is held with its key (its id
#: cannot be reused meanwhile); emptied when large (definitions reloaded from storage are new
#: lists).
_BY_LIST: dict[int, tuple[list[dict[str, str]], KeySchema]] = {}


def _key_of(schema: list[dict[str, str]], types: Callable[[], Mapping[str, str]]) -> KeySchema:
    found = _BY_LIST.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    key = _cached_key(schema, types())
    if len(_BY_LIST) >= 4096:
        _BY_LIST.clear()
    _BY_LIST[id(schema)] = (schema, key)
    return key


@dataclass(slots=True)
class IndexInfo:
    name: str
    #: "GSI" or "LSI".
    kind: str
    key_schema: list[dict[str, str]]
    projection: dict[str, Any]
    index_id: int
    #: GSIs: CREATING (backfilling), ACTIVE, DELETING.
    status: str = "ACTIVE"
    throughput: dict[str, int] | None = None
    #: Attribute types of the index key (copied from the table's definitions).
    types: dict[str, str] = field(default_factory=dict)
    #: GSIs: pre-warmed throughput ({"ReadUnitsPerSecond": ..., ...}), see `warm.py`.
    warm: dict[str, int] | None = None

    @property
    def key(self) -> KeySchema:
        return _key_of(self.key_schema, lambda: self.types)

    @property
    def projection_type(self) -> str:
        return str(self.projection.get("ProjectionType", "ALL"))

    def projected(self, item: Mapping[str, AttributeValue], table_key: KeySchema) -> dict[str, Any]:
        """The copy of an item this index stores."""
        kind = self.projection_type
        if kind == "ALL":
            return dict(item)
        keep = set(table_key.names) | set(self.key.names)
        if kind == "INCLUDE":
            keep.update(self.projection.get("NonKeyAttributes", ()))
        return {name: value for name, value in item.items() if name in keep}

    def describe(self, table_arn: str, count: int, size: int, billing: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "IndexName": self.name,
            "KeySchema": self.key_schema,
            "Projection": self.projection,
            "IndexSizeBytes": size,
            "ItemCount": count,
            "IndexArn": f"{table_arn}/index/{self.name}",
        }
        if self.kind == "GSI":
            out["IndexStatus"] = self.status
            if self.status == "CREATING":
                out["Backfilling"] = True
            out["ProvisionedThroughput"] = _throughput(self.throughput, billing)
            if billing == "PAY_PER_REQUEST":
                out["OnDemandThroughput"] = {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}
            out["WarmThroughput"] = describe_warm(self.warm, billing, self.throughput, self.status)
        return out


def _throughput(throughput: Mapping[str, int] | None, billing: str) -> dict[str, Any]:
    if billing == "PAY_PER_REQUEST" or not throughput:
        return {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    return {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": throughput["ReadCapacityUnits"],
        "WriteCapacityUnits": throughput["WriteCapacityUnits"],
    }


@dataclass(slots=True)
class TableInfo:
    table_id: int
    account: str
    region: str
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    indexes: dict[str, IndexInfo] = field(default_factory=dict)
    billing_mode: str = "PROVISIONED"
    throughput: dict[str, int] | None = None
    #: {"StreamEnabled": bool, "StreamViewType": ...} or None.
    stream: dict[str, Any] | None = None
    stream_label: str | None = None
    ttl_attribute: str | None = None
    ttl_enabled: bool = False
    created: float = 0.0
    status: str = "ACTIVE"
    tags: dict[str, str] = field(default_factory=dict)
    deletion_protection: bool = False
    table_class: str | None = None
    sse: dict[str, Any] | None = None
    #: Point-in-time recovery (UpdateContinuousBackups): on since `pitr_since` (epoch seconds).
    pitr_enabled: bool = False
    pitr_since: float | None = None
    #: Point-in-time recovery's RecoveryPeriodInDays (None: DynamoDB's default, 35).
    pitr_days: int | None = None
    #: Pre-warmed throughput ({"ReadUnitsPerSecond": ..., ...}), see `warm.py`.
    warm: dict[str, int] | None = None
    #: Tables restored from a backup: their RestoreSummary (RestoreDateTime in epoch seconds).
    restore: dict[str, Any] | None = None
    #: Resource-based policies ({"Policy": ..., "RevisionId": ...}): the table's under "",
    #: its stream's under the stream label (see `policies.py`).
    policies: dict[str, dict[str, str]] = field(default_factory=dict)
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Bumped on every metadata change (used to detect stale cached copies).
    version: int = 1

    # -- derived -------------------------------------------------------------------------------

    @property
    def types(self) -> dict[str, str]:
        return {d["AttributeName"]: d["AttributeType"] for d in self.attribute_definitions}

    @property
    def key(self) -> KeySchema:
        return _key_of(self.key_schema, lambda: self.types)

    @property
    def arn(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.name}"

    @property
    def stream_arn(self) -> str | None:
        if self.stream_label is None:
            return None
        return f"{self.arn}/stream/{self.stream_label}"

    @property
    def stream_view(self) -> str | None:
        """The view type when a stream is enabled, else None."""
        if self.stream and self.stream.get("StreamEnabled"):
            return str(self.stream.get("StreamViewType"))
        return None

    def live_indexes(self) -> list[IndexInfo]:
        """Indexes writes must maintain (not those being deleted)."""
        return [i for i in self.indexes.values() if i.status != "DELETING"]

    # -- storage -------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TableInfo:
        data = json.loads(text)
        data["indexes"] = {k: IndexInfo(**v) for k, v in data.get("indexes", {}).items()}
        return cls(**data)

    # -- descriptions --------------------------------------------------------------------------

    def describe(
        self,
        stats: tuple[int, int] = (0, 0),
        index_stats: Mapping[str, tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        created = datetime.fromtimestamp(self.created, UTC)
        out: dict[str, Any] = {
            "AttributeDefinitions": self.attribute_definitions,
            "TableName": self.name,
            "KeySchema": self.key_schema,
            "TableStatus": self.status,
            "CreationDateTime": created,
            "ProvisionedThroughput": _throughput(self.throughput, self.billing_mode),
            "TableSizeBytes": stats[1],
            "ItemCount": stats[0],
            "TableArn": self.arn,
            "TableId": self.uid,
            "DeletionProtectionEnabled": self.deletion_protection,
        }
        if self.billing_mode == "PAY_PER_REQUEST":
            out["BillingModeSummary"] = {
                "BillingMode": "PAY_PER_REQUEST",
                "LastUpdateToPayPerRequestDateTime": created,
            }
            out["OnDemandThroughput"] = {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}
        else:
            out["BillingModeSummary"] = {"BillingMode": "PROVISIONED"}
        index_stats = index_stats or {}
        for kind, member in (("LSI", "LocalSecondaryIndexes"), ("GSI", "GlobalSecondaryIndexes")):
            described = [
                index.describe(self.arn, *index_stats.get(index.name, (0, 0)), self.billing_mode)
                for index in self.indexes.values()
                if index.kind == kind
            ]
            if described:
                out[member] = described
        if self.stream is not None:
            out["StreamSpecification"] = self.stream
        if self.stream_label is not None:
            out["LatestStreamLabel"] = self.stream_label
            out["LatestStreamArn"] = self.stream_arn
        if self.table_class:
            out["TableClassSummary"] = {"TableClass": self.table_class}
        if self.sse is not None:
            out["SSEDescription"] = self.sse
        out["WarmThroughput"] = describe_warm(self.warm, self.billing_mode, self.throughput)
        if self.restore is not None:
            out["RestoreSummary"] = {
                **self.restore,
                "RestoreDateTime": datetime.fromtimestamp(self.restore["RestoreDateTime"], UTC),
            }
        return out
