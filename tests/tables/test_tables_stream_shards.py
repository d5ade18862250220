"""DynamoDB Streams as a consumer sees them: every iterator type with every view type, images of
writes to missing items, GetShardIterator's validation, paging, and shard lineage across a
restart. Against a live server with boto3, on both engines."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Server, wait_for
from tests.tables.conftest import TableFactory, table_params
from tests.tables.test_tables_items import error_of

VIEWS = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
KINDS = ["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"]


@pytest.fixture()
def streams(tables_server: Server) -> Any:
    return tables_server.client("dynamodbstreams")


@pytest.fixture()
def raw_streams(tables_server: Server) -> Any:
    """A client that sends what it is given: the server's own validation answers."""
    return tables_server.client("dynamodbstreams", parameter_validation=False)


def stream_of(ddb: Any, table: str) -> str:
    arn: str = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    return arn


def shards_of(streams: Any, arn: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every shard of a stream, paging DescribeStream as consumers do."""
    shards: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    while True:
        page = streams.describe_stream(StreamArn=arn, Limit=limit, **extra)["StreamDescription"]
        shards += page["Shards"]
        if "LastEvaluatedShardId" not in page:
            return shards
        assert page["LastEvaluatedShardId"] == page["Shards"][-1]["ShardId"]
        extra = {"ExclusiveStartShardId": page["LastEvaluatedShardId"]}


def drain(streams: Any, iterator: str) -> tuple[list[Any], str | None]:
    """Read a shard from `iterator` until a read comes back empty or the shard ends."""
    records: list[Any] = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=2)
        records += page["Records"]
        following = page.get("NextShardIterator")
        if following is None or not page["Records"]:
            return records, following
        iterator = following


def key_of(record: Any) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def check_images(record: Any, view: str, old: Any, new: Any) -> None:
    """A record carries the images its view type keeps, and only those that exist."""
    body = record["dynamodb"]
    assert body["StreamViewType"] == view
    keeps_new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    keeps_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    assert body.get("NewImage") == (new if keeps_new else None)
    assert body.get("OldImage") == (old if keeps_old else None)
    assert body["SequenceNumber"].isdigit() and 21 <= len(body["SequenceNumber"]) <= 40
    assert body["SizeBytes"] > 0


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_iterator_type_with_every_view_type(
    ddb: Any, streams: Any, make_table: TableFactory, view: str, kind: str
) -> None:
    table = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    arn = stream_of(ddb, table)
    opened = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    shard = opened["ShardId"]
    # Taken before the first write (AT_SEQUENCE_NUMBER of the shard's start); AFTER the start
    # is left out, as the first record may be numbered the start itself.
    start = opened["SequenceNumberRange"]["StartingSequenceNumber"]
    fresh_kind = "AT_SEQUENCE_NUMBER" if kind == "AFTER_SEQUENCE_NUMBER" else kind
    fresh = streams.get_shard_iterator(
        StreamArn=arn,
        ShardId=shard,
        ShardIteratorType=fresh_kind,
        **({"SequenceNumber": start} if fresh_kind == "AT_SEQUENCE_NUMBER" else {}),
    )
    a = {"pk": {"S": "a"}}
    first, second = {**a, "v": {"N": "1"}}, {**a, "v": {"N": "2"}}
    ddb.put_item(TableName=table, Item=first)
    ddb.update_item(
        TableName=table,
        Key=a,
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    ddb.delete_item(TableName=table, Key=a)
    # UpdateItem of a missing item creates it: an INSERT without an old image.
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "b"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "3"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": "missing"}})  # changes nothing: no record

    everything, _ = drain(
        streams,
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ],
    )
    assert [(r["eventName"], key_of(r)) for r in everything] == [
        ("INSERT", "a"),
        ("MODIFY", "a"),
        ("REMOVE", "a"),
        ("INSERT", "b"),
    ]
    check_images(everything[0], view, None, first)
    check_images(everything[1], view, first, second)
    check_images(everything[2], view, second, None)
    check_images(everything[3], view, None, {"pk": {"S": "b"}, "v": {"N": "3"}})
    numbers = [r["dynamodb"]["SequenceNumber"] for r in everything]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4

    if kind == "TRIM_HORIZON":
        iterator, expected = None, everything
    elif kind == "LATEST":
        iterator, expected = latest["ShardIterator"], everything[2:]
    elif kind == "AT_SEQUENCE_NUMBER":
        iterator, expected = None, everything[1:]
    else:
        iterator, expected = None, everything[2:]
    if iterator is None:
        extra = {} if kind == "TRIM_HORIZON" else {"SequenceNumber": numbers[1]}
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra
        )["ShardIterator"]
    read, following = drain(streams, iterator)
    assert read == expected
    # Taken before the first write, every kind starts at the shard's start.
    assert fresh["ShardIterator"] != iterator
    assert drain(streams, fresh["ShardIterator"])[0] == everything
    # The shard is open: an empty read still hands on an iterator, which sees later writes.
    assert following is not None
    ddb.put_item(TableName=table, Item={"pk": {"S": "c"}})
    assert [key_of(r) for r in streams.get_records(ShardIterator=following)["Records"]] == ["c"]


def test_a_failed_condition_or_an_identical_put_writes_no_record(
    ddb: Any, streams: Any, make_table: TableFactory
) -> None:
    table = make_table(
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )
    arn = stream_of(ddb, table)
    item = {"pk": {"S": "a"}, "v": {"N": "1"}}
    ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item=item)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["eventName"] for r in drain(streams, iterator)[0]] == ["INSERT"]


def test_get_shard_iterator_validation(
    ddb: Any, streams: Any, raw_streams: Any, make_table: TableFactory
) -> None:
    table = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    arn = stream_of(ddb, table)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    shard_id = shard["ShardId"]
    start = shard["SequenceNumberRange"]["StartingSequenceNumber"]
    assert 28 <= len(shard_id) <= 65 and 21 <= len(start) <= 40 and start.isdigit()

    def refused(**params: Any) -> tuple[str, str]:
        return error_of(raw_streams.get_shard_iterator, **params)

    base = {"StreamArn": arn, "ShardId": shard_id}
    # The model's constraints, in Coral's words.
    assert refused(StreamArn=arn, ShardId="shardId-1", ShardIteratorType="LATEST") == (
        "ValidationException",
        "1 validation error detected: Value 'shardId-1' at 'shardId' failed to satisfy "
        "constraint: Member must have length greater than or equal to 28",
    )
    assert refused(StreamArn=arn, ShardId="s" * 66, ShardIteratorType="LATEST") == (
        "ValidationException",
        f"1 validation error detected: Value '{'s' * 66}' at 'shardId' failed to satisfy "
        "constraint: Member must have length less than or equal to 65",
    )
    assert refused(**base, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="12") == (
        "ValidationException",
        "1 validation error detected: Value '12' at 'sequenceNumber' failed to satisfy "
        "constraint: Member must have length greater than or equal to 21",
    )
    assert refused(StreamArn="arn:short", ShardId=shard_id, ShardIteratorType="LATEST")[0] == (
        "ValidationException"
    )
    assert refused(**base, ShardIteratorType="bulle")[0] == "ValidationException"
    # Well-formed lengths, malformed values.
    assert refused(StreamArn="x" * 60, ShardId=shard_id, ShardIteratorType="LATEST") == (
        "ValidationException",
        "Invalid StreamArn",
    )
    letters = "a" * 25
    assert refused(**base, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=letters) == (
        "ValidationException",
        f"Invalid SequenceNumber provided: {letters}",
    )
    # SequenceNumber: required for AT_/AFTER_SEQUENCE_NUMBER, refused for the others.
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        assert refused(**base, ShardIteratorType=kind) == (
            "ValidationException",
            f"Sequence number must be specified for {kind} iterator type",
        )
    for kind in ("TRIM_HORIZON", "LATEST"):
        assert refused(**base, ShardIteratorType=kind, SequenceNumber=start) == (
            "ValidationException",
            f"Sequence number should not be specified for {kind} iterator type",
        )
    # The shard's start is valid before any record; numbers outside the shard are not.
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        assert streams.get_shard_iterator(**base, ShardIteratorType=kind, SequenceNumber=start)
    before = f"{int(start) - 1:021d}"
    never = f"{int(start) + 10**9:021d}"
    for number in (before, never):
        assert refused(**base, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=number) == (
            "ValidationException",
            f"Invalid SequenceNumber provided for shard {shard_id}: {number}",
        )
    # Things that do not exist.
    other = arn[: -len("000")] + ("000" if not arn.endswith("000") else "001")
    assert refused(StreamArn=other, ShardId=shard_id, ShardIteratorType="LATEST") == (
        "ResourceNotFoundException",
        f"Requested resource not found: Stream: {other} not found",
    )
    gone = arn.replace(f"table/{table}/", "table/no-such-table/")
    assert refused(StreamArn=gone, ShardId=shard_id, ShardIteratorType="LATEST")[0] == (
        "ResourceNotFoundException"
    )
    for wrong in ("shardId-00000000000000000000-00000000", "adfasdasdasdasdasdasdasdasdasasdasd"):
        assert refused(StreamArn=arn, ShardId=wrong, ShardIteratorType="LATEST") == (
            "ResourceNotFoundException",
            f"Requested resource not found: Shard does not exist: {wrong}",
        )
    # Limits the service caps although the model does not.
    assert error_of(raw_streams.list_streams, Limit=101)[0] == "ValidationException"
    assert error_of(raw_streams.describe_stream, StreamArn=arn, Limit=101)[0] == (
        "ValidationException"
    )
    iterator = streams.get_shard_iterator(**base, ShardIteratorType="LATEST")["ShardIterator"]
    assert iterator.startswith(f"{arn}|")
    assert error_of(raw_streams.get_records, ShardIterator=iterator, Limit=1001) == (
        "ValidationException",
        "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000",
    )
    assert error_of(raw_streams.get_records, ShardIterator="x" * 50) == (
        "ValidationException",
        "Invalid ShardIterator",
    )


def test_list_streams_pages(ddb: Any, streams: Any, make_table: TableFactory) -> None:
    spec = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    ours = [make_table(StreamSpecification=spec) for _ in range(3)]
    without = make_table()
    arns = sorted(stream_of(ddb, t) for t in ours)
    seen: list[str] = []
    extra: dict[str, Any] = {}
    while True:
        page = streams.list_streams(Limit=2, **extra)
        assert len(page["Streams"]) <= 2
        seen += [s["StreamArn"] for s in page["Streams"]]
        if "LastEvaluatedStreamArn" not in page:
            break
        assert page["LastEvaluatedStreamArn"] == page["Streams"][-1]["StreamArn"]
        extra = {"ExclusiveStartStreamArn": page["LastEvaluatedStreamArn"]}
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert [a for a in seen if a in arns] == arns
    assert not any(f"table/{without}/" in a for a in seen)
    one = streams.list_streams(TableName=ours[1])
    assert [s["StreamArn"] for s in one["Streams"]] == [stream_of(ddb, ours[1])]
    assert one["Streams"][0]["TableName"] == ours[1] and "LastEvaluatedStreamArn" not in one
    assert streams.list_streams(TableName=without)["Streams"] == []
    assert error_of(streams.list_streams, TableName="no-such-table") == (
        "ResourceNotFoundException",
        "Requested resource not found: Table: no-such-table not found",
    )
    # A page starts after the ARN given, even one whose stream is gone meanwhile.
    ddb.delete_table(TableName=ours[0])
    after = streams.list_streams(ExclusiveStartStreamArn=arns[0])["Streams"]
    assert [s["StreamArn"] for s in after if s["StreamArn"] in arns] == [
        a for a in arns[1:] if f"table/{ours[0]}/" not in a
    ]
    assert error_of(streams.list_streams, ExclusiveStartStreamArn="x" * 40) == (
        "ValidationException",
        "Invalid StreamArn",
    )


def test_empty_reads_and_closed_shards(ddb: Any, streams: Any, make_table: TableFactory) -> None:
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    # A stream disabled before any write: its only shard is closed and empty.
    empty = make_table(StreamSpecification=spec)
    arn = stream_of(ddb, empty)
    ddb.update_table(TableName=empty, StreamSpecification={"StreamEnabled": False})
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    numbers = shard["SequenceNumberRange"]
    assert numbers["EndingSequenceNumber"] == numbers["StartingSequenceNumber"]
    for kind in ("TRIM_HORIZON", "LATEST"):
        page = streams.get_records(
            ShardIterator=streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind
            )["ShardIterator"]
        )
        assert page["Records"] == [] and "NextShardIterator" not in page

    table = make_table(StreamSpecification=spec)
    arn = stream_of(ddb, table)
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    page = streams.get_records(ShardIterator=iterator)
    assert page["Records"] == [] and page["NextShardIterator"]  # open: read again later
    for i in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}})
    page = streams.get_records(ShardIterator=page["NextShardIterator"], Limit=2)
    assert [key_of(r) for r in page["Records"]] == ["k0", "k1"]
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    (closed,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    # Closed at its last record; the rest is still read, then the shard ends.
    page = streams.get_records(ShardIterator=page["NextShardIterator"], Limit=2)
    assert [key_of(r) for r in page["Records"]] == ["k2"] and "NextShardIterator" not in page
    last = page["Records"][0]["dynamodb"]["SequenceNumber"]
    assert closed["SequenceNumberRange"]["EndingSequenceNumber"] == last
    # Exactly Limit records reaching the end also end the shard.
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=last
    )["ShardIterator"]
    page = streams.get_records(ShardIterator=iterator, Limit=1)
    assert [key_of(r) for r in page["Records"]] == ["k2"] and "NextShardIterator" not in page
    # Writes after disabling make no records; a number past the closed shard is refused.
    ddb.put_item(TableName=table, Item={"pk": {"S": "later"}})
    assert streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"] == [closed]
    past = f"{int(last) + 1:021d}"
    assert error_of(
        streams.get_shard_iterator,
        StreamArn=arn,
        ShardId=shard_id,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        SequenceNumber=past,
    )[0] == ("ValidationException")


def test_shard_lineage_survives_a_restart(
    engine_env: dict[str, str], fresh_server: Callable[..., Server], tmp_path: Any
) -> None:
    # Shards roll over after 0.3 s here (DynamoDB: about 4 hours).
    env = {**engine_env, "FIRESIDE_TABLES_SHARD_LIFETIME": "0.3"}
    data = tmp_path / "lineage"
    server = fresh_server(data, **env)
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    table = f"lineage-{time.time_ns()}"
    ddb.create_table(
        **table_params(
            table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        )
    )
    arn = stream_of(ddb, table)
    written: list[str] = []

    def write() -> None:
        key = f"k{len(written):03d}"
        ddb.put_item(TableName=table, Item={"pk": {"S": key}})
        written.append(key)

    def rolled(count: int) -> Callable[[], bool]:
        def check() -> bool:
            write()
            return len(shards_of(streams, arn)) >= count

        return check

    wait_for(rolled(3))
    shards = shards_of(streams, arn, limit=1)  # paged one shard at a time
    assert shards == shards_of(streams, arn)
    assert [s["ShardId"] for s in shards] == sorted(s["ShardId"] for s in shards)
    assert "ParentShardId" not in shards[0]
    for parent, child in itertools.pairwise(shards):
        assert child["ParentShardId"] == parent["ShardId"]
        assert (
            parent["SequenceNumberRange"]["EndingSequenceNumber"]
            < (child["SequenceNumberRange"]["StartingSequenceNumber"])
        )
    assert "EndingSequenceNumber" not in shards[-1]["SequenceNumberRange"]
    children = streams.describe_stream(
        StreamArn=arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shards[0]["ShardId"]}
    )["StreamDescription"]["Shards"]
    assert children == [shards[1]]

    def read_lineage() -> tuple[list[str], str]:
        """Read every shard from its start, parents first; the open shard's next iterator."""
        keys: list[str] = []
        following = ""
        for shard in shards_of(streams, arn):
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records, after = drain(streams, iterator)
            numbers = shard["SequenceNumberRange"]
            for record in records:
                assert record["dynamodb"]["SequenceNumber"] >= numbers["StartingSequenceNumber"]
            if "EndingSequenceNumber" in numbers:
                assert after is None  # a closed shard read to its end hands on no iterator
                assert (
                    records[-1]["dynamodb"]["SequenceNumber"] == (numbers["EndingSequenceNumber"])
                )
            else:
                assert after is not None
                following = after
            keys += [key_of(r) for r in records]
        return keys, following

    keys, following = read_lineage()
    assert keys == written
    latest = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shards[-1]["ShardId"], ShardIteratorType="LATEST"
    )["ShardIterator"]

    server.stop()
    server = fresh_server(data, **env)
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    assert shards_of(streams, arn) == shards  # ids, ranges and parents are stored
    assert read_lineage()[0] == written
    # The open shard is older than its lifetime: the next write rolls it over. An iterator
    # from before the restart reads the old shard to its end; its child has the record.
    write()
    after_restart = shards_of(streams, arn)
    assert after_restart[: len(shards) - 1] == shards[:-1]
    assert after_restart[len(shards)]["ParentShardId"] == shards[-1]["ShardId"]
    for iterator in (following, latest):
        page = streams.get_records(ShardIterator=iterator)
        assert page["Records"] == [] and "NextShardIterator" not in page
    assert read_lineage()[0] == written
    # Disabling closes the open shard.
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    final = shards_of(streams, arn)
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in final)
    assert read_lineage()[0] == written
    ddb.delete_table(TableName=table)


