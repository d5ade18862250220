"""CreateTable, DescribeTable, ListTables, DeleteTable, DescribeLimits, DescribeEndpoints.

Table definitions are checked with DynamoDB's rules and messages before anything is stored;
the catalog change and the stored metadata commit in the same write job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fireside.aws.context import RequestContext
from fireside.tables.catalog import check_table_name, locked_table, table_name_of
from fireside.tables.engine import ReadTxn, WriteTxn
from fireside.tables.errors import INVALID, in_use, table_not_found, validation
from fireside.tables.policies import check_policy, new_revision
from fireside.tables.schema import IndexInfo, TableInfo
from fireside.tables.service import Tables
from fireside.tables.streamshards import open_stream
from fireside.tables.warm import check_initial, requested

__all__ = [
    "check_capacity_bounds",
    "check_table_definition",
    "create_table",
    "delete_table",
    "describe_endpoints",
    "describe_limits",
    "describe_table",
    "describe_with_stats",
    "index_from_request",
    "list_tables",
    "stream_label",
]

_MAX_GSI = 20
_MAX_LSI = 5


_MAX_CAPACITY_UNITS = 1_000_000_000_000


def stream_label(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _sorted(names: Sequence[str]) -> str:
    return "[" + ", ".join(sorted(names)) + "]"


def _check_key_schema(
    schema: Sequence[Mapping[str, str]], what: str = "KeySchema", *, multi: bool = False
) -> None:
    """`multi`: a GSI, whose key may have up to four HASH then up to four RANGE attributes."""
    if multi and len(schema) > 2:
        kinds = [e["KeyType"] for e in schema]
        hashes = kinds.count("HASH")
        if kinds != ["HASH"] * hashes + ["RANGE"] * (len(kinds) - hashes) or hashes == 0:
            raise validation(
                f"Invalid {what}: HASH key attributes must come before RANGE key attributes"
            )
        if hashes > 4 or len(kinds) - hashes > 4:
            raise validation(
                f"Invalid {what}: A key may have at most 4 HASH and 4 RANGE attributes"
            )
        names = [e["AttributeName"] for e in schema]
        if len(set(names)) != len(names):
            raise validation(f"Invalid {what}: Duplicate attribute names in KeySchema")
        return
    if len(schema) > 2:
        raise validation(
            f"1 validation error detected: Value '{list(schema)}' at 'keySchema' failed to "
            "satisfy constraint: Member must have length less than or equal to 2"
        )
    if len(schema) > 1 and schema[0]["AttributeName"] == schema[1]["AttributeName"]:
        # Without "One or more parameter values were invalid: " (dynalite's AWS-checked suite).
        raise validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        )
    if schema[0]["KeyType"] != "HASH":
        raise validation(f"Invalid {what}: The first KeySchemaElement is not a HASH key type")
    if len(schema) > 1 and schema[1]["KeyType"] != "RANGE":
        raise validation(f"Invalid {what}: The second KeySchemaElement is not a RANGE key type")


def _check_projection(name: str, projection: Mapping[str, Any]) -> None:
    kind = projection.get("ProjectionType")
    non_key = projection.get("NonKeyAttributes")
    if kind is None:
        raise validation(f"{INVALID}Unknown ProjectionType: null")
    if kind == "INCLUDE" and not non_key:
        raise validation(
            f"{INVALID}ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
        )
    if kind != "INCLUDE" and non_key:
        raise validation(f"{INVALID}ProjectionType is {kind}, but NonKeyAttributes is specified")
    if kind is None:
        raise validation(f"{INVALID}Unknown ProjectionType: null")


def _check_throughput(params: Mapping[str, Any], billing: str, index: str | None = None) -> None:
    throughput = params.get("ProvisionedThroughput")
    if billing == "PAY_PER_REQUEST":
        if throughput is not None:
            # dynalite's AWS-checked wording (moto's unverified test has another for tables).
            raise validation(
                f"{INVALID}ProvisionedThroughput should not be specified for index: {index} when "
                "BillingMode is PAY_PER_REQUEST"
                if index is not None
                else f"{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                "when BillingMode is PAY_PER_REQUEST"
            )
        return
    if throughput is None:
        if index is not None:
            raise validation(f"{INVALID}ProvisionedThroughput must be specified for index: {index}")
        raise validation(
            f"{INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when "
            "BillingMode is PROVISIONED"
        )
    check_capacity_bounds(throughput)


def check_capacity_bounds(throughput: Mapping[str, Any] | None) -> None:
    """Capacity units past DynamoDB's absolute bound (the account limits are not enforced)."""
    for member in ("ReadCapacityUnits", "WriteCapacityUnits"):
        value = (throughput or {}).get(member)
        if value is not None and value > _MAX_CAPACITY_UNITS:
            raise validation(f"Given value {value} for {member} is out of bounds")


