"""The json 1.0 wire layer (DynamoDB, DynamoDB Streams) against botocore's serializer and parser.

Requests come from botocore's `JSONSerializer` (what boto3 sends) and must parse back to the
params that went in; responses and errors come from Fireside and must read back through
botocore's `JSONParser` (what boto3 sees). Every operation of both services is covered with
Hypothesis data generated from the model's shapes.
"""

from __future__ import annotations

import json
import os
import string
import zlib
from datetime import UTC, datetime
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireside.aws.errors import ServiceError
from fireside.aws.jsonproto import JsonProtocol
from fireside.aws.model import Shape, load_service
from fireside.aws.protocol import protocol_for
from fireside.aws.validation import compile_pattern
from fireside.http.types import Request, Response

DYNAMODB = load_service("dynamodb")
STREAMS = load_service("dynamodbstreams")
PROTOS = {"dynamodb": protocol_for(DYNAMODB), "dynamodbstreams": protocol_for(STREAMS)}
BOTO = {
    name: botocore.session.get_session().get_service_model(name)
    for name in ("dynamodb", "dynamodbstreams")
}
SERIALIZER = botocore.serialize.create_serializer("json", include_validation=True)
PARSER = botocore.parsers.create_parser("json")

EXAMPLES = settings(
    max_examples=int(os.environ.get("FIRESIDE_WIRE_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def boto_request(service: str, operation: str, params: dict[str, Any]) -> Request:
    request_dict = SERIALIZER.serialize_to_request(params, BOTO[service].operation_model(operation))
    prepare_request_dict(request_dict, "https://dynamodb.us-east-1.amazonaws.com")
    prepared = create_request_object(request_dict).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()
    }
    return Request(prepared.method, "/", "", headers, body)


def boto_parse(service: str, operation: str, response: Response, shape: Any = None) -> Any:
    op_model = BOTO[service].operation_model(operation)
    raw = {
        "status_code": response.status,
        "headers": HeadersDict(response.headers),
        "body": response.body,
    }
    return PARSER.parse(raw, op_model.output_shape if shape is None else shape)


# -- Hypothesis strategies from the model ----------------------------------------------------

TEXT = st.text(st.sampled_from(string.ascii_letters + string.digits + " -_éß日🙂"), max_size=8)


def strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    lo = int(shape.min or 0)
    if kind == "structure":
        members = shape.members
        if shape.name == "AttributeValue":
            # Exactly one member, as DynamoDB requires; nesting kept shallow.
            names = [n for n in members if depth < 3 or n not in ("M", "L")]
            return st.one_of(
                [st.fixed_dictionaries({n: strategy(members[n], depth + 1)}) for n in names]
            )
        required = {n: strategy(members[n], depth + 1) for n in shape.required}
        optional = {
            n: strategy(m, depth + 1)
            for n, m in members.items()
            if n not in shape.required and depth < 4
        }
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        hi = min(int(shape.max) if shape.max is not None else lo + 2, lo + 2)
        return st.lists(strategy(shape.member, depth + 1), min_size=lo, max_size=hi)
    if kind == "map":
        hi = min(int(shape.max) if shape.max is not None else lo + 2, lo + 2)
        return st.dictionaries(
            strategy(shape.key, depth + 1), strategy(shape.value, depth + 1), min_size=lo,
            max_size=hi,
        )  # fmt: skip
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        hi = int(shape.max) if shape.max is not None else lo + 8
        regex = compile_pattern(shape.pattern) if shape.pattern else None
        if regex is None:
            return st.text(
                st.sampled_from(string.ascii_letters + "éß日🙂 "),
                min_size=lo,
                max_size=min(hi, lo + 8),
            )
        return st.from_regex(regex, fullmatch=True).filter(lambda s: lo <= len(s) <= hi)
    if kind in ("integer", "long"):
        low = int(shape.min) if shape.min is not None else -(2**31)
        high = int(shape.max) if shape.max is not None else 2**31 - 1
        return st.integers(low, high)
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(min_size=lo, max_size=max(lo, 8))
    if kind == "timestamp":
        # The json protocol sends whole epoch seconds.
        return st.integers(0, 4_000_000_000).map(lambda s: datetime.fromtimestamp(s, UTC))
    raise AssertionError(f"no strategy for {shape!r}")


def operations(service: Any) -> list[tuple[str, str]]:
    name = "dynamodb" if service is DYNAMODB else "dynamodbstreams"
    return [(name, op) for op in service.operation_names]


ALL_OPERATIONS = operations(DYNAMODB) + operations(STREAMS)


@pytest.mark.parametrize(("service", "operation"), ALL_OPERATIONS)
@EXAMPLES
@given(data=st.data())
def test_every_input_round_trips(service: str, operation: str, data: st.DataObject) -> None:
    proto = PROTOS[service]
    shape = proto.service.operation(operation).input
    params = data.draw(strategy(shape)) if shape is not None else {}
    parsed = proto.parse(boto_request(service, operation, params))
    assert parsed.operation_name == operation
    assert parsed.params == params


@pytest.mark.parametrize(("service", "operation"), ALL_OPERATIONS)
@EXAMPLES
@given(data=st.data())
def test_every_output_round_trips(service: str, operation: str, data: st.DataObject) -> None:
    proto = PROTOS[service]
    shape = proto.service.operation(operation).output
    result = data.draw(strategy(shape)) if shape is not None else {}
    response = proto.serialize_result(operation, result, "req-1")
    assert response.status == 200
    headers = dict(response.headers)
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["x-amz-crc32"] == str(zlib.crc32(response.body))
    parsed = boto_parse(service, operation, response)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == result


# -- requests --------------------------------------------------------------------------------

DYNAMO = PROTOS["dynamodb"]


def target(operation: str) -> dict[str, str]:
    return {"x-amz-target": f"DynamoDB_20120810.{operation}"}


def parse_error(body: bytes, headers: dict[str, str], method: str = "POST") -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        DYNAMO.parse(Request(method, "/", "", headers, body))
    return caught.value


def test_put_item_decodes_attribute_values() -> None:
    body = {
        "TableName": "t",
        "Item": {
            "id": {"S": "a"},
            "n": {"N": "1.50"},
            "b": {"B": "AAE="},
            "bs": {"BS": ["AQ=="]},
            "m": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}]}}},
        },
    }
    parsed = DYNAMO.parse(Request("POST", "/", "", target("PutItem"), json.dumps(body).encode()))
    item = parsed.params["Item"]
    assert item["n"] == {"N": "1.50"}  # numbers stay decimal strings
    assert item["b"] == {"B": b"\x00\x01"}
    assert item["bs"] == {"BS": [b"\x01"]}
    assert item["m"]["M"]["l"]["L"] == [{"NULL": True}, {"BOOL": False}]


