"""Request validation with DynamoDB's codes and messages, through boto3 against a live server.

Each case is one DynamoDB refuses before touching data: legacy `Expected` operands, expression
limits (size, operators, path depth), placeholders, tagging ARNs that are not a table's, and
values checked before the table is looked up.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.tables.conftest import TableFactory

_INVALID = "One or more parameter values were invalid: "
_CODED = "1 validation error detected: "


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"ComparisonOperator": "EQ", "AttributeValueList": []}, "Invalid number of argument(s) for the EQ ComparisonOperator"),
        ({"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}, "Invalid number of argument(s) for the EQ ComparisonOperator"),
        ({"ComparisonOperator": "BETWEEN", "Value": {"N": "1"}}, "Invalid number of argument(s) for the BETWEEN ComparisonOperator"),
        ({"ComparisonOperator": "NULL", "Value": {"N": "1"}}, "Invalid number of argument(s) for the NULL ComparisonOperator"),
        ({"ComparisonOperator": "IN", "AttributeValueList": []}, "Invalid number of argument(s) for the IN ComparisonOperator"),
        ({"ComparisonOperator": "LT"}, "Value or AttributeValueList must be used with ComparisonOperator: LT for Attribute: x"),
        ({"ComparisonOperator": "LT", "Exists": True, "Value": {"N": "1"}}, "Exists and ComparisonOperator cannot be used together for Attribute: x"),
        ({"AttributeValueList": [{"N": "1"}]}, "AttributeValueList can only be used with a ComparisonOperator for Attribute: x"),
        ({"Value": {"N": "1"}, "AttributeValueList": [{"N": "1"}]}, "Value and AttributeValueList cannot be used together for Attribute: x"),
        ({"ComparisonOperator": "IN", "AttributeValueList": [{"S": "a"}, {"N": "1"}]}, "AttributeValues inside AttributeValueList must be of same type"),
        ({}, "Value must be provided when Exists is null for Attribute: x"),
    ],
)  # fmt: skip
def test_expected_operands_are_validated(
    ddb: Any, make_table: TableFactory, condition: dict[str, Any], message: str
) -> None:
    table = make_table()
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "x": {"N": "1"}})
    for call, target in ((ddb.put_item, {"Item": {"pk": {"S": "k"}}}),
                         (ddb.delete_item, {"Key": {"pk": {"S": "k"}}}),
                         (ddb.update_item, {"Key": {"pk": {"S": "k"}}})):  # fmt: skip
        got = error_of(call, TableName=table, Expected={"x": condition}, **target)
        assert got == ("ValidationException", _INVALID + message)
    # Refused before the table is looked up, as DynamoDB does.
    got = error_of(ddb.delete_item, TableName="no-such-table", Key={"pk": {"S": "k"}},
                   Expected={"x": condition})  # fmt: skip
    assert got == ("ValidationException", _INVALID + message)
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]["x"] == {"N": "1"}


def test_expected_value_with_operator_is_its_argument(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "x": {"N": "5"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "x": {"N": "6"}},
                 Expected={"x": {"ComparisonOperator": "LT", "Value": {"N": "9"}}})  # fmt: skip
    code, _ = error_of(ddb.put_item, TableName=table, Item={"pk": {"S": "k"}},
                       Expected={"x": {"ComparisonOperator": "GT", "Value": {"N": "9"}}})  # fmt: skip
    assert code == "ConditionalCheckFailedException"
    got = error_of(ddb.put_item, TableName=table, Item={"pk": {"S": "k"}},
                   Expected={"x": {"ComparisonOperator": "BETWEEN",
                                   "AttributeValueList": [{"N": "9"}, {"N": "1"}]}})  # fmt: skip
    assert got == (
        "ValidationException",
        "The BETWEEN condition was provided a range where the lower bound is greater than the "
        "upper bound",
    )


def test_expression_limits(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "k"}}
    values = {":v": {"N": "1"}}

    def condition_error(expression: str) -> tuple[str, str]:
        return error_of(ddb.delete_item, TableName=table, Key=key,
                        ConditionExpression=expression, ExpressionAttributeValues=values)  # fmt: skip

    # 4 KB, counted in characters.
    ddb.delete_item(
        TableName=table, Key=key, ConditionExpression="attribute_not_exists(x)".ljust(4096)
    )
    assert condition_error("x = :v".ljust(4097)) == (
        "ValidationException",
        _CODED + "Invalid ConditionExpression: Expression size has exceeded the maximum allowed "
        "size; expression size: 4097",
    )
    # 300 operators; parentheses are not operators. Nesting within that works.
    nested = "x < :v " + "OR (x < :v " * 149 + ")" * 149
    ddb.delete_item(TableName=table, Key=key, ConditionExpression="NOT " + nested,
                    ExpressionAttributeValues=values)  # fmt: skip
    too_many = (_CODED + "Invalid ConditionExpression: The expression contains too many "
                "operators; operator count: 301")  # fmt: skip
    assert condition_error("x<:v " + "or (x<:v " * 400 + ")" * 400) == (
        "ValidationException",
        too_many,
    )
    assert condition_error("NOT " * 1000 + "x < :v") == ("ValidationException", too_many)
    # Deep nesting that is not operators is refused for what it is, never a server error.
    code, message = condition_error("(" * 4096)
    assert code == "ValidationException"
    assert message.startswith(_CODED + 'Invalid ConditionExpression: Syntax error; token: "<EOF>"')
    assert condition_error("(" * 2000 + "x < :v" + ")" * 2000) == (
        "ValidationException",
        _CODED + "Invalid ConditionExpression: The expression has redundant parentheses;",
    )
    assert condition_error("x < " + "size(" * 680 + "y" + ")" * 680) == (
        "ValidationException",
        _CODED + "Invalid ConditionExpression: Operator or function requires a document path; "
        "operator or function: size",
    )
    # Document paths: 32 levels, list indexes included.
    ddb.get_item(TableName=table, Key=key, ProjectionExpression="a" + ".b" * 31)
    for path in ("a" + ".b" * 32, "a" + "[0]" * 32):
        assert error_of(ddb.get_item, TableName=table, Key=key, ProjectionExpression=path) == (
            "ValidationException",
            "Invalid ProjectionExpression: The document path has too many nesting levels; "
            "nesting levels: 33",
        )


def test_item_nesting_limit(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()

    def wrapped(levels: int) -> dict[str, Any]:
        value: dict[str, Any] = {"S": "leaf"}
        for _ in range(levels):
            value = {"M": {"m": value}}
        return value

    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "v": wrapped(31)})
    assert error_of(ddb.put_item, TableName=table, Item={"pk": {"S": "k"}, "v": wrapped(32)}) == (
        "ValidationException",
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
        "beyond supported limit",
    )


def test_placeholders_must_be_defined_and_used(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "k"}}
    one = {":v": {"N": "1"}}
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET x = :v",
                    ExpressionAttributeValues=one, ExpressionAttributeNames={"#x": "x"}) == (
        "ValidationException",
        _CODED + "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}",
    )  # fmt: skip
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET #y = :v",
                    ExpressionAttributeValues=one) == (
        "ValidationException",
        _CODED + "Invalid UpdateExpression: An expression attribute name used in the document "
        "path is not defined; attribute name: #y",
    )  # fmt: skip
    assert error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET x = :w") == (
        "ValidationException",
        _CODED + "Invalid UpdateExpression: An expression attribute value used in expression is "
        "not defined; attribute value: :w",
    )
    assert error_of(ddb.get_item, TableName=table, Key=key, ProjectionExpression="x",
                    ExpressionAttributeNames={"#x": "x"}) == (
        "ValidationException",
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}",
    )  # fmt: skip
    assert error_of(ddb.query, TableName=table, KeyConditionExpression="pk = :v",
                    FilterExpression="#a = :v", ExpressionAttributeValues={":v": {"S": "k"}}) == (
        "ValidationException",
        "Invalid FilterExpression: An expression attribute name used in the document path is "
        "not defined; attribute name: #a",
    )  # fmt: skip


def test_delete_table_describes_only_what_dynamodb_returns(
    ddb: Any, make_table: TableFactory
) -> None:
    table = make_table(
        range_key=("sk", "S"),
        attributes={"g": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )  # fmt: skip
    deleted = ddb.delete_table(TableName=table)["TableDescription"]
    assert set(deleted) == {
        "TableName", "TableStatus", "ProvisionedThroughput", "TableSizeBytes", "ItemCount",
        "TableArn", "TableId", "BillingModeSummary",
    }  # fmt: skip
    assert deleted["TableStatus"] == "DELETING"


def test_tagging_an_index_arn_is_refused(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(
        attributes={"g": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )  # fmt: skip
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"] + "/index/by-g"
    refused = (
        "ValidationException",
        f"Invalid TableArn: Invalid ResourceArn provided as input {arn}",
    )
    assert error_of(ddb.tag_resource, ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}]) == refused
    assert error_of(ddb.untag_resource, ResourceArn=arn, TagKeys=["a"]) == refused
    assert error_of(ddb.list_tags_of_resource, ResourceArn=arn) == refused
    missing = arn.replace(f"table/{table}/index/by-g", "table/no-such-table")
    assert error_of(ddb.tag_resource, ResourceArn=missing, Tags=[]) == (
        "ValidationException",
        "Atleast one Tag needs to be provided as Input.",
    )
    assert error_of(ddb.tag_resource, ResourceArn=missing, Tags=[{"Key": "a", "Value": "b"}]) == (
        "ResourceNotFoundException",
        f"Requested resource not found: ResourcArn: {missing} not found",
    )


def test_values_are_checked_before_the_table_is_looked_up(ddb: Any) -> None:
    empty = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    bad = {"pk": {"S": "k"}, "x": {"N": "not a number"}}
    for call, params in (
        (ddb.get_item, {"TableName": "no-such-table", "Key": {"pk": {}}}),
        (ddb.delete_item, {"TableName": "no-such-table", "Key": {"pk": {}}}),
        (ddb.update_item, {"TableName": "no-such-table", "Key": {"pk": {}}}),
        (ddb.batch_get_item, {"RequestItems": {"no-such-table": {"Keys": [{"pk": {}}]}}}),
        (ddb.batch_write_item,
         {"RequestItems": {"no-such-table": [{"DeleteRequest": {"Key": {"pk": {}}}}]}}),
    ):  # fmt: skip
        assert error_of(call, **params) == ("ValidationException", empty)
    code, message = error_of(ddb.batch_write_item,
                             RequestItems={"no-such-table": [{"PutRequest": {"Item": bad}}]})  # fmt: skip
    assert (code, message) == (
        "ValidationException",
        "The parameter cannot be converted to a numeric value: not a number",
    )
    big = {"pk": {"S": "k"}, "x": {"S": "x" * 409600}}
    for call, params in (
        (ddb.put_item, {"TableName": "no-such-table", "Item": big}),
        (ddb.batch_write_item, {"RequestItems": {"no-such-table": [{"PutRequest": {"Item": big}}]}}),
    ):  # fmt: skip
        assert error_of(call, **params) == (
            "ValidationException",
            "Item size has exceeded the maximum allowed size",
        )


def test_query_checks_itself_before_its_table(ddb: Any, make_table: TableFactory) -> None:
    missing = "no-such-table"
    got = error_of(ddb.query, TableName=missing,
                   KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": []}})  # fmt: skip
    assert got == (
        "ValidationException",
        _INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator",
    )
    got = error_of(ddb.query, TableName=missing, KeyConditionExpression="pk = :a AND pk = :a",
                   ExpressionAttributeValues={":a": {"S": "k"}})  # fmt: skip
    assert got == (
        "ValidationException",
        "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition "
        "per key",
    )
    got = error_of(ddb.query, TableName=missing, KeyConditionExpression="pk = :a",
                   ExpressionAttributeValues={":a": {"S": "k"}}, ExclusiveStartKey={"pk": {}})  # fmt: skip
    assert got == (
        "ValidationException",
        "The provided starting key is invalid: Supplied AttributeValue is empty, must contain "
        "exactly one of the supported datatypes",
    )
    code, _ = error_of(ddb.query, TableName=missing,
                       KeyConditions={"pk": {"ComparisonOperator": "NULL"}})  # fmt: skip
    assert code == "ResourceNotFoundException"
    table = make_table()
    got = error_of(ddb.query, TableName=table, KeyConditions={"pk": {"ComparisonOperator": "NULL"}})
    assert got == (
        "ValidationException",
        "Attempted conditional constraint is not an indexable operation",
    )


def test_query_restarts_only_inside_its_key_condition(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(
        range_key=("sk", "S"),
        attributes={"g": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                               {"AttributeName": "sk", "KeyType": "RANGE"}]}],
    )  # fmt: skip
    for n in range(5):
        ddb.put_item(
            TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": f"s{n}"}, "g": {"S": "x"}}
        )
    # Paging an index with a sort condition resumes where it stopped.
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = ddb.query(TableName=table, IndexName="by-g", Limit=2,
                         KeyConditionExpression="g = :g AND sk > :s",
                         ExpressionAttributeValues={":g": {"S": "x"}, ":s": {"S": "s0"}}, **kwargs)  # fmt: skip
        seen += [i["sk"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == ["s1", "s2", "s3", "s4"]

    def restart(condition: str, start: dict[str, Any]) -> tuple[str, str]:
        return error_of(ddb.query, TableName=table, KeyConditionExpression=condition,
                        ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "s2"}},
                        ExclusiveStartKey=start)  # fmt: skip

    other = {"pk": {"S": "q"}, "sk": {"S": "s9"}}
    assert restart("pk = :p AND sk > :s", {**other, "pk": {"S": "p"}, "sk": {"S": "s1"}}) == (
        "ValidationException",
        "The provided starting key does not match the range key predicate",
    )
    assert restart("pk = :p AND begins_with(sk, :s)", other) == (
        "ValidationException",
        "The provided starting key is outside query boundaries based on provided conditions",
    )
    assert restart("pk = :p AND sk = :s", {"pk": {"S": "p"}, "sk": {"S": "s2"}}) == (
        "ValidationException",
        "The query can return at most one row and cannot be restarted",
    )


def test_table_definitions_are_checked_in_dynamodb_order(ddb: Any) -> None:
    def create_error(**params: Any) -> tuple[str, str]:
        base: dict[str, Any] = {
            "TableName": "never-created",
            "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "HASH"}],
        }  # fmt: skip
        return error_of(ddb.create_table, **{**base, **params})

    # Billing before definitions, definitions before the key schema's shape.
    assert create_error(ProvisionedThroughput={"ReadCapacityUnits": 1000000000001, "WriteCapacityUnits": 1}) == (
        "ValidationException",
        "Given value 1000000000001 for ReadCapacityUnits is out of bounds",
    )  # fmt: skip
    assert create_error(BillingMode="PAY_PER_REQUEST") == (
        "ValidationException",
        "Invalid KeySchema: Some index key attribute have no definition",
    )
    same = [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "a", "KeyType": "HASH"}]
    two = [
        {"AttributeName": "a", "AttributeType": "S"},
        {"AttributeName": "b", "AttributeType": "S"},
    ]
    assert create_error(BillingMode="PAY_PER_REQUEST", KeySchema=same, AttributeDefinitions=two) == (
        "ValidationException",
        "Both the Hash Key and the Range Key element in the KeySchema have the same name",
    )  # fmt: skip


def test_update_table_checks_itself_before_its_table(ddb: Any) -> None:
    missing = "no-such-table"
    assert error_of(ddb.update_table, TableName=missing, BillingMode="PROVISIONED") == (
        "ValidationException",
        _INVALID + "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
    )
    big = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1000000000001}
    assert error_of(ddb.update_table, TableName=missing, ProvisionedThroughput=big) == (
        "ValidationException",
        "Given value 1000000000001 for WriteCapacityUnits is out of bounds",
    )
    assert error_of(ddb.update_table, TableName=missing, GlobalSecondaryIndexUpdates=[{}]) == (
        "ValidationException",
        _INVALID + "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
        "GlobalSecondaryIndexUpdate.Delete must not be null",
    )
    twice = [{"Delete": {"IndexName": "abc"}}, {"Delete": {"IndexName": "abc"}}]
    assert error_of(ddb.update_table, TableName=missing, GlobalSecondaryIndexUpdates=twice) == (
        "ValidationException",
        _INVALID + "Only one global secondary index update per index is allowed simultaneously. "
        "Index: abc",
    )


def test_expression_values_are_named_when_invalid(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "k"}}

    def update_error(values: dict[str, Any]) -> tuple[str, str]:
        return error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET x = :b",
                        ExpressionAttributeValues=values)  # fmt: skip

    assert update_error({":b": {"N": "NaN"}}) == (
        "ValidationException",
        "ExpressionAttributeValues contains invalid value: The parameter cannot be converted to "
        "a numeric value: NaN for key :b",
    )
    assert update_error({":b": {}}) == (
        "ValidationException",
        "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must "
        "contain exactly one of the supported datatypes for key :b",
    )
    # An empty set is reported as in an item (moto's AWS-verified tests).
    assert update_error({":b": {"SS": []}}) == (
        "ValidationException",
        _CODED + "One or more parameter values were invalid: An string set  may not be empty",
    )
    # The update expression is reported before the condition.
    got = error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="",
                   ConditionExpression="")  # fmt: skip
    assert got == (
        "ValidationException",
        _CODED + "Invalid UpdateExpression: The expression can not be empty;",
    )


def test_query_legacy_and_expression_parameters(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "S"))
    ddb.put_item(
        TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "a"}, "x": {"S": "1"}, "y": {"S": "2"}}
    )
    eq = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}}
    # KeyConditions may go with a ProjectionExpression.
    got = ddb.query(TableName=table, KeyConditions=eq, ProjectionExpression="x")["Items"]
    assert got == [{"x": {"S": "1"}}]
    mixed = error_of(ddb.query, TableName=table, KeyConditions=eq, ProjectionExpression="x",
                     AttributesToGet=["y"], QueryFilter={"x": {"ComparisonOperator": "NOT_NULL"}})  # fmt: skip
    assert mixed == (
        "ValidationException",
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet, QueryFilter} Expression parameters: "
        "{ProjectionExpression}",
    )
    assert error_of(ddb.query, TableName=table, KeyConditions=eq,
                    ExpressionAttributeValues={":v": {"S": "v"}}) == (
        "ValidationException",
        "ExpressionAttributeValues can only be specified when using expressions: "
        "FilterExpression and KeyConditionExpression are null",
    )  # fmt: skip
    assert error_of(ddb.query, TableName=table, KeyConditions=eq,
                    QueryFilter={"sk": {"ComparisonOperator": "NOT_NULL"}}) == (
        "ValidationException",
        "QueryFilter can only contain non-primary key attributes: Primary key attribute: sk",
    )  # fmt: skip
    assert error_of(ddb.query, TableName=table, KeyConditions={"sk": {"ComparisonOperator": "NULL"}}) == (
        "ValidationException",
        "Query condition missed key schema element: pk",
    )  # fmt: skip


def test_item_values_come_before_conditions_and_placeholders(ddb: Any) -> None:
    missing = "no-such-table"
    empty = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    # An item's bad value is found before a bad legacy condition and before an empty map.
    got = error_of(ddb.put_item, TableName=missing, Item={"pk": {}}, Expected={"pk": {}})
    assert got == ("ValidationException", empty)
    got = error_of(ddb.delete_item, TableName=missing, Key={"pk": {}}, ConditionExpression="x = :v",
                   ExpressionAttributeValues={})  # fmt: skip
    assert got == ("ValidationException", empty)
    # Which parameters are given is judged first of all.
    got = error_of(
        ddb.get_item, TableName=missing, Key={"pk": {}}, ExpressionAttributeNames={"#a": "a"}
    )
    assert got == (
        "ValidationException",
        "ExpressionAttributeNames can only be specified when using expressions",
    )


def test_paths_cannot_look_inside_key_attributes(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(
        range_key=("sk", "S"),
        attributes={"g": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )  # fmt: skip
    key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    lead = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: "
    assert error_of(ddb.get_item, TableName=table, Key=key, ProjectionExpression="pk.a") == (
        "ValidationException", lead + "Key: pk",
    )  # fmt: skip
    assert error_of(ddb.scan, TableName=table, FilterExpression="attribute_exists(g[0])") == (
        "ValidationException", lead + "IndexKey: g",
    )  # fmt: skip
    got = error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression="SET x = g.b")
    assert got == ("ValidationException", lead + "IndexKey: g")


def test_parenthesized_operands(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "k"}}
    ddb.put_item(
        TableName=table, Item={**key, "b": {"L": [{"N": "1"}, {"N": "2"}]}, "c": {"N": "3"}}
    )
    values = {":two": {"N": "2"}}
    for expression in ("(size(b)) = :two", "((size(b)) = :two) AND c > (:two)"):
        assert (
            ddb.scan(
                TableName=table, FilterExpression=expression, ExpressionAttributeValues=values
            )["Count"]
            == 1
        )
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET d = ((b[1]) + (c))")
    assert ddb.get_item(TableName=table, Key=key)["Item"]["d"] == {"N": "5"}


def test_list_element_writes_go_in_index_order(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    key = {"pk": {"S": "k"}}
    ddb.put_item(
        TableName=table, Item={**key, "a": {"S": "x"}, "c": {"L": [{"N": "1"}, {"N": "3"}]}}
    )
    ddb.update_item(TableName=table, Key=key,
                    UpdateExpression="SET c[1] = a, c[4] = :m, c[2] = :t ADD c[8] :s, c[6] :two",
                    ExpressionAttributeValues={":m": {"N": "-1"}, ":t": {"N": "3"}, ":s": {"SS": ["a"]},
                                               ":two": {"N": "2"}})  # fmt: skip
    got = ddb.get_item(TableName=table, Key=key)["Item"]["c"]["L"]
    assert got == [{"N": "1"}, {"S": "x"}, {"N": "3"}, {"N": "-1"}, {"N": "2"}, {"SS": ["a"]}]


def test_start_key_that_does_not_fit_the_schema(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "S"))
    wrong = {"pk": {"N": "1"}, "sk": {"S": "s"}}
    got = error_of(ddb.query, TableName=table, KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": {"S": "p"}}, ExclusiveStartKey=wrong)  # fmt: skip
    assert got == ("ValidationException", "The provided key element does not match the schema")
    assert error_of(ddb.scan, TableName=table, ExclusiveStartKey={"pk": {"S": "p"}}) == (
        "ValidationException",
        "The provided starting key is invalid: The provided key element does not match the schema",
    )


def test_index_definitions_in_dynamodb_words(ddb: Any) -> None:
    base: dict[str, Any] = {
        "TableName": "never-created",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in ("a", "b", "c")],
        "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
    }  # fmt: skip
    lsi = {"IndexName": "lsi", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"},
                                             {"AttributeName": "c", "KeyType": "RANGE"}],
           "Projection": {"ProjectionType": "ALL"}}  # fmt: skip
    # The table's missing sort key is found before the index's undefined attributes.
    got = error_of(ddb.create_table, **{**base, "LocalSecondaryIndexes": [lsi],
                                         "AttributeDefinitions": base["AttributeDefinitions"][:1]})  # fmt: skip
    assert got == (
        "ValidationException",
        _INVALID + "Table KeySchema does not have a range key, which is required when specifying "
        "a LocalSecondaryIndex",
    )
    ranged = [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}]
    six = [{**lsi, "IndexName": f"lsi{n}"} for n in range(6)]
    got = error_of(ddb.create_table, **{**base, "KeySchema": ranged, "LocalSecondaryIndexes": six})
    assert got == (
        "ValidationException",
        _INVALID + "Number of LocalSecondaryIndexes exceeds per-table limit of 5",
    )
    unnamed = {**lsi, "Projection": {"NonKeyAttributes": ["x"]}}
    got = error_of(
        ddb.create_table, **{**base, "KeySchema": ranged, "LocalSecondaryIndexes": [unnamed]}
    )
    assert got == ("ValidationException", _INVALID + "Unknown ProjectionType: null")


def test_on_demand_throughput_messages(ddb: Any) -> None:
    base: dict[str, Any] = {
        "TableName": "never-created",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
    }
    gsi = {"IndexName": "abd", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
           "Projection": {"ProjectionType": "ALL"},
           "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}  # fmt: skip
    assert error_of(ddb.create_table, **base, GlobalSecondaryIndexes=[gsi]) == (
        "ValidationException",
        _INVALID
        + "ProvisionedThroughput should not be specified for index: abd when BillingMode is "
        "PAY_PER_REQUEST",
    )


def _table_with_keys_only_gsi(make_table: TableFactory) -> str:
    return make_table(
        range_key=("sk", "S"),
        attributes={"g": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )  # fmt: skip


def test_key_paths_are_judged_after_the_other_key_checks(
    ddb: Any, make_table: TableFactory
) -> None:
    """A path into a key attribute is reported only once the key, the index, Select and the
    updated key attributes pass (dynalite's AWS-checked order)."""
    table = _table_with_keys_only_gsi(make_table)
    into_key = "attribute_exists(pk.b)"
    got = error_of(ddb.scan, TableName=table, IndexName="whatever", FilterExpression=into_key,
                   ExclusiveStartKey={"z": {"S": "a"}})  # fmt: skip
    assert got == ("ValidationException", "The table does not have the specified index: whatever")
    got = error_of(ddb.scan, TableName=table, FilterExpression=into_key, ExclusiveStartKey={})
    assert got == (
        "ValidationException",
        "The provided starting key is invalid: The provided key element does not match the schema",
    )
    select = (
        "ValidationException",
        _INVALID + "Select type ALL_ATTRIBUTES is not supported for global secondary index by-g "
        "because its projection type is not ALL",
    )
    got = error_of(ddb.scan, TableName=table, IndexName="by-g", Select="ALL_ATTRIBUTES",
                   FilterExpression=into_key)  # fmt: skip
    assert got == select
    got = error_of(ddb.query, TableName=table, IndexName="by-g", Select="ALL_ATTRIBUTES",
                   KeyConditionExpression="g = :g", FilterExpression=into_key,
                   ExpressionAttributeValues={":g": {"S": "g"}})  # fmt: skip
    assert got == select
    got = error_of(ddb.query, TableName=table, KeyConditionExpression="pk = :p",
                   FilterExpression="attribute_exists(sk.b)",
                   ExpressionAttributeValues={":p": {"S": "p"}})  # fmt: skip
    assert got == (
        "ValidationException",
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk",
    )
    key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    one = {":one": {"N": "1"}}
    for update, name in (("SET pk = pk.b + :one", "pk"), ("SET x = :one ADD sk.b :one", "sk")):
        got = error_of(ddb.update_item, TableName=table, Key=key, UpdateExpression=update,
                       ExpressionAttributeValues=one)  # fmt: skip
        assert got == (
            "ValidationException",
            _INVALID + f"Cannot update attribute {name}. This attribute is part of the key",
        )
    wrong = {"pk": {"N": "1"}, "sk": {"S": "s"}}
    got = error_of(ddb.get_item, TableName=table, Key=wrong, ProjectionExpression="pk.a")
    assert got == ("ValidationException", "The provided key element does not match the schema")
    # The key path itself is still refused once everything else passes.
    got = error_of(ddb.scan, TableName=table, FilterExpression=into_key)
    assert got == (
        "ValidationException",
        "Key attributes must be scalars; list random access '[]' and map lookup '.' are not "
        "allowed: Key: pk",
    )


def test_start_key_wording_per_case(ddb: Any, make_table: TableFactory) -> None:
    """For the key a read goes by, the short wording (missing) or the bare one (wrong type); the
    long one for the table's key attributes beyond it (dynalite's AWS-checked cases)."""
    table = _table_with_keys_only_gsi(make_table)
    short = ("ValidationException", "The provided starting key is invalid")
    long = (
        "ValidationException",
        "The provided starting key is invalid: The provided key element does not match the schema",
    )
    bare = ("ValidationException", "The provided key element does not match the schema")
    good = {"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "g"}}
    query = {"KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g"}}}
    for read, extra in ((ddb.scan, {}), (ddb.query, query)):
        for start, expected in (
            ({**good, "sk": {"N": "1"}}, long),  # a table key attribute of the wrong type
            ({**good, "pk": {"B": b"a"}}, long),
            ({"pk": {"S": "p"}, "sk": {"S": "s"}}, short),  # the index's key missing
            ({**good, "g": {"N": "1"}}, bare),  # the index's key of the wrong type
            ({"pk": {"S": "p"}, "g": {"S": "g"}, "z": {"S": "z"}}, long),
        ):
            got = error_of(
                read, TableName=table, IndexName="by-g", ExclusiveStartKey=start, **extra
            )
            assert got == expected, (read, start)
    # Neither refused for a start key that fits.
    assert ddb.scan(TableName=table, IndexName="by-g", ExclusiveStartKey=good)["Count"] == 0
    assert (
        ddb.query(TableName=table, IndexName="by-g", ExclusiveStartKey=good, **query)["Count"] == 0
    )