def test_a_re_enabled_table_keeps_its_earlier_stream_readable(
    ddb: Any, streams: Any, make_table: TableFactory
) -> None:
    table = make_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"})
    old = stream_of(ddb, table)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
    ddb.update_table(
        TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    new = stream_of(ddb, table)
    assert new != old
    ddb.put_item(TableName=table, Item={"pk": {"S": "b"}})
    listed = streams.list_streams(TableName=table)["Streams"]
    assert [s["StreamArn"] for s in listed] == sorted([old, new])
    described = {
        arn: streams.describe_stream(StreamArn=arn)["StreamDescription"] for arn in (old, new)
    }
    assert (described[old]["StreamStatus"], described[old]["StreamViewType"]) == (
        "DISABLED",
        "OLD_IMAGE",
    )
    assert (described[new]["StreamStatus"], described[new]["StreamViewType"]) == (
        "ENABLED",
        "NEW_IMAGE",
    )
    for arn, key in ((old, "a"), (new, "b")):
        shard = described[arn]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        assert iterator.startswith(f"{arn}|")
        page = streams.get_records(ShardIterator=iterator)
        assert [key_of(r) for r in page["Records"]] == [key]
        assert ("NextShardIterator" in page) == (arn == new)
    # Deleting the table deletes its streams.
    ddb.delete_table(TableName=table)
    for arn in (old, new):
        assert error_of(streams.describe_stream, StreamArn=arn)[0] == "ResourceNotFoundException"