def test_empty_body_is_an_empty_input() -> None:
    parsed = DYNAMO.parse(Request("POST", "/", "", target("ListTables"), b""))
    assert parsed.params == {}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{nope", "Could not parse request body into json"),
        (b"[1]", "Start of structure or map found where not expected."),
        # Coral's (Jackson's) words, which name the Java type and the JSON token.
        (b'{"TableName": 5}', "NUMBER_VALUE cannot be converted to String"),
        (
            b'{"TableName": "t", "Key": {"k": {"N": 5}}}',
            "NUMBER_VALUE cannot be converted to String",
        ),
        (b'{"TableName": "t", "ConsistentRead": "yes"}', "Unexpected token received from parser"),
        (b'{"TableName": "t", "Key": "k"}', "Unexpected field type"),
        (b'{"TableName": "t", "Key": {"k": "v"}}', "Unexpected value type in payload"),
        (
            b'{"TableName": "t", "Key": []}',
            "Unrecognized collection type java.util.Map<java.lang.String, "
            "com.amazonaws.dynamodb.v20120810.AttributeValue>",
        ),
        (b'{"TableName": {}}', "Start of structure or map found where not expected"),
        (
            b'{"TableName": "t", "Key": {"k": {"B": "%%"}}}',
            "Base64 encoded length is expected a multiple of 4 bytes but found: 2",
        ),
    ],
)
def test_undecodable_bodies_are_serialization_errors(body: bytes, detail: str) -> None:
    error = parse_error(body, target("GetItem"))
    assert (error.code, error.status) == ("SerializationException", 400)
    assert detail in error.message


def test_coral_serialization_messages_name_parameterized_collections() -> None:
    error = parse_error(b'{"RequestItems": {"t": "x"}}', target("BatchWriteItem"))
    assert error.message.startswith("class sun.reflect.generics.reflectiveObjects.")
    error = parse_error(b'{"RequestItems": {"t": {"Keys": [[]]}}}', target("BatchGetItem"))
    assert error.message == (
        "Unrecognized collection type java.util.Map<java.lang.String, "
        "com.amazonaws.dynamodb.v20120810.AttributeValue>"
    )
    body, _ = error_round_trip(ServiceError("SerializationException", "Unexpected field type"))
    assert body == {
        "__type": "com.amazon.coral.service#SerializationException",
        "Message": "Unexpected field type",
    }


