"""DynamoDB Streams through boto3's `dynamodbstreams` client against a live server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Server
from tests.tables.conftest import TableFactory
from tests.tables.test_tables_items import error_of


@pytest.fixture()
def streams(tables_server: Server) -> Any:
    return tables_server.client("dynamodbstreams")


def read_all(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **extra: Any) -> list[Any]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra
    )["ShardIterator"]
    records: list[Any] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=2)
        records += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_records_follow_commits(
    ddb: Any, streams: Any, make_table: TableFactory, view: str
) -> None:
    table = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}, "b": {"B": b"\x00"}})
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}, "b": {"B": b"\x00"}})  # no change
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    ddb.delete_item(TableName=table, Key=key)
    ddb.delete_item(TableName=table, Key={"pk": {"S": "absent"}})  # no change
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "t"}}}}]
    )
    records = read_all(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE", "INSERT"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4
    modify = records[1]["dynamodb"]
    assert modify["Keys"] == key and modify["StreamViewType"] == view
    assert ("NewImage" in modify) == (view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"))
    assert ("OldImage" in modify) == (view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"))
    if "OldImage" in modify:
        assert modify["OldImage"]["v"] == {"N": "1"}
        assert modify["OldImage"]["b"] == {"B": b"\x00"}
    if "NewImage" in modify:
        assert modify["NewImage"]["v"] == {"N": "2"}
    assert records[0]["eventSource"] == "aws:dynamodb" and records[0]["awsRegion"] == "us-east-1"


def test_iterator_types_and_listing(ddb: Any, streams: Any, make_table: TableFactory) -> None:
    table = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    assert any(s["StreamArn"] == arn for s in streams.list_streams(TableName=table)["Streams"])
    for i in range(4):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}})
    records = read_all(streams, arn)
    second = records[1]["dynamodb"]["SequenceNumber"]
    at = read_all(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=second)
    after = read_all(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=second)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in at] == ["k1", "k2", "k3"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in after] == ["k2", "k3"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    ddb.put_item(TableName=table, Item={"pk": {"S": "later"}})
    page = streams.get_records(ShardIterator=latest)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["later"]
    # Disabling closes the shard: reading to its end returns no next iterator.
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in description["Shards"][0]["SequenceNumberRange"]
    page = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert page["Records"] == [] and "NextShardIterator" not in page
    missing = arn[:-3] + ("000" if not arn.endswith("000") else "001")  # another label
    assert error_of(streams.describe_stream, StreamArn=missing)[0] == "ResourceNotFoundException"
    assert error_of(streams.describe_stream, StreamArn=arn + "x") == (
        "ValidationException",
        "Invalid StreamArn",
    )
    assert error_of(streams.get_records, ShardIterator="bogus")[0] == "ValidationException"


def first_shard(streams: Any, arn: str) -> str:
    shard: str = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return shard


@pytest.mark.parametrize("kind", ["LATEST", "TRIM_HORIZON", "AT_SEQUENCE_NUMBER"])
def test_iterator_on_an_empty_stream_reads_its_first_record(
    ddb: Any, streams: Any, make_table: TableFactory, kind: str
) -> None:
    # Sequence numbers are shared by every stream of the server, so another table's records
    # make a fresh stream's first number large: an iterator taken before it must still read it
    # (it was answered TrimmedDataAccessException).
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    other = make_table(StreamSpecification=spec)
    for i in range(3):
        ddb.put_item(TableName=other, Item={"pk": {"S": f"o{i}"}})
    table = make_table(StreamSpecification=spec)
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    extra = {}
    if kind == "AT_SEQUENCE_NUMBER":
        extra = {"SequenceNumber": shard["SequenceNumberRange"]["StartingSequenceNumber"]}
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind, **extra
    )["ShardIterator"]
    ddb.put_item(TableName=other, Item={"pk": {"S": "between"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "new"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    page = streams.get_records(ShardIterator=iterator)
    assert [r["eventName"] for r in page["Records"]] == ["INSERT"]
    record = page["Records"][0]["dynamodb"]
    assert record["NewImage"] == {"pk": {"S": "new"}, "v": {"N": "1"}}
    assert "OldImage" not in record
    start = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    assert start["SequenceNumberRange"] == shard["SequenceNumberRange"]  # fixed at creation
    assert record["SequenceNumber"] >= shard["SequenceNumberRange"]["StartingSequenceNumber"]
