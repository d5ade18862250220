"""Query and Scan through boto3: key order, paging, filters, Select, indexes, parallel scan."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.tables.conftest import TableFactory
from tests.tables.test_tables_items import error_of


def fill(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in chunk]})


def test_number_sort_keys_order_by_value(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    numbers = ["-10", "-2", "-1.5", "0", "1E-130", "0.5", "2", "10", "1e125", "-1e125"]
    fill(ddb, table, [{"pk": {"S": "p"}, "sk": {"N": n}} for n in numbers])
    page = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    got = [float(i["sk"]["N"]) for i in page["Items"]]
    assert got == sorted(got)
    assert page["Count"] == len(numbers)


def test_string_and_binary_keys_order_by_bytes(ddb: Any, make_table: TableFactory) -> None:
    strings = make_table(range_key=("sk", "S"))
    values = ["a", "B", "aa", "é", "Z", "🙂", ""[:0] + "0"]
    fill(ddb, strings, [{"pk": {"S": "p"}, "sk": {"S": v}} for v in values])
    page = ddb.query(
        TableName=strings,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ScanIndexForward=False,
    )
    got = [i["sk"]["S"] for i in page["Items"]]
    assert got == sorted(values, key=lambda s: s.encode(), reverse=True)
    binaries = make_table(range_key=("sk", "B"))
    blobs = [b"\x00", b"\xff", b"\x7f", b"\x80\x00", b"\x01\x02"]
    fill(ddb, binaries, [{"pk": {"S": "p"}, "sk": {"B": b}} for b in blobs])
    page = ddb.query(
        TableName=binaries,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    assert [i["sk"]["B"] for i in page["Items"]] == sorted(blobs)


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("sk = :a", {":a": "b"}, ["b"]),
        ("sk < :a", {":a": "b"}, ["a"]),
        ("sk <= :a", {":a": "b"}, ["a", "b"]),
        ("sk > :a", {":a": "bz"}, ["c", "ca"]),
        (":a <= sk", {":a": "c"}, ["c", "ca"]),
        ("sk BETWEEN :a AND :b", {":a": "b", ":b": "c"}, ["b", "bz", "c"]),
        ("begins_with(sk, :a)", {":a": "c"}, ["c", "ca"]),
    ],
)
def test_sort_key_conditions(
    ddb: Any, make_table: TableFactory, condition: str, values: dict[str, str], expected: list[str]
) -> None:
    table = make_table(range_key=("sk", "S"))
    fill(ddb, table, [{"pk": {"S": "p"}, "sk": {"S": s}} for s in ["a", "b", "bz", "c", "ca"]])
    fill(ddb, table, [{"pk": {"S": "other"}, "sk": {"S": "b"}}])
    page = ddb.query(
        TableName=table,
        KeyConditionExpression=f"pk = :p AND {condition}",
        ExpressionAttributeValues={":p": {"S": "p"}, **{k: {"S": v} for k, v in values.items()}},
    )
    assert [i["sk"]["S"] for i in page["Items"]] == expected


def test_paging_with_limit_filter_and_exclusive_start(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    fill(
        ddb,
        table,
        [{"pk": {"S": "p"}, "sk": {"N": str(i)}, "even": {"BOOL": i % 2 == 0}} for i in range(10)],
    )
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    pages = 0
    while True:
        page = ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            FilterExpression="even = :t",
            ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"BOOL": True}},
            Limit=3,
            **kwargs,
        )
        pages += 1
        assert page["ScannedCount"] <= 3
        seen += [i["sk"]["N"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == ["0", "2", "4", "6", "8"]
    assert pages == 4


def test_one_megabyte_page_cap_counts_before_filtering(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    blob = "x" * 100_000
    fill(
        ddb, table, [{"pk": {"S": "p"}, "sk": {"N": str(i)}, "big": {"S": blob}} for i in range(15)]
    )
    page = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        FilterExpression="attribute_not_exists(big)",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    assert page["Count"] == 0
    assert 9 <= page["ScannedCount"] < 15
    assert "LastEvaluatedKey" in page


def test_select_count_and_projection(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    fill(ddb, table, [{"pk": {"S": str(i)}, "a": {"N": str(i)}, "b": {"S": "x"}} for i in range(5)])
    counted = ddb.scan(TableName=table, Select="COUNT")
    assert counted["Count"] == 5 and "Items" not in counted
    projected = ddb.scan(TableName=table, ProjectionExpression="a")
    assert all(set(i) == {"a"} for i in projected["Items"])
    assert error_of(ddb.scan, TableName=table, Select="SPECIFIC_ATTRIBUTES") == (
        "ValidationException",
        "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression when choosing to get "
        "SPECIFIC_ATTRIBUTES",
    )
    assert error_of(ddb.scan, TableName=table, Select="ALL_PROJECTED_ATTRIBUTES") == (
        "ValidationException",
        "1 validation error detected: ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
    )


def test_parallel_scan_segments_partition_the_table(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    fill(ddb, table, [{"pk": {"S": uuid.uuid4().hex}} for _ in range(60)])
    keys: list[str] = []
    for segment in range(4):
        page = ddb.scan(TableName=table, Segment=segment, TotalSegments=4)
        keys += [i["pk"]["S"] for i in page["Items"]]
    assert len(keys) == 60 == len(set(keys))
    assert error_of(ddb.scan, TableName=table, Segment=3, TotalSegments=3) == (
        "ValidationException",
        "The Segment parameter is zero-based and must be less than parameter TotalSegments",
    )


def test_global_and_local_indexes(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(
        range_key=("sk", "S"),
        attributes={"g": "S", "when": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "when", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-when",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "when", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
            }
        ],
    )
    items = [
        {
            "pk": {"S": "p"},
            "sk": {"S": "a"},
            "g": {"S": "x"},
            "when": {"N": "3"},
            "note": {"S": "n"},
            "other": {"S": "o"},
        },
        {"pk": {"S": "p"}, "sk": {"S": "b"}, "g": {"S": "x"}, "when": {"N": "1"}},
        {"pk": {"S": "p"}, "sk": {"S": "c"}, "when": {"N": "2"}},  # not in the GSI (sparse)
    ]
    fill(ddb, table, items)
    page = ddb.query(
        TableName=table,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "x"}},
    )
    assert [i["sk"]["S"] for i in page["Items"]] == ["b", "a"]
    assert set(page["Items"][1]) == {"pk", "sk", "g", "when"}  # KEYS_ONLY
    assert set(page.get("LastEvaluatedKey", {})) <= {
        "pk",
        "sk",
        "g",
        "when",
    }
    page = ddb.query(
        TableName=table,
        IndexName="by-when",
        KeyConditionExpression="pk = :p AND #w > :w",
        ExpressionAttributeNames={"#w": "when"},
        ExpressionAttributeValues={":p": {"S": "p"}, ":w": {"N": "1"}},
    )
    assert [i["sk"]["S"] for i in page["Items"]] == ["c", "a"]
    assert "other" not in page["Items"][1] and page["Items"][1]["note"] == {"S": "n"}
    page = ddb.query(
        TableName=table,
        IndexName="by-when",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="ALL_ATTRIBUTES",
        Limit=1,
        ScanIndexForward=False,
    )
    assert page["Items"][0]["other"] == {"S": "o"}  # an LSI fetches from the table
    assert page["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"S": "a"}, "when": {"N": "3"}}
    # Moving an item's index key moves its index entry.
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "p"}, "sk": {"S": "b"}},
        UpdateExpression="SET g = :y",
        ExpressionAttributeValues={":y": {"S": "y"}},
    )
    assert ddb.scan(TableName=table, IndexName="by-g")["Count"] == 2
    assert error_of(
        ddb.query,
        TableName=table,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "x"}},
        ConsistentRead=True,
    ) == ("ValidationException", "Consistent reads are not supported on global secondary indexes")
    assert error_of(
        ddb.query,
        TableName=table,
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "x"}},
        Select="ALL_ATTRIBUTES",
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported "
        "for global secondary index by-g because its projection type is not ALL",
    )
    assert error_of(
        ddb.put_item,
        TableName=table,
        Item={"pk": {"S": "p"}, "sk": {"S": "z"}, "g": {"N": "1"}},
    ) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S "
        "Actual: N IndexName: by-g",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"KeyConditionExpression": "sk = :v", "ExpressionAttributeValues": {":v": {"S": "a"}}},
            "Query condition missed key schema element: pk",
        ),
        (
            {"KeyConditionExpression": "pk < :v", "ExpressionAttributeValues": {":v": {"S": "a"}}},
            "Query key condition not supported",
        ),
        (
            {
                "KeyConditionExpression": "pk = :v OR sk = :v",
                "ExpressionAttributeValues": {":v": {"S": "a"}},
            },
            "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            {
                "KeyConditionExpression": "pk = :v AND sk = pk",
                "ExpressionAttributeValues": {":v": {"S": "a"}},
            },
            "Invalid KeyConditionExpression: Invalid condition in KeyConditionExpression: "
            "Multiple attribute names used in one condition",
        ),
        (
            {
                "KeyConditionExpression": "pk = :v",
                "FilterExpression": "sk = :v",
                "ExpressionAttributeValues": {":v": {"S": "a"}},
            },
            "Filter Expression can only contain non-primary key attributes: Primary key "
            "attribute: sk",
        ),
        (
            {
                "KeyConditionExpression": "pk = :v",
                "ExpressionAttributeValues": {":v": {"S": "a"}},
                "ExpressionAttributeNames": {"#count": "count"},
            },
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}",
        ),
        (
            {
                "KeyConditionExpression": "pk = :v",
                "ProjectionExpression": "name",
                "ExpressionAttributeValues": {":v": {"S": "a"}},
            },
            "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved "
            "keyword: name",
        ),
        (
            {"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
            "One or more parameter values were invalid: Condition parameter type does not match "
            "schema type",
        ),
        (
            {
                "KeyConditionExpression": "pk = :v",
                "IndexName": "nope",
                "ExpressionAttributeValues": {":v": {"S": "a"}},
            },
            "The table does not have the specified index: nope",
        ),
    ],
)
def test_query_validation(
    ddb: Any, make_table: TableFactory, params: dict[str, Any], message: str
) -> None:
    table = make_table(range_key=("sk", "S"))
    assert error_of(ddb.query, TableName=table, **params) == ("ValidationException", message)


def test_legacy_parameters(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    fill(
        ddb,
        table,
        [{"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"N": str(i * 10)}} for i in range(5)],
    )
    page = ddb.query(
        TableName=table,
        KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
            "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "1"}]},
        },
        QueryFilter={"v": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "40"}]}},
        AttributesToGet=["sk"],
    )
    assert page["Items"] == [{"sk": {"N": "1"}}, {"sk": {"N": "2"}}, {"sk": {"N": "3"}}]
    page = ddb.scan(
        TableName=table,
        ScanFilter={
            "v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "10"}, {"N": "20"}]}
        },
    )
    assert page["Count"] == 2
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "p"}, "sk": {"N": "0"}},
        AttributeUpdates={
            "v": {"Action": "ADD", "Value": {"N": "5"}},
            "l": {"Action": "ADD", "Value": {"L": [{"S": "x"}]}},
            "gone": {"Action": "DELETE"},
        },
        Expected={"v": {"Value": {"N": "0"}}, "missing": {"Exists": False}},
    )
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "0"}})["Item"]
    assert item["v"] == {"N": "5"} and item["l"] == {"L": [{"S": "x"}]}
    assert error_of(
        ddb.update_item,
        TableName=table,
        Key={"pk": {"S": "p"}, "sk": {"N": "0"}},
        AttributeUpdates={"v": {"Action": "PUT", "Value": {"N": "1"}}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    ) == (
        "ValidationException",
        "1 validation error detected: Can not use both expression and non-expression parameters "
        "in the same request: Non-expression parameters: {AttributeUpdates} Expression "
        "parameters: {UpdateExpression}",
    )