def test_constraint_violations_are_coral_validation_errors() -> None:
    error = parse_error(b'{"TableName": "", "Limit": 0}', target("Query"))
    assert error.code == "ValidationException"
    assert error.message == (
        "2 validation errors detected: Value '' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; Value '0' at 'limit' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1"
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-amz-target": "DynamoDB_20120810.NoSuchThing"}, {"x-amz-target": "Other.GetItem"}],
)
def test_unknown_operations(headers: dict[str, str]) -> None:
    error = parse_error(b"{}", headers)
    assert (error.code, error.status) == ("UnknownOperationException", 400)


def test_get_is_not_an_operation() -> None:
    assert parse_error(b"", target("ListTables"), method="GET").code == "UnknownOperationException"


# -- errors ----------------------------------------------------------------------------------


def error_round_trip(error: ServiceError, operation: str = "GetItem") -> tuple[Any, Any]:
    response = DYNAMO.serialize_error(error, "err-1")
    assert response.status == error.status
    headers = dict(response.headers)
    assert headers["x-amz-crc32"] == str(zlib.crc32(response.body))
    parsed = boto_parse("dynamodb", operation, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "err-1"
    shape = BOTO["dynamodb"].shape_for(error.code) if error.code in DYNAMO_ERRORS else None
    modelled = boto_parse("dynamodb", operation, response, shape) if shape is not None else {}
    return json.loads(response.body), {**parsed, **modelled}


DYNAMO_ERRORS = {s.name for s in DYNAMODB.error_shapes()}


def test_resource_not_found_shape() -> None:
    error = ServiceError(
        "ResourceNotFoundException", "Requested resource not found: Table: t not found"
    )
    body, parsed = error_round_trip(error, "DescribeTable")
    assert body == {
        "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "message": "Requested resource not found: Table: t not found",
    }
    assert parsed["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "Requested resource not found: Table: t not found",
    }


def test_coral_namespaces() -> None:
    body, parsed = error_round_trip(ServiceError("ValidationException", "bad"))
    assert body["__type"] == "com.amazon.coral.validate#ValidationException"
    assert parsed["Error"]["Code"] == "ValidationException"
    body, _ = error_round_trip(ServiceError("SerializationException", "odd"))
    assert body["__type"] == "com.amazon.coral.service#SerializationException"
    body, _ = error_round_trip(ServiceError("ThrottlingException", "slow", 400))
    assert body["__type"] == "com.amazon.coral.availability#ThrottlingException"


def test_transaction_cancelled_carries_reasons() -> None:
    reasons = [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"id": {"S": "a"}, "b": {"B": b"\x01"}},
        },
    ]
    error = ServiceError(
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]",
        CancellationReasons=reasons,
    )
    body, parsed = error_round_trip(error, "TransactWriteItems")
    assert "Message" in body  # the model spells it with a capital M here
    assert body["CancellationReasons"][1]["Item"]["b"] == {"B": "AQ=="}
    assert parsed["Error"]["Code"] == "TransactionCanceledException"
    assert parsed["CancellationReasons"] == reasons


def test_conditional_check_failed_item() -> None:
    error = ServiceError(
        "ConditionalCheckFailedException",
        "The conditional request failed",
        Item={"id": {"S": "a"}},
    )
    body, parsed = error_round_trip(error, "PutItem")
    assert body["message"] == "The conditional request failed"
    assert parsed["Item"] == {"id": {"S": "a"}}


def test_internal_error_is_unmodelled_but_well_formed() -> None:
    error = ServiceError("InternalServerError", "boom", 500, sender_fault=False)
    body, parsed = error_round_trip(error)
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#InternalServerError"
    assert parsed["Error"]["Code"] == "InternalServerError"


def test_streams_errors_use_dynamodb_namespace() -> None:
    response = PROTOS["dynamodbstreams"].serialize_error(
        ServiceError("ResourceNotFoundException", "Requested resource not found"), "r"
    )
    assert json.loads(response.body)["__type"] == (
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    )


def test_protocol_for_picks_json() -> None:
    assert isinstance(protocol_for(DYNAMODB), JsonProtocol)
    assert DYNAMODB.target_prefix == "DynamoDB_20120810"
    assert STREAMS.target_prefix == "DynamoDBStreams_20120810"