def test_scan_finds_its_table_before_judging_the_start_key(ddb: Any) -> None:
    for start in ({}, {"b": {"S": "a"}}, {"a": {"S": "a"}, "b": {"S": "a"}}):
        code, _ = error_of(ddb.scan, TableName="no-such-table", ExclusiveStartKey=start)
        assert code == "ResourceNotFoundException"


def test_index_capacity_bound_is_judged_after_the_table(ddb: Any, make_table: TableFactory) -> None:
    big = {"ReadCapacityUnits": 1000000000000, "WriteCapacityUnits": 1000000000001}
    updates = [{"Update": {"IndexName": "abc", "ProvisionedThroughput": big}}]
    got = error_of(ddb.update_table, TableName="no-such-table", GlobalSecondaryIndexUpdates=updates)
    assert got == (
        "ResourceNotFoundException",
        "Requested resource not found: Table: no-such-table not found",
    )
    table = make_table()
    got = error_of(ddb.update_table, TableName=table, GlobalSecondaryIndexUpdates=updates)
    assert got == (
        "ValidationException",
        "This operation cannot be performed with given input values. Please contact DynamoDB "
        "service team for more info: Action Blocked: IndexUpdate",
    )


def test_legacy_eq_and_ne_take_lists_and_maps(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    doc = {"M": {"a": {"N": "1"}, "b": {"L": [{"S": "x"}]}}}
    ddb.put_item(TableName=table, Item={"pk": {"S": "1"}, "v": doc})
    ddb.put_item(TableName=table, Item={"pk": {"S": "2"}, "v": {"L": [{"N": "1"}]}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "3"}, "v": {"N": "42"}})

    def keys(operator: str, value: dict[str, Any]) -> list[str]:
        condition = {"ComparisonOperator": operator, "AttributeValueList": [value]}
        items = ddb.scan(TableName=table, ScanFilter={"v": condition})["Items"]
        return sorted(item["pk"]["S"] for item in items)

    assert keys("EQ", doc) == ["1"]
    assert keys("EQ", {"M": {"a": {"N": "1"}}}) == []
    assert keys("EQ", {"L": [{"N": "1"}]}) == ["2"]
    assert keys("NE", doc) == ["2", "3"]
    # What boto3's table resource sends for {"N": "42"}: a map, which matches no number.
    assert keys("EQ", {"M": {"N": {"S": "42"}}}) == []
    got = error_of(ddb.scan, TableName=table,
                   ScanFilter={"v": {"ComparisonOperator": "LT", "AttributeValueList": [doc]}})  # fmt: skip
    assert got == (
        "ValidationException",
        _INVALID + "ComparisonOperator LT is not valid for M AttributeValue type",
    )
