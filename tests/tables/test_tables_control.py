"""The control plane: CreateTable validation, describe/list/delete, UpdateTable, TTL, tags."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.conftest import Server
from tests.tables.conftest import TableFactory, table_params
from tests.tables.test_tables_items import error_of


def unique() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def test_create_describe_list_delete(ddb: Any) -> None:
    name = unique()
    created = ddb.create_table(
        **table_params(name, range_key=("sk", "N")),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=[{"Key": "team", "Value": "core"}],
    )["TableDescription"]
    assert created["TableStatus"] == "ACTIVE"
    assert created["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert created["LatestStreamArn"].startswith(created["TableArn"] + "/stream/")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "12345"}})
    described = ddb.describe_table(TableName=name)["Table"]
    assert described["ItemCount"] == 1 and described["TableSizeBytes"] > 0
    assert name in ddb.list_tables()["TableNames"]
    assert error_of(ddb.create_table, **table_params(name)) == (
        "ResourceInUseException",
        f"Table already exists: {name}",
    )
    deleted = ddb.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    assert error_of(ddb.describe_table, TableName=name) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Table: {name} not found",
    )
    # A recreated table starts empty.
    ddb.create_table(**table_params(name, range_key=("sk", "N")))
    assert ddb.scan(TableName=name)["Count"] == 0
    ddb.delete_table(TableName=name)


def test_list_tables_pages(ddb: Any, make_table: TableFactory) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}-"
    names = sorted(make_table(TableName=f"{prefix}{i}") for i in range(5))
    seen: list[str] = []
    kwargs: dict[str, Any] = {"ExclusiveStartTableName": prefix}
    while True:
        page = ddb.list_tables(Limit=2, **kwargs)
        seen += [n for n in page["TableNames"] if n.startswith(prefix)]
        if "LastEvaluatedTableName" not in page or not page["TableNames"][-1].startswith(prefix):
            break
        kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    assert seen == names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "extra", "AttributeType": "N"},
                ]
            },
            "One or more parameter values were invalid: Number of attributes in KeySchema does "
            "not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            {
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ]
            },
            "Invalid KeySchema: Some index key attribute have no definition",
        ),
        (
            {"AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}]},
            "One or more parameter values were invalid: Some index key attributes are not "
            "defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
        ),
        (
            {"BillingMode": "PROVISIONED"},
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
            "must both be specified when BillingMode is PROVISIONED",
        ),
        (
            # dynalite's AWS-checked suite (moto's unverified test words it otherwise).
            {"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}},
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
            "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (
            {"GlobalSecondaryIndexes": []},
            "One or more parameter values were invalid: List of GlobalSecondaryIndexes is empty",
        ),
        (
            {"TableName": "ab"},
            "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
            "Member must have length greater than or equal to 3",
        ),
        (
            {"TableName": "bad name!"},
            "1 validation error detected: Value 'bad name!' at 'tableName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ),
    ],
)
def test_create_table_validation(ddb: Any, change: dict[str, Any], message: str) -> None:
    params = {**table_params(unique()), **change}
    assert error_of(ddb.create_table, **params) == ("ValidationException", message)


def test_gsi_added_later_is_backfilled_and_deletable(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    for start in range(0, 120, 25):
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "colour": {"S": f"c{i % 4}"}}}}
                    for i in range(start, min(start + 25, 120))
                ]
            }
        )
    updated = ddb.update_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-colour",
                    "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )["TableDescription"]
    assert updated["GlobalSecondaryIndexes"][0]["IndexStatus"] in ("CREATING", "ACTIVE")
    deadline = time.monotonic() + 20
    while True:
        index = ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"][0]
        if index["IndexStatus"] == "ACTIVE" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert index["IndexStatus"] == "ACTIVE" and index["ItemCount"] == 120
    page = ddb.query(
        TableName=table,
        IndexName="by-colour",
        KeyConditionExpression="colour = :c",
        ExpressionAttributeValues={":c": {"S": "c1"}},
    )
    assert page["Count"] == 30
    ddb.update_table(
        TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-colour"}}]
    )
    assert "GlobalSecondaryIndexes" not in ddb.describe_table(TableName=table)["Table"]


def test_update_table_streams_and_billing(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    described = ddb.update_table(
        TableName=table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    assert described["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "KEYS_ONLY",
    }
    assert error_of(
        ddb.update_table,
        TableName=table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )[1].startswith("Table already has an enabled stream")
    described = ddb.update_table(
        TableName=table,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
    )["TableDescription"]
    assert described["ProvisionedThroughput"]["WriteCapacityUnits"] == 7


def test_deletion_protection(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(DeletionProtectionEnabled=True)
    code, message = error_of(ddb.delete_table, TableName=table)
    assert code == "ValidationException" and "DeletionProtectionEnabled" in message
    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)


def test_tags(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn + "-gone"
    assert error_of(ddb.list_tags_of_resource, ResourceArn=missing) == (
        "ResourceNotFoundException",
        f"Requested resource not found: ResourcArn: {missing} not found",
    )


def test_unimplemented_operation_is_named(ddb: Any) -> None:
    code, message = error_of(ddb.list_global_tables)
    assert code == "NotImplementedException"
    assert message == "Fireside does not implement the DynamoDB operation ListGlobalTables yet"


def test_time_to_live_expires_items(fresh_server: Any, engine_env: dict[str, str]) -> None:
    server: Server = fresh_server(FIRESIDE_TABLES_TTL_INTERVAL="0.2", **engine_env)
    ddb = server.client("dynamodb")
    ddb.create_table(
        **table_params(ttl_table := f"ttl-{uuid.uuid4().hex[:8]}"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"},
    )
    now = int(time.time())
    ddb.put_item(TableName=ttl_table, Item={"pk": {"S": "before"}, "exp": {"N": str(now - 5)}})
    ddb.update_time_to_live(
        TableName=ttl_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    )
    ddb.put_item(TableName=ttl_table, Item={"pk": {"S": "after"}, "exp": {"N": str(now - 1)}})
    ddb.put_item(TableName=ttl_table, Item={"pk": {"S": "future"}, "exp": {"N": str(now + 3600)}})
    ancient = str(now - 6 * 365 * 24 * 3600)
    ddb.put_item(TableName=ttl_table, Item={"pk": {"S": "ancient"}, "exp": {"N": ancient}})
    ddb.put_item(TableName=ttl_table, Item={"pk": {"S": "text"}, "exp": {"S": "soon"}})
    assert ddb.describe_time_to_live(TableName=ttl_table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "exp",
    }
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        keys = {i["pk"]["S"] for i in ddb.scan(TableName=ttl_table)["Items"]}
        if keys == {"future", "ancient", "text"}:
            break
        time.sleep(0.1)
    assert keys == {"future", "ancient", "text"}
    # TTL deletions reach the stream as the service's REMOVEs.
    streams = server.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=ttl_table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    removes = [
        r for r in streams.get_records(ShardIterator=iterator)["Records"]
        if r["eventName"] == "REMOVE"
    ]  # fmt: skip
    assert {r["dynamodb"]["Keys"]["pk"]["S"] for r in removes} == {"before", "after"}
    assert all(
        r["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
        for r in removes
    )
    assert error_of(
        ddb.update_time_to_live,
        TableName=ttl_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    ) == ("ValidationException", "TimeToLive is already enabled")