def beyond_capacity_bounds(throughput: Mapping[str, Any] | None) -> bool:
    """Whether either capacity is past DynamoDB's absolute bound."""
    return any(
        (throughput or {}).get(member, 0) > _MAX_CAPACITY_UNITS
        for member in ("ReadCapacityUnits", "WriteCapacityUnits")
    )


def index_from_request(
    spec: Mapping[str, Any], kind: str, types: Mapping[str, str], index_id: int
) -> IndexInfo:
    schema = spec["KeySchema"]
    projection = dict(spec["Projection"])
    return IndexInfo(
        name=spec["IndexName"],
        kind=kind,
        key_schema=list(schema),
        projection=projection,
        index_id=index_id,
        throughput=dict(spec["ProvisionedThroughput"])
        if spec.get("ProvisionedThroughput")
        else None,
        types={e["AttributeName"]: types[e["AttributeName"]] for e in schema},
        warm=requested(spec.get("WarmThroughput")) or None if kind == "GSI" else None,
    )


def _check_definitions(params: Mapping[str, Any]) -> None:
    definitions = params["AttributeDefinitions"]
    defined = [d["AttributeName"] for d in definitions]
    schema = params["KeySchema"]
    table_keys = [e["AttributeName"] for e in schema]
    gsis = params.get("GlobalSecondaryIndexes")
    lsis = params.get("LocalSecondaryIndexes")
    if gsis is not None and not gsis:
        raise validation(f"{INVALID}List of GlobalSecondaryIndexes is empty")
    if lsis is not None and not lsis:
        raise validation(f"{INVALID}List of LocalSecondaryIndexes is empty")
    indexes = [*(gsis or ()), *(lsis or ())]
    if len(set(defined)) != len(defined):
        raise validation(f"{INVALID}Duplicate AttributeName in AttributeDefinitions")
    if not indexes:
        missing = [k for k in table_keys if k not in defined]
        if len(table_keys) > len(defined) and missing:
            raise validation("Invalid KeySchema: Some index key attribute have no definition")
        if len(table_keys) != len(defined):
            raise validation(
                f"{INVALID}Number of attributes in KeySchema does not exactly match number of "
                "attributes defined in AttributeDefinitions"
            )
        if missing:
            raise validation(
                f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: {_sorted(missing)}, AttributeDefinitions: {_sorted(defined)}"
            )
        return
    used = list(dict.fromkeys(
        table_keys + [e["AttributeName"] for index in indexes for e in index["KeySchema"]]
    ))  # fmt: skip
    missing = [k for k in used if k not in defined]
    if missing:
        raise validation(
            f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: {_sorted(missing)}, AttributeDefinitions: {_sorted(defined)}"
        )
    if len(used) != len(defined):
        raise validation(
            f"{INVALID}Some AttributeDefinitions are not used. AttributeDefinitions: "
            f"{_sorted(defined)}, keys used: {_sorted(used)}"
        )


