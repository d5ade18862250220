"""PutItem, GetItem, UpdateItem, DeleteItem through boto3 against a live server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.tables.conftest import TableFactory


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_put_get_round_trip_keeps_every_type(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    item = {
        "pk": {"S": "k"},
        "s": {"S": "héllo 🙂"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.0"]},
        "bs": {"BS": [b"\x01"]},
        "m": {"M": {"x": {"L": [{"NULL": True}, {"BOOL": False}, {"S": ""}]}}},
        "l": {"L": []},
    }
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "k"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1.5"}  # DynamoDB normalizes numbers
    assert sorted(got["ns"]["NS"]) == ["1", "2"]
    assert got["b"] == {"B": b"\x00\xff"}
    assert got["m"] == item["m"]
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "missing"}}).get("Item") is None


def test_numbers_keep_38_digits(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    big = "1234567890123456789012345678901234567.8"
    ddb.put_item(TableName=table, Item={"pk": {"S": "n"}, "v": {"N": big}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "n"}},
        UpdateExpression="SET v = v + :tiny",
        ExpressionAttributeValues={":tiny": {"N": "0.1"}},
    )
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "n"}})["Item"]["v"]["N"]
    assert got == "1234567890123456789012345678901234567.9"
    code, message = error_of(
        ddb.put_item, TableName=table, Item={"pk": {"S": "n"}, "v": {"N": "1" * 39}}
    )
    assert (code, message) == (
        "ValidationException",
        "Attempting to store more than 38 significant digits in a Number",
    )
    code, message = error_of(
        ddb.put_item, TableName=table, Item={"pk": {"S": "n"}, "v": {"N": "1e126"}}
    )
    assert message == (
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )


def test_condition_expressions(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "c"}}
    ddb.put_item(
        TableName=table,
        Item={**key, "v": {"N": "5"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    code, message = error_of(
        ddb.put_item,
        TableName=table,
        Item={**key, "v": {"N": "6"}},
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert (code, message) == ("ConditionalCheckFailedException", "The conditional request failed")
    with pytest.raises(ClientError) as caught:
        ddb.delete_item(
            TableName=table,
            Key=key,
            ConditionExpression="v > :limit",
            ExpressionAttributeValues={":limit": {"N": "5"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert caught.value.response["Item"] == {**key, "v": {"N": "5"}}
    old = ddb.delete_item(
        TableName=table,
        Key=key,
        ConditionExpression="v BETWEEN :a AND :b AND NOT contains(v, :x)",
        ExpressionAttributeValues={":a": {"N": "1"}, ":b": {"N": "5"}, ":x": {"S": "q"}},
        ReturnValues="ALL_OLD",
    )
    assert old["Attributes"] == {**key, "v": {"N": "5"}}


def test_update_expressions(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "u"}}
    ddb.put_item(
        TableName=table,
        Item={
            **key,
            "count": {"N": "1"},
            "tags": {"SS": ["a", "b"]},
            "gone": {"SS": ["a"]},
            "hist": {"L": [{"S": "x"}, {"S": "y"}]},
            "lst": {"L": [{"S": "x"}, {"S": "y"}, {"S": "z"}]},
            "doc": {"M": {"nest": {"M": {"deep": {"N": "1"}}}}},
        },
    )
    result = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression=(
            "SET #c = #c + :one, doc.nest.deep = :two, lst = list_append(lst, :more), "
            "fresh = if_not_exists(fresh, :zero) REMOVE hist[0] ADD tags :c DELETE gone :a"
        ),
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":two": {"N": "2"},
            ":more": {"L": [{"S": "w"}]},
            ":zero": {"N": "0"},
            ":c": {"SS": ["c"]},
            ":a": {"SS": ["a"]},
        },
        ReturnValues="UPDATED_NEW",
    )
    assert result["Attributes"]["count"] == {"N": "2"}
    assert result["Attributes"]["doc"] == {"M": {"nest": {"M": {"deep": {"N": "2"}}}}}
    item = ddb.get_item(TableName=table, Key=key)["Item"]
    assert item["lst"]["L"] == [{"S": "x"}, {"S": "y"}, {"S": "z"}, {"S": "w"}]
    assert item["hist"]["L"] == [{"S": "y"}]
    assert sorted(item["tags"]["SS"]) == ["a", "b", "c"]
    assert "gone" not in item  # a set emptied by DELETE is removed
    assert item["fresh"] == {"N": "0"}


def test_update_creates_missing_item_and_return_values(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    key = {"pk": {"S": "new"}, "sk": {"N": "1"}}
    result = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET a = :a",
        ExpressionAttributeValues={":a": {"S": "v"}},
        ReturnValues="ALL_NEW",
    )
    assert result["Attributes"] == {**key, "a": {"S": "v"}}
    result = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="REMOVE a",
        ReturnValues="UPDATED_OLD",
    )
    assert result["Attributes"] == {"a": {"S": "v"}}


def test_projection_expression(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    ddb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "p"},
            "a": {"S": "1"},
            "m": {"M": {"x": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]}, "y": {"S": "2"}}},
        },
    )
    item = ddb.get_item(
        TableName=table,
        Key={"pk": {"S": "p"}},
        ProjectionExpression="a, #m.x[2], #m.x[0]",
        ExpressionAttributeNames={"#m": "m"},
    )["Item"]
    assert item == {"a": {"S": "1"}, "m": {"M": {"x": {"L": [{"N": "0"}, {"N": "2"}]}}}}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"Item": {"pk": {"N": "1"}}},
            "One or more parameter values were invalid: Type mismatch for key pk expected: S "
            "actual: N",
        ),
        (
            {"Item": {"x": {"S": "1"}}},
            "One or more parameter values were invalid: Missing the key pk in the item",
        ),
        (
            {"Item": {"pk": {"S": ""}}},
            "One or more parameter values were invalid: An AttributeValue may not contain an "
            "empty string. Key: pk",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "s": {"SS": []}}},
            "1 validation error detected: One or more parameter values were invalid: An string "
            "set  may not be empty",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "s": {"SS": ["x", "x"]}}},
            "One or more parameter values were invalid: Input collection [x, x] contains "
            "duplicates.",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "s": {}}},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "s": {"S": "x", "N": "1"}}},
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
            "the supported datatypes",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "s": {"NULL": False}}},
            "Null attribute value types must have the value of true",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "n": {"N": "x1"}}},
            "The parameter cannot be converted to a numeric value: x1",
        ),
        (
            {"Item": {"pk": {"S": "a"}, "big": {"S": "x" * 410_000}}},
            "Item size has exceeded the maximum allowed size",
        ),
        (
            {"Item": {"pk": {"S": "a"}}, "ReturnValues": "ALL_NEW"},
            "ReturnValues can only be ALL_OLD or NONE",
        ),
        (
            {
                "Item": {"pk": {"S": "a"}},
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#unused": "x"},
            },
            "1 validation error detected: Value provided in ExpressionAttributeNames unused in "
            "expressions: keys: {#unused}",
        ),
        (
            {
                "Item": {"pk": {"S": "a"}},
                "ConditionExpression": "a = :v",
            },
            "1 validation error detected: Invalid ConditionExpression: An expression attribute "
            "value used in expression is not defined; attribute value: :v",
        ),
        (
            {
                "Item": {"pk": {"S": "a"}},
                "ConditionExpression": "name = :v",
                "ExpressionAttributeValues": {":v": {"S": "x"}},
            },
            "1 validation error detected: Invalid ConditionExpression: Attribute name is a "
            "reserved keyword; reserved keyword: name",
        ),
        (
            {"Item": {"pk": {"S": "a"}}, "ExpressionAttributeValues": {":v": {"S": "x"}}},
            # The expressions that could have used them are named (dynalite's AWS-checked
            # suite; dynoxide's capture of DynamoDB).
            "1 validation error detected: ExpressionAttributeValues can only be specified when "
            "using expressions: ConditionExpression is null",
        ),
    ],
)
def test_put_item_validation(
    ddb: Any, make_table: TableFactory, params: dict[str, Any], message: str
) -> None:
    table = make_table()
    code, got = error_of(ddb.put_item, TableName=table, **params)
    assert (code, got) == ("ValidationException", message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"UpdateExpression": "SET a = :v,", "ExpressionAttributeValues": {":v": {"S": "x"}}},
            '1 validation error detected: Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ","',
        ),
        (
            {"UpdateExpression": "SET pk = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
            "One or more parameter values were invalid: Cannot update attribute pk. This attribute "
            "is part of the key",
        ),
        (
            {
                "UpdateExpression": "SET a = :v ADD b :n SET c = :v",
                "ExpressionAttributeValues": {":v": {"S": "x"}, ":n": {"N": "1"}},
            },
            '1 validation error detected: Invalid UpdateExpression: The "SET" section can only be '
            "used once in an update expression;",
        ),
        (
            {
                "UpdateExpression": "SET a = :v REMOVE a.b",
                "ExpressionAttributeValues": {":v": {"S": "x"}},
            },
            "1 validation error detected: Invalid UpdateExpression: Two document paths overlap "
            "with each other; must remove or rewrite one of these paths; path one: [a], path "
            "two: [a, b]",
        ),
        (
            {
                "UpdateExpression": "SET a = nothere + :n",
                "ExpressionAttributeValues": {":n": {"N": "1"}},
            },
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            {"UpdateExpression": "SET a = s + :n", "ExpressionAttributeValues": {":n": {"N": "1"}}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            {"UpdateExpression": "SET s.x = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            {"UpdateExpression": "DELETE s :n", "ExpressionAttributeValues": {":n": {"N": "1"}}},
            "1 validation error detected: Invalid UpdateExpression: Incorrect operand type for "
            "operator or function; operator or function: operator: DELETE, operand type: NUMBER",
        ),
        (
            {"UpdateExpression": "", "ExpressionAttributeValues": {":n": {"N": "1"}}},
            "1 validation error detected: Invalid UpdateExpression: The expression can not be "
            "empty;",
        ),
        (
            {"UpdateExpression": "SET a = :n", "ExpressionAttributeValues": {}},
            "1 validation error detected: ExpressionAttributeValues must not be empty",
        ),
        (
            {
                "UpdateExpression": "SET a = :n",
                "ReturnValues": "SOME",
                "ExpressionAttributeValues": {":n": {"N": "1"}},
            },
            "1 validation error detected: Value 'SOME' at 'returnValues' failed to satisfy "
            "constraint: Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, "
            "ALL_NEW, UPDATED_NEW]",
        ),
    ],
)
def test_update_item_validation(
    ddb: Any, make_table: TableFactory, params: dict[str, Any], message: str
) -> None:
    table = make_table()
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "s": {"S": "text"}})
    code, got = error_of(ddb.update_item, TableName=table, Key={"pk": {"S": "a"}}, **params)
    assert (code, got) == ("ValidationException", message)


def test_key_validation(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    for key in ({"pk": {"N": "1"}}, {"pk": {"S": "a"}, "sk": {"S": "b"}}, {"other": {"S": "a"}}):
        assert error_of(ddb.get_item, TableName=table, Key=key) == (
            "ValidationException",
            "The provided key element does not match the schema",
        )
    assert error_of(ddb.get_item, TableName="no-such-table", Key={"pk": {"S": "a"}}) == (
        "ResourceNotFoundException",
        "Requested resource not found",
    )
    assert error_of(ddb.get_item, TableName=table, Key={"pk": {"S": ""}}) == (
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk",
    )
    long_key = {"pk": {"S": "x" * 2049}}
    assert error_of(ddb.put_item, TableName=table, Item=long_key) == (
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
        "limit of2048 bytes",
    )


def test_responses_carry_crc32(ddb: Any, make_table: TableFactory) -> None:
    import zlib

    table = make_table()
    captured: list[Any] = []
    ddb.meta.events.register(
        "after-call.dynamodb.GetItem", lambda http_response, **_: captured.append(http_response)
    )
    ddb.get_item(TableName=table, Key={"pk": {"S": "x"}})
    response = captured[0]
    assert response.headers["x-amz-crc32"] == str(zlib.crc32(response.content))
