"""Global secondary indexes with multi-attribute keys (up to 4 partition and 4 sort attributes)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tables.conftest import TableFactory
from tests.tables.test_tables_items import error_of


@pytest.fixture()
def table(ddb: Any, make_table: TableFactory) -> str:
    name = make_table(
        attributes={"g1": "S", "g2": "N", "s1": "S", "s2": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "multi",
                "KeySchema": [
                    {"AttributeName": "g1", "KeyType": "HASH"},
                    {"AttributeName": "g2", "KeyType": "HASH"},
                    {"AttributeName": "s1", "KeyType": "RANGE"},
                    {"AttributeName": "s2", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    rows = [
        ("1", "a", 1, "x", 100),
        ("2", "a", 1, "x", 200),
        ("3", "a", 1, "x", 300),
        ("4", "a", 1, "y", 150),
        ("5", "a", 1, "x\x00z", 5),
        ("6", "a", 2, "x", 100),
    ]
    for pk, g1, g2, s1, s2 in rows:
        ddb.put_item(
            TableName=name,
            Item={"pk": {"S": pk}, "g1": {"S": g1}, "g2": {"N": str(g2)}, "s1": {"S": s1},
                  "s2": {"N": str(s2)}},
        )  # fmt: skip
    ddb.put_item(TableName=name, Item={"pk": {"S": "7"}, "g1": {"S": "a"}, "g2": {"N": "1"}})
    return name


def keys(ddb: Any, table: str, condition: str, **values: Any) -> list[str]:
    page = ddb.query(
        TableName=table,
        IndexName="multi",
        KeyConditionExpression=condition,
        ExpressionAttributeValues={
            ":g1": {"S": "a"},
            ":g2": {"N": "1"},
            **{f":{k}": v for k, v in values.items()},
        },
    )
    return [i["pk"]["S"] for i in page["Items"]]


def test_sort_order_and_conditions(ddb: Any, table: str) -> None:
    base = "g1 = :g1 AND g2 = :g2"
    # Tuple order: s1 first (with the embedded NUL sorting after "x"), then s2.
    assert keys(ddb, table, base) == ["1", "2", "3", "5", "4"]  # "7" lacks the sort keys
    assert keys(ddb, table, f"{base} AND s1 = :s", s={"S": "x"}) == ["1", "2", "3"]
    assert keys(ddb, table, f"{base} AND s1 > :s", s={"S": "x"}) == ["5", "4"]
    assert keys(ddb, table, f"{base} AND s1 <= :s", s={"S": "x"}) == ["1", "2", "3"]
    assert keys(ddb, table, f"{base} AND begins_with(s1, :s)", s={"S": "x"}) == ["1", "2", "3", "5"]
    assert keys(
        ddb, table, f"{base} AND s1 = :s AND s2 BETWEEN :lo AND :hi",
        s={"S": "x"}, lo={"N": "150"}, hi={"N": "300"},
    ) == ["2", "3"]  # fmt: skip
    assert keys(ddb, table, f"{base} AND s1 = :s AND s2 > :n", s={"S": "x"}, n={"N": "100"}) == [
        "2",
        "3",
    ]


def test_key_condition_rules(ddb: Any, table: str) -> None:
    code, message = error_of(
        ddb.query,
        TableName=table,
        IndexName="multi",
        KeyConditionExpression="g1 = :g1",
        ExpressionAttributeValues={":g1": {"S": "a"}},
    )
    assert (code, message) == (
        "ValidationException",
        "Query condition missed key schema element: g2",
    )
    code, message = error_of(
        ddb.query,
        TableName=table,
        IndexName="multi",
        KeyConditionExpression="g1 = :g1 AND g2 = :g2 AND s2 > :n",
        ExpressionAttributeValues={":g1": {"S": "a"}, ":g2": {"N": "1"}, ":n": {"N": "1"}},
    )
    assert code == "ValidationException" and "s1" in message
    code, _ = error_of(
        ddb.query,
        TableName=table,
        IndexName="multi",
        KeyConditionExpression="g1 = :g1 AND g2 = :g2 AND s1 > :s AND s2 = :n",
        ExpressionAttributeValues={
            ":g1": {"S": "a"}, ":g2": {"N": "1"}, ":s": {"S": "x"}, ":n": {"N": "1"},
        },
    )  # fmt: skip
    assert code == "ValidationException"


def test_paging_resumes_inside_the_composite_order(ddb: Any, table: str) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = ddb.query(
            TableName=table,
            IndexName="multi",
            KeyConditionExpression="g1 = :g1 AND g2 = :g2",
            ExpressionAttributeValues={":g1": {"S": "a"}, ":g2": {"N": "1"}},
            Limit=2,
            **kwargs,
        )
        seen += [i["pk"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        assert {"g1", "g2", "s1", "s2", "pk"} <= set(page["LastEvaluatedKey"])
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == ["1", "2", "3", "5", "4"]