def _check_indexes(params: Mapping[str, Any], billing: str) -> None:
    schema = params["KeySchema"]
    gsis = params.get("GlobalSecondaryIndexes") or []
    lsis = params.get("LocalSecondaryIndexes") or []
    if len(gsis) > _MAX_GSI:
        raise validation(
            f"{INVALID}GlobalSecondaryIndex count exceeds the per-table limit of {_MAX_GSI}"
        )
    if len(lsis) > _MAX_LSI:
        raise validation(
            f"{INVALID}Number of LocalSecondaryIndexes exceeds per-table limit of {_MAX_LSI}"
        )
    seen: set[str] = set()
    for spec in (*gsis, *lsis):
        name = spec["IndexName"]
        check_table_name(name, "indexName")
        if name in seen:
            raise validation(f"{INVALID}Duplicate index name: {name}")
        seen.add(name)
        _check_key_schema(spec["KeySchema"], "KeySchema", multi=spec in gsis)
        if spec in lsis:
            _check_lsi_key(spec, schema)
        _check_projection(name, spec["Projection"])
    for spec in gsis:
        _check_throughput(spec, billing, spec["IndexName"])
        check_initial(
            spec.get("WarmThroughput"),
            billing,
            spec.get("ProvisionedThroughput"),
            spec["IndexName"],
        )


def _check_lsi_key(spec: Mapping[str, Any], schema: Sequence[Mapping[str, str]]) -> None:
    """An LSI's key against its table's, checked before the LSI's projection."""
    name = spec["IndexName"]
    if len(schema) < 2:
        raise validation(
            f"{INVALID}Table KeySchema does not have a range key, which is required when "
            "specifying a LocalSecondaryIndex"
        )
    index_schema = spec["KeySchema"]
    if len(index_schema) < 2:
        raise validation(f"{INVALID}Index KeySchema does not have a range key for index: {name}")
    if index_schema[0]["AttributeName"] != schema[0]["AttributeName"]:
        raise validation(
            f"{INVALID}Index KeySchema does not have the same leading hash key as table "
            f"KeySchema for index: {name}. index hash key: "
            f"{index_schema[0]['AttributeName']}, table hash key: "
            f"{schema[0]['AttributeName']}"
        )


def _stream(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    enabled = bool(spec.get("StreamEnabled"))
    view = spec.get("StreamViewType")
    if enabled and view is None:
        raise validation(
            f"{INVALID}You must specify a StreamViewType when enabling a DynamoDB Stream"
        )
    if not enabled and view is not None:
        raise validation(f"{INVALID}You cannot modify stream status while creating a table")
    out: dict[str, Any] = {"StreamEnabled": enabled}
    if enabled:
        out["StreamViewType"] = view
    return out


def sse_description(spec: Mapping[str, Any] | None, ctx: RequestContext) -> dict[str, Any] | None:
    if not spec or not spec.get("Enabled"):
        return None
    key = spec.get("KMSMasterKeyId") or f"arn:aws:kms:{ctx.region}:{ctx.account_id}:key/default"
    return {"Status": "ENABLED", "SSEType": spec.get("SSEType", "KMS"), "KMSMasterKeyArn": key}


def check_table_definition(params: Mapping[str, Any]) -> None:
    """CreateTable's checks of a table definition, for callers that create the table later
    (ImportTable validates before it answers and creates the table in the background)."""
    check_table_name(params["TableName"])
    billing = params.get("BillingMode") or "PROVISIONED"
    # DynamoDB's order: billing, then the definitions, then the key schema's shape.
    _check_throughput(params, billing)
    if params.get("LocalSecondaryIndexes") and len(params["KeySchema"]) < 2:
        raise validation(
            f"{INVALID}Table KeySchema does not have a range key, which is required when "
            "specifying a LocalSecondaryIndex"
        )
    _check_definitions(params)
    _check_key_schema(params["KeySchema"])
    check_initial(params.get("WarmThroughput"), billing, params.get("ProvisionedThroughput"))
    _check_indexes(params, billing)


async def create_table(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    name = params["TableName"]
    check_table_definition(params)
    billing = params.get("BillingMode") or "PROVISIONED"
    stream = _stream(params.get("StreamSpecification"))
    types = {d["AttributeName"]: d["AttributeType"] for d in params["AttributeDefinitions"]}
    now = tables.clock()
    policy = params.get("ResourcePolicy")
    if policy is not None:
        check_policy(policy)
    info = TableInfo(
        table_id=0,
        account=ctx.account_id,
        region=ctx.region,
        name=name,
        key_schema=list(params["KeySchema"]),
        attribute_definitions=list(params["AttributeDefinitions"]),
        billing_mode=billing,
        throughput=dict(params["ProvisionedThroughput"])
        if params.get("ProvisionedThroughput")
        else None,
        stream=stream,
        stream_label=stream_label(now) if stream and stream["StreamEnabled"] else None,
        created=now,
        tags={t["Key"]: t["Value"] for t in params.get("Tags") or ()},
        deletion_protection=bool(params.get("DeletionProtectionEnabled")),
        table_class=params.get("TableClass"),
        sse=sse_description(params.get("SSESpecification"), ctx),
        policies={"": {"Policy": policy, "RevisionId": new_revision(now)}} if policy else {},
        warm=requested(params.get("WarmThroughput")) or None,
    )

    def job(txn: WriteTxn) -> TableInfo:
        if tables.catalog.get(ctx.account_id, ctx.region, name) is not None:
            raise in_use(f"Table already exists: {name}")
        info.table_id = txn.new_table(ctx.account_id, ctx.region, name, "{}")
        for kind, member in (("GSI", "GlobalSecondaryIndexes"), ("LSI", "LocalSecondaryIndexes")):
            for spec in params.get(member) or ():
                index = index_from_request(spec, kind, types, txn.new_index_id(info.table_id))
                info.indexes[index.name] = index
        txn.save_table(info.table_id, info.to_json())
        if info.stream_label is not None:
            open_stream(txn, info, info.stream_label, now)
        tables.catalog.put(info, txn)
        txn.on_rollback.append(lambda: tables.catalog.remove(info))
        return info

    created = await tables.engine.write(job)
    return {"TableDescription": created.describe()}


def describe_with_stats(txn: ReadTxn, table: TableInfo) -> dict[str, Any]:
    stats = txn.stats(table.table_id)
    index_stats = {i.name: txn.index_stats(i.index_id) for i in table.indexes.values()}
    return table.describe(stats, index_stats)


def control_table(tables: Tables, ctx: RequestContext, name: str) -> TableInfo:
    table = tables.catalog.get(ctx.account_id, ctx.region, name)
    if table is None:
        if not name.startswith("arn:"):
            check_table_name(name)
        raise table_not_found(table_name_of(name))
    return table


async def describe_table(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = control_table(tables, ctx, params["TableName"])
    description = await tables.engine.read(lambda txn: describe_with_stats(txn, table))
    return {"Table": description}


async def list_tables(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    names = tables.catalog.names(ctx.account_id, ctx.region)
    start = params.get("ExclusiveStartTableName")
    if start is not None:
        names = [n for n in names if n > start]
    limit = params.get("Limit") or 100
    out: dict[str, Any] = {"TableNames": names[:limit]}
    if len(names) > limit:
        out["LastEvaluatedTableName"] = names[limit - 1]
    return out


#: The members of DeleteTable's TableDescription, as DynamoDB answers it: no key schema,
#: attribute definitions, indexes or creation time; a stream's members stay (see
#: docs/tables.md).
_DELETED_FIELDS = (
    "TableName",
    "TableStatus",
    "ProvisionedThroughput",
    "TableSizeBytes",
    "ItemCount",
    "TableArn",
    "TableId",
    "BillingModeSummary",
    "StreamSpecification",
    "LatestStreamLabel",
    "LatestStreamArn",
)


async def delete_table(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    table = control_table(tables, ctx, params["TableName"])
    if table.deletion_protection:
        raise validation(
            f"1 validation error detected: Table '{table.name}' can't be deleted while "
            "DeletionProtectionEnabled is set to True"
        )
    tid = table.table_id

    def job(txn: WriteTxn) -> dict[str, Any]:
        live = locked_table(txn, tid)
        if live is None:
            raise table_not_found(table.name)
        description = describe_with_stats(txn, live)
        txn.drop_table(tid, [i.index_id for i in live.indexes.values()])
        tables.catalog.remove(live, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))
        return description

    full = await tables.engine.write(job)
    full["TableStatus"] = "DELETING"
    return {"TableDescription": {k: full[k] for k in _DELETED_FIELDS if k in full}}


async def describe_limits(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    return {
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    }


async def describe_endpoints(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    address = urlsplit(ctx.endpoint_url).netloc or f"dynamodb.{ctx.region}.amazonaws.com"
    return {"Endpoints": [{"Address": address, "CachePeriodInMinutes": 1440}]}
