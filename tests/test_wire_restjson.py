"""The rest-json wire layer against botocore's own serializer and parser.

Requests are built by botocore's `RestJSONSerializer` (what boto3 sends), parsed by Fireside and
compared with the params that went in; responses are built by Fireside and read back by
botocore's `RestJSONParser` (what boto3 sees). Every Lambda operation is covered with
Hypothesis data generated from the model's own shapes.
"""

from __future__ import annotations

import io
import json
import os
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.awsrequest import (
    AWSResponse,
    HeadersDict,
    create_request_object,
    prepare_request_dict,
)
from botocore.response import StreamingBody
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireside.aws.errors import ServiceError
from fireside.aws.jsoncodec import JsonCodec
from fireside.aws.model import Shape, load_service, service_from_description
from fireside.aws.protocol import not_implemented, protocol_for
from fireside.aws.restjson import RestJsonProtocol
from fireside.aws.validation import Validator, compile_pattern
from fireside.http.types import Request, Response

LAMBDA = load_service("lambda")
PROTO = RestJsonProtocol(LAMBDA)
BOTO_LAMBDA = botocore.session.get_session().get_service_model("lambda")
SERIALIZER = botocore.serialize.create_serializer("rest-json", include_validation=True)
PARSER = botocore.parsers.create_parser("rest-json")
ENDPOINT = "https://lambda.us-east-1.amazonaws.com"

# Set FIRESIDE_WIRE_EXAMPLES=200 for a deeper (minutes-long) search.
EXAMPLES = settings(
    max_examples=int(os.environ.get("FIRESIDE_WIRE_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- talking to botocore ---------------------------------------------------------------------


def to_request(request_dict: dict[str, Any]) -> Request:
    """What botocore would put on the wire, as the Request the server hands the wire layer."""
    prepare_request_dict(request_dict, ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = body.read()
    headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()
    }
    return Request(prepared.method, url.path, url.query, headers, body)


def boto_request(model: Any, operation: str, params: Mapping[str, Any]) -> Request:
    return to_request(
        SERIALIZER.serialize_to_request(dict(params), model.operation_model(operation))
    )


def boto_parse(response: Response, op_model: Any, shape: Any = None) -> dict[str, Any]:
    """botocore's reading of our response (shape defaults to the operation's output)."""
    headers = HeadersDict(response.headers)
    body: Any = response.body
    if response.status < 300 and op_model.has_streaming_output:
        body = StreamingBody(io.BytesIO(response.body), len(response.body))
    shape = op_model.output_shape if shape is None else shape
    raw = {"status_code": response.status, "headers": headers, "body": body}
    parsed: dict[str, Any] = PARSER.parse(raw, shape)
    return parsed


# -- Hypothesis strategies from the model ----------------------------------------------------

PRINTABLE = "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")
HEADER_CHARS = st.sampled_from(PRINTABLE)
ANY_CHARS = st.sampled_from(PRINTABLE + "éß日本🙂")
FIRST, LAST = datetime(1971, 1, 1), datetime(2100, 1, 1)


def where_of(member: Shape) -> str:
    return {"header": "header", "headers": "header", "uri": "uri", "querystring": "query"}.get(
        member.location or "", "body"
    )


def string_strategy(shape: Shape, where: str) -> st.SearchStrategy[Any]:
    if shape.json_value:
        return st.dictionaries(st.text(string.ascii_letters, max_size=4), st.integers(0, 9))
    if shape.enum:
        return st.sampled_from(shape.enum)
    lo = max(int(shape.min or 0), 1 if where == "uri" else 0)
    hi = int(shape.max) if shape.max is not None else lo + 12
    alphabet = HEADER_CHARS if where == "header" else ANY_CHARS
    regex = compile_pattern(shape.pattern) if shape.pattern else None
    if regex is None:
        text = st.text(alphabet, min_size=lo, max_size=min(hi, lo + 12))
    else:
        top = int(shape.max) if shape.max is not None else 10**6
        text = st.from_regex(regex, fullmatch=True, alphabet=alphabet).filter(
            lambda s: lo <= len(s) <= top
        )
    if where == "header":  # HTTP drops whitespace around header values (and list items)
        return text.filter(lambda s: s == s.strip())
    return text


def strategy(shape: Shape, where: str = "body", depth: int = 0) -> st.SearchStrategy[Any]:
    """Values botocore accepts and the model's constraints allow."""
    kind = shape.type_name
    lo = int(shape.min or 0)
    if kind == "structure":
        if shape.is_document:
            return st.just({"doc": [1, "two", None, {"three": True}]})
        members = {n: m for n, m in shape.members.items() if m.location != "statusCode"}
        if shape.is_union:
            return st.one_of(
                [
                    st.fixed_dictionaries({n: strategy(m, where, depth + 1)})
                    for n, m in members.items()
                ]
            )

        def where_for(member: Shape) -> str:
            return where_of(member) if depth == 0 else where

        required = {
            n: strategy(members[n], where_for(members[n]), depth + 1) for n in shape.required
        }
        for n in shape.required:
            if members[n].location and members[n].type_name in ("list", "map"):
                # An empty required list is not on the wire at all, so it is "missing".
                required[n] = required[n].filter(bool)
        optional = {
            n: strategy(m, where_for(m), depth + 1)
            for n, m in members.items()
            if n not in shape.required and depth < 4 and not m.event_stream
        }
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        hi = min(int(shape.max) if shape.max is not None else lo + 3, lo + 3)
        return st.lists(strategy(shape.member, where, depth + 1), min_size=lo, max_size=hi)
    if kind == "map":
        hi = min(int(shape.max) if shape.max is not None else lo + 3, lo + 3)
        keys = strategy(shape.key, where, depth + 1)
        if where == "header":  # a header-prefix map: names arrive lower-cased
            keys = st.text(string.ascii_lowercase, min_size=1, max_size=6)
        elif where == "query":  # a map of free query parameters: avoid named ones
            keys = st.text(string.ascii_lowercase, min_size=1, max_size=6).map(lambda k: "f-" + k)
        return st.dictionaries(
            keys, strategy(shape.value, where, depth + 1), min_size=lo, max_size=hi
        )
    if kind == "string":
        return string_strategy(shape, where)
    if kind in ("integer", "long"):
        bound = 2**31 if kind == "integer" else 2**53
        low = int(shape.min) if shape.min is not None else -bound
        high = int(shape.max) if shape.max is not None else bound - 1
        return st.integers(low, high)
    if kind in ("double", "float"):
        return st.floats(
            min_value=shape.min, max_value=shape.max, allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        moments = st.datetimes(FIRST, LAST, timezones=st.just(UTC))
        if where == "header":  # RFC 822 has whole seconds
            return moments.map(lambda d: d.replace(microsecond=0))
        return moments
    if kind == "blob":
        hi = int(shape.max) if shape.max is not None else lo + 24
        return st.binary(min_size=lo, max_size=min(hi, lo + 24))
    raise AssertionError(f"no strategy for {shape!r}")


def expected_params(shape: Shape, params: Mapping[str, Any]) -> dict[str, Any]:
    """What Fireside should decode from botocore's encoding of `params`."""
    out = dict(params)
    for name, member in shape.members.items():
        value = out.get(name)
        # botocore sends nothing for empty located collections, or an empty payload.
        located = member.location in ("querystring", "header", "headers")
        if located and member.type_name in ("list", "map") and value in ([], {}):
            del out[name]
        if name == shape.payload and value in (b"", {}) and name not in shape.required:
            del out[name]
    return out


# -- every Lambda operation, both directions -------------------------------------------------


@pytest.mark.parametrize("operation", LAMBDA.operation_names)
@EXAMPLES
@given(data=st.data())
def test_every_lambda_input_round_trips(operation: str, data: st.DataObject) -> None:
    shape = LAMBDA.operation(operation).input
    params = data.draw(strategy(shape)) if shape is not None else {}
    parsed = PROTO.parse(boto_request(BOTO_LAMBDA, operation, params))
    assert parsed.operation_name == operation
    assert parsed.params == (expected_params(shape, params) if shape is not None else {})


OUTPUT_OPERATIONS = [
    n for n in LAMBDA.operation_names if not LAMBDA.operation(n).has_event_stream_output
]


@pytest.mark.parametrize("operation", OUTPUT_OPERATIONS)
@EXAMPLES
@given(data=st.data())
def test_every_lambda_output_round_trips(operation: str, data: st.DataObject) -> None:
    op = LAMBDA.operation(operation)
    result = data.draw(strategy(op.output)) if op.output is not None else {}
    response = PROTO.serialize_result(operation, result, "req-1")
    assert response.status == op.response_code
    parsed = boto_parse(response, BOTO_LAMBDA.operation_model(operation))
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    expected = dict(result)
    for name, member in op.output.members.items() if op.output else ():
        if member.location == "statusCode":
            expected[name] = op.response_code
        if name == op.output.payload:  # type: ignore[union-attr]
            parsed[name] = parsed[name].read()
            expected.setdefault(name, b"")
    assert parsed == expected


# -- representative outputs ------------------------------------------------------------------

CONFIG = {
    "FunctionName": "hello",
    "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:hello",
    "Runtime": "python3.12",
    "Role": "arn:aws:iam::000000000000:role/r",
    "Handler": "app.handler",
    "CodeSize": 1234,
    "Timeout": 3,
    "MemorySize": 128,
    "LastModified": "2024-01-01T00:00:00.000+0000",
    "Environment": {"Variables": {"GREETING": "hi"}},
    "Architectures": ["x86_64"],
    "State": "Active",
}


def lambda_round_trip(operation: str, result: dict[str, Any]) -> tuple[Response, dict[str, Any]]:
    response = PROTO.serialize_result(operation, result, "rid-7")
    parsed = boto_parse(response, BOTO_LAMBDA.operation_model(operation))
    assert parsed.pop("ResponseMetadata")["RequestId"] == "rid-7"
    return response, parsed


def test_get_function_output() -> None:
    result = {
        "Configuration": CONFIG,
        "Code": {"RepositoryType": "S3", "Location": "https://example.com/code.zip"},
        "Tags": {"team": "core"},
        "Concurrency": None,  # None means absent
        "Extra": "ignored",  # not in the model: not sent
    }
    response, parsed = lambda_round_trip("GetFunction", result)
    assert response.status == 200
    assert ("Content-Type", "application/json") in response.headers
    assert not any(name.lower() == "content-length" for name, _ in response.headers)
    assert parsed == {k: v for k, v in result.items() if k in ("Configuration", "Code", "Tags")}


def test_list_functions_output() -> None:
    result = {"Functions": [CONFIG, {**CONFIG, "FunctionName": "two"}], "NextMarker": "m2"}
    _, parsed = lambda_round_trip("ListFunctions", result)
    assert parsed == result


def test_invoke_output_payload_and_headers() -> None:
    result = {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "LogResult": "U1RBUlQgUmVxdWVzdElk",
        "ExecutedVersion": "$LATEST",
        "Payload": b'{"errorMessage": "boom"}',
    }
    response, parsed = lambda_round_trip("Invoke", result)
    assert response.body == result["Payload"]  # the raw bytes, not base64
    headers = dict(response.headers)
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    assert headers["Content-Type"] == "application/json"
    assert parsed.pop("Payload").read() == result["Payload"]
    assert parsed == {k: v for k, v in result.items() if k != "Payload"}


def test_invoke_event_status_comes_from_the_result() -> None:
    response, parsed = lambda_round_trip("Invoke", {"StatusCode": 202})
    assert response.status == 202
    assert response.body == b""
    assert parsed["StatusCode"] == 202


def test_create_function_is_201() -> None:
    response, parsed = lambda_round_trip("CreateFunction", CONFIG)
    assert response.status == 201
    assert parsed == CONFIG


def test_delete_function_204_has_no_body() -> None:
    response = PROTO.serialize_result("DeleteFunction", {"StatusCode": 204}, "r")
    assert response.status == 204
    assert response.body == b""
    assert response.headers == [("x-amzn-RequestId", "r")]
    response = PROTO.serialize_result("DeleteAlias", {}, "r")
    assert (response.status, response.body) == (204, b"")


# -- errors ----------------------------------------------------------------------------------


def error_round_trip(error: ServiceError, operation: str = "GetFunction") -> dict[str, Any]:
    response = PROTO.serialize_error(error, "err-1")
    assert response.status == error.status
    parsed = boto_parse(response, BOTO_LAMBDA.operation_model(operation))
    assert parsed["ResponseMetadata"]["RequestId"] == "err-1"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == error.status
    return parsed


def test_resource_not_found_uses_capital_message() -> None:
    error = ServiceError("ResourceNotFoundException", "Function not found: arn:x", 404)
    body = json.loads(PROTO.serialize_error(error, "e").body)
    assert body == {"Type": "User", "Message": "Function not found: arn:x"}
    parsed = error_round_trip(error)
    assert parsed["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "Function not found: arn:x",
    }


def test_invalid_parameter_uses_lower_message() -> None:
    error = ServiceError("InvalidParameterValueException", "Bad handler", 400, Type="User")
    body = json.loads(PROTO.serialize_error(error, "e").body)
    assert body == {"Type": "User", "message": "Bad handler"}
    assert error_round_trip(error)["Error"]["Code"] == "InvalidParameterValueException"


def test_service_fault_type() -> None:
    error = ServiceError("ServiceException", "oops", 500, sender_fault=False)
    assert json.loads(PROTO.serialize_error(error, "e").body) == {
        "Type": "Service",
        "Message": "oops",
    }
    assert error_round_trip(error)["Error"] == {"Code": "ServiceException", "Message": "oops"}


def test_too_many_requests_reason_and_retry_after() -> None:
    error = ServiceError(
        "TooManyRequestsException",
        "Rate exceeded",
        429,
        Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
        retryAfterSeconds="2",
    )
    response = PROTO.serialize_error(error, "e")
    assert dict(response.headers)["Retry-After"] == "2"
    parsed = error_round_trip(error, "Invoke")
    assert parsed["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
    modelled = boto_parse(
        response,
        BOTO_LAMBDA.operation_model("Invoke"),
        BOTO_LAMBDA.shape_for("TooManyRequestsException"),
    )
    assert modelled == {
        "retryAfterSeconds": "2",
        "Type": "User",
        "message": "Rate exceeded",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }


def test_error_headers_are_sent_once() -> None:
    error = ServiceError("TooManyRequestsException", "slow down", 429, headers={"Retry-After": "5"})
    response = PROTO.serialize_error(error, "e")
    assert [v for k, v in response.headers if k.lower() == "retry-after"] == ["5"]


def test_unmodelled_error_defaults_to_lower_message() -> None:
    error = ServiceError("SomethingElse", "odd", 418, Detail="x")
    assert json.loads(PROTO.serialize_error(error, "e").body) == {"message": "odd", "Detail": "x"}
    assert error_round_trip(error)["Error"] == {"Code": "SomethingElse", "Message": "odd"}


def test_not_implemented() -> None:
    error = not_implemented("ListTags", LAMBDA)
    assert (error.code, error.status) == ("NotImplementedException", 501)
    assert error.message == "Fireside does not implement the Lambda operation ListTags yet"
    assert error_round_trip(error, "ListTags")["Error"]["Code"] == "NotImplementedException"


# -- bad input -------------------------------------------------------------------------------

CREATE = "/2015-03-31/functions"
GOOD = {
    "FunctionName": "hello",
    "Role": "arn:aws:iam::000000000000:role/r",
    "Code": {"ZipFile": "UEsDBA=="},
    "Runtime": "python3.12",
    "Handler": "app.handler",
}


def parse_error(
    method: str, path: str, body: Any = b"", query: str = "", **headers: str
) -> ServiceError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ServiceError) as caught:
        PROTO.parse(Request(method, path, query, headers, raw))
    return caught.value


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "expected an object but got array"),
        (b'"x"', 'expected an object but got string "x"'),
        ({**GOOD, "Timeout": "soon"}, "expected an integer but got string \"soon\" at 'Timeout'"),
        ({**GOOD, "Timeout": 2**40}, "out of range of integer at 'Timeout'"),
        ({**GOOD, "Publish": "yes"}, "expected a boolean"),
        ({**GOOD, "FunctionName": 5}, "expected a string but got number 5 at 'FunctionName'"),
        ({**GOOD, "Code": {"ZipFile": "not base64!"}}, "invalid base64 data at 'Code.ZipFile'"),
        (
            {**GOOD, "Environment": {"Variables": {"AB": 1}}},
            "expected a string but got number 1 at 'Environment.Variables.AB'",
        ),
        ({**GOOD, "Layers": ["a", 7]}, "at 'Layers.1'"),
    ],
)
def test_undecodable_bodies(body: Any, detail: str) -> None:
    error = parse_error("POST", CREATE, body)
    assert (error.code, error.status, error.fields) == (
        "InvalidRequestContentException",
        400,
        {"Type": "User"},
    )
    assert error.message.startswith("Could not parse request body into json: ")
    assert detail in error.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {k: v for k, v in GOOD.items() if k != "Role"},
            "1 validation error detected: Value null at 'role' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {**GOOD, "Timeout": 0},
            "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            {**GOOD, "FunctionName": "f" * 141},
            f"1 validation error detected: Value '{'f' * 141}' at 'functionName' failed to satisfy "
            "constraint: Member must have length less than or equal to 140",
        ),
        (
            {**GOOD, "Runtime": "cobol"},
            "1 validation error detected: Value 'cobol' at 'runtime' failed to satisfy constraint: "
            "Member must satisfy enum value set: [nodejs, nodejs4.3,",
        ),
        (
            {**GOOD, "FunctionName": "x y"},
            "1 validation error detected: Value 'x y' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?",
        ),
        (
            {**GOOD, "MemorySize": 64, "Description": "d" * 257},
            "2 validation errors detected: Value '"
            + "d" * 257
            + "' at 'description' failed to satisfy constraint: Member must have length less than "
            "or equal to 256; Value '64' at 'memorySize' failed to satisfy constraint: Member must "
            "have value greater than or equal to 128",
        ),
        (
            {**GOOD, "Environment": {"Variables": {"A": "x"}}},
            "1 validation error detected: Value at 'environment.variables' failed to satisfy "
            "constraint: Map keys must satisfy constraint: [Member must satisfy regular expression "
            "pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
        ),
        (
            # Coral names the list, not the element, and every constraint of an element
            # (AWS's recorded answer for a layer ARN without a version).
            {**GOOD, "Layers": ["not-an-arn"]},
            "1 validation error detected: Value '[not-an-arn]' at 'layers' failed to satisfy "
            "constraint: Member must satisfy constraint: [Member must have length less than or "
            "equal to 2048, Member must have length greater than or equal to 1, Member must "
            "satisfy regular expression pattern: ",
        ),
        (
            {**GOOD, "EphemeralStorage": {}},
            "1 validation error detected: Value null at 'ephemeralStorage.size' failed to satisfy "
            "constraint: Member must not be null",
        ),
    ],
)
def test_constraint_violations(body: Any, message: str) -> None:
    error = parse_error("POST", CREATE, body)
    assert (error.code, error.status) == ("ValidationException", 400)
    assert error.message.startswith(message), error.message


def test_validation_error_round_trips_through_botocore() -> None:
    error = parse_error("POST", CREATE, {k: v for k, v in GOOD.items() if k != "Role"})
    parsed = error_round_trip(error, "CreateFunction")
    assert parsed["Error"]["Code"] == "ValidationException"
    assert parsed["Error"]["Message"].startswith("1 validation error detected")


def test_bad_invoke_headers_and_query() -> None:
    path = "/2015-03-31/functions/f/invocations"
    error = parse_error("POST", path, **{"x-amz-invocation-type": "Sometimes"})
    assert error.code == "ValidationException"
    assert "at 'invocationType'" in error.message
    assert "[Event, RequestResponse, DryRun]" in error.message
    error = parse_error("GET", CREATE, query="MaxItems=lots")
    assert (error.code, error.status) == ("InvalidRequestContentException", 400)
    assert "MaxItems" in error.message
    error = parse_error("GET", CREATE, query="MaxItems=0")
    assert "Value '0' at 'maxItems'" in error.message


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "operation", "params"),
    [
        ("GET", "/2018-10-31/layers", "", "ListLayers", {}),
        (
            "GET",
            "/2018-10-31/layers",
            "find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Alayer%3Ax%3A1",
            "GetLayerVersionByArn",
            {"Arn": "arn:aws:lambda:us-east-1:000000000000:layer:x:1"},
        ),
        (
            "GET",
            "/2019-09-30/functions/f/provisioned-concurrency",
            "Qualifier=live",
            "GetProvisionedConcurrencyConfig",
            {"FunctionName": "f", "Qualifier": "live"},
        ),
        (
            "GET",
            "/2019-09-30/functions/f/provisioned-concurrency",
            "List=ALL",
            "ListProvisionedConcurrencyConfigs",
            {"FunctionName": "f"},
        ),
        (
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af",
            "",
            "GetFunction",
            {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:f"},
        ),
        (
            "GET",
            "/2018-10-31/layers/lib/versions/3",
            "",
            "GetLayerVersion",
            {"LayerName": "lib", "VersionNumber": 3},
        ),
        (
            "DELETE",
            "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af",
            "tagKeys=a&tagKeys=b%20c",
            "UntagResource",
            {
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
                "TagKeys": ["a", "b c"],
            },
        ),
    ],
)
def test_routes(method: str, path: str, query: str, operation: str, params: dict[str, Any]) -> None:
    parsed = PROTO.parse(Request(method, path, query, {}, b""))
    assert (parsed.operation_name, parsed.params) == (operation, params)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/2015-03-31/functions/x"),
        ("GET", "/nope"),
        ("GET", "/"),
        ("POST", "/2015-03-31/functions/a/b/c"),
    ],
)
def test_unmatched_routes_are_404(method: str, path: str) -> None:
    error = parse_error(method, path)
    assert (error.code, error.status) == ("UnknownOperationException", 404)
    assert method in error.message and path in error.message
    body = json.loads(PROTO.serialize_error(error, "e").body)
    assert body == {"message": error.message}


# -- boto3 end to end (no server: the HTTP send is short-circuited) --------------------------


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


def fake_lambda(results: dict[str, Any]) -> Any:
    """A boto3 Lambda client whose requests go through Fireside's wire layer in-process."""
    client = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    seen: list[Any] = []

    def send(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        body = request.body or b""
        body = (
            body.encode()
            if isinstance(body, str)
            else body
            if isinstance(body, bytes)
            else body.read()
        )
        try:
            parsed = PROTO.parse(Request(request.method, url.path, url.query, headers, body))
            seen.append(parsed)
            outcome = results[parsed.operation_name]
            if isinstance(outcome, ServiceError):
                raise outcome
            response = PROTO.serialize_result(parsed.operation_name, outcome, "rid")
        except ServiceError as error:
            response = PROTO.serialize_error(error, "rid")
        headers_out = HeadersDict(response.headers)
        headers_out["Content-Length"] = str(len(response.body))
        return AWSResponse(request.url, response.status, headers_out, _Raw(response.body))

    client.meta.events.register("before-send.lambda.*", send)
    client.seen = seen
    return client


def test_boto3_invoke_end_to_end() -> None:
    client = fake_lambda(
        {"Invoke": {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": b'{"ok": 1}'}}
    )
    reply = client.invoke(
        FunctionName="hello", Payload=b'{"n": 1}', LogType="Tail", Qualifier="$LATEST"
    )
    assert reply["StatusCode"] == 200
    assert reply["ExecutedVersion"] == "$LATEST"
    assert reply["Payload"].read() == b'{"ok": 1}'
    assert client.seen[0].params == {
        "FunctionName": "hello",
        "Payload": b'{"n": 1}',
        "LogType": "Tail",
        "Qualifier": "$LATEST",
    }


def test_boto3_modelled_errors() -> None:
    client = fake_lambda(
        {
            "GetFunction": ServiceError("ResourceNotFoundException", "Function not found: x", 404),
            "CreateFunction": ServiceError("InvalidParameterValueException", "Bad runtime", 400),
        }
    )
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.get_function(FunctionName="x")
    assert caught.value.response["Error"]["Message"] == "Function not found: x"
    assert caught.value.response["Type"] == "User"
    role = "arn:aws:iam::000000000000:role/r"
    with pytest.raises(client.exceptions.InvalidParameterValueException) as invalid:
        client.create_function(FunctionName="x", Role=role, Code={})
    assert invalid.value.response["Error"]["Message"] == "Bad runtime"
    # Constraints botocore does not check client-side come back as Coral validation errors.
    with pytest.raises(botocore.exceptions.ClientError) as validation:
        client.create_function(FunctionName="x y", Role=role, Code={})
    assert validation.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'functionName'" in validation.value.response["Error"]["Message"]


def test_protocol_for_picks_rest_json() -> None:
    proto = protocol_for(LAMBDA)
    assert isinstance(proto, RestJsonProtocol)
    assert proto.service is LAMBDA


# -- protocol features Lambda does not use, on a small made-up service -----------------------

SYNTH = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "synth",
        "protocol": "rest-json",
        "serviceFullName": "Synthetic",
        "serviceId": "Synth",
        "signatureVersion": "v4",
        "signingName": "synth",
        "uid": "synth-2020-01-01",
    },
    "operations": {
        "PutObject": {
            "name": "PutObject",
            "http": {"method": "PUT", "requestUri": "/buckets/{Bucket}/{Key+}"},
            "input": {"shape": "PutObjectInput"},
            "output": {"shape": "PutObjectOutput"},
        },
        "PutObjectAcl": {
            "name": "PutObjectAcl",
            "http": {"method": "PUT", "requestUri": "/buckets/{Bucket}/{Key+}?acl"},
            "input": {"shape": "AclInput"},
        },
        "Search": {
            "name": "Search",
            "http": {"method": "GET", "requestUri": "/search"},
            "input": {"shape": "SearchInput"},
            "output": {"shape": "SearchOutput"},
        },
        "PutDoc": {
            "name": "PutDoc",
            "http": {"method": "POST", "requestUri": "/docs/{Id}", "responseCode": 201},
            "input": {"shape": "PutDocInput"},
            "output": {"shape": "PutDocOutput"},
        },
    },
    "shapes": {
        "PutObjectInput": {
            "type": "structure",
            "required": ["Bucket", "Key"],
            "payload": "Body",
            "members": {
                "Bucket": {"shape": "String", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "String", "location": "uri", "locationName": "Key"},
                "Metadata": {
                    "shape": "StringMap",
                    "location": "headers",
                    "locationName": "x-amz-meta-",
                },
                "Tags": {"shape": "StringList", "location": "header", "locationName": "X-Tags"},
                "Context": {
                    "shape": "JsonString",
                    "location": "header",
                    "locationName": "X-Context",
                },
                "Expires": {"shape": "Time", "location": "header", "locationName": "Expires"},
                "Count": {"shape": "Integer", "location": "header", "locationName": "X-Count"},
                "Body": {"shape": "Stream"},
            },
        },
        "PutObjectOutput": {
            "type": "structure",
            "members": {
                "ETag": {"shape": "String", "location": "header", "locationName": "ETag"},
                "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
                "Modified": {"shape": "Time", "location": "header", "locationName": "X-Modified"},
                "Context": {
                    "shape": "JsonString",
                    "location": "header",
                    "locationName": "X-Context",
                },
                "Flag": {"shape": "Boolean", "location": "header", "locationName": "X-Flag"},
                "Ratio": {"shape": "Double", "location": "header", "locationName": "X-Ratio"},
                "Created": {"shape": "Time"},
                "CreatedIso": {"shape": "IsoTime"},
                "Score": {"shape": "Double"},
                "Data": {"shape": "Blob"},
                "Items": {"shape": "ItemList"},
            },
        },
        "AclInput": {
            "type": "structure",
            "required": ["Bucket", "Key"],
            "members": {
                "Bucket": {"shape": "String", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "String", "location": "uri", "locationName": "Key"},
                "Acl": {"shape": "String"},
            },
        },
        "SearchInput": {
            "type": "structure",
            "members": {
                "Filters": {"shape": "StringMap", "location": "querystring"},
                "Since": {"shape": "Time", "location": "querystring", "locationName": "since"},
                "Ids": {"shape": "IntegerList", "location": "querystring", "locationName": "id"},
                "Exact": {"shape": "Boolean", "location": "querystring", "locationName": "exact"},
                "Ratio": {"shape": "Double", "location": "querystring", "locationName": "ratio"},
            },
        },
        "SearchOutput": {
            "type": "structure",
            "members": {
                "Items": {"shape": "ItemList"},
                "Next": {"shape": "String", "locationName": "next"},
            },
        },
        "PutDocInput": {
            "type": "structure",
            "required": ["Id", "Doc"],
            "payload": "Doc",
            "members": {
                "Id": {"shape": "String", "location": "uri", "locationName": "Id"},
                "Doc": {"shape": "Doc"},
            },
        },
        "PutDocOutput": {
            "type": "structure",
            "payload": "Doc",
            "members": {"Doc": {"shape": "Doc"}},
        },
        "Doc": {
            "type": "structure",
            "required": ["Title"],
            "members": {
                "Title": {"shape": "Title"},
                "Pages": {"shape": "Integer"},
                "Stamp": {"shape": "Time"},
                "Attachment": {"shape": "Blob"},
            },
        },
        "Item": {
            "type": "structure",
            "members": {
                "Name": {"shape": "String"},
                "When": {"shape": "Time"},
                "Tags": {"shape": "StringMap"},
            },
        },
        "ItemList": {"type": "list", "member": {"shape": "Item"}},
        "StringList": {"type": "list", "member": {"shape": "String"}},
        "IntegerList": {"type": "list", "member": {"shape": "Integer"}},
        "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "JsonString": {"type": "string", "jsonvalue": True},
        "Title": {"type": "string", "min": 1, "max": 20},
        "String": {"type": "string"},
        "Integer": {"type": "integer"},
        "Double": {"type": "double"},
        "Boolean": {"type": "boolean"},
        "Blob": {"type": "blob"},
        "Stream": {"type": "blob", "streaming": True},
        "Time": {"type": "timestamp"},
        "IsoTime": {"type": "timestamp", "timestampFormat": "iso8601"},
    },
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[RestJsonProtocol, Any]:
    root = tmp_path_factory.mktemp("models")
    (root / "synth" / "2020-01-01").mkdir(parents=True)
    (root / "synth" / "2020-01-01" / "service-2.json").write_text(json.dumps(SYNTH))
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(root))
    return RestJsonProtocol(service_from_description(SYNTH, "synth")), session.get_service_model(
        "synth"
    )


@EXAMPLES
@given(data=st.data())
def test_synthetic_inputs_round_trip(
    synth: tuple[RestJsonProtocol, Any], data: st.DataObject
) -> None:
    proto, boto_model = synth
    for operation in ("PutObject", "Search", "PutDoc"):
        shape = proto.service.operation(operation).input
        assert shape is not None
        params = data.draw(strategy(shape))
        request = to_request(
            SERIALIZER.serialize_to_request(params, boto_model.operation_model(operation))
        )
        parsed = proto.parse(request)
        assert (parsed.operation_name, parsed.params) == (operation, expected_params(shape, params))


@EXAMPLES
@given(data=st.data())
def test_synthetic_outputs_round_trip(
    synth: tuple[RestJsonProtocol, Any], data: st.DataObject
) -> None:
    proto, boto_model = synth
    for operation in ("PutObject", "Search", "PutDoc"):
        op = proto.service.operation(operation)
        assert op.output is not None
        result = data.draw(strategy(op.output))
        response = proto.serialize_result(operation, result, "r")
        assert response.status == op.response_code
        parsed = boto_parse(response, boto_model.operation_model(operation))
        del parsed["ResponseMetadata"]
        expected = dict(result)
        for name, member in op.output.members.items():
            # botocore always reports header maps, and an absent document payload as {}.
            if member.location == "headers" or name == op.output.payload:
                expected.setdefault(name, {})
        assert parsed == expected


def test_greedy_label_and_literal_query_key(synth: tuple[RestJsonProtocol, Any]) -> None:
    proto, _ = synth
    parsed = proto.parse(Request("PUT", "/buckets/b/a/deep/key%20x.txt", "", {}, b"data"))
    assert parsed == type(parsed)(
        "PutObject", {"Bucket": "b", "Key": "a/deep/key x.txt", "Body": b"data"}
    )
    parsed = proto.parse(Request("PUT", "/buckets/b/k", "acl", {}, b'{"Acl": "private"}'))
    assert parsed.operation_name == "PutObjectAcl"
    assert parsed.params == {"Bucket": "b", "Key": "k", "Acl": "private"}


def test_synthetic_header_encodings(synth: tuple[RestJsonProtocol, Any]) -> None:
    proto, _ = synth
    result = {
        "ETag": '"abc"',
        "Meta": {"Color": "red"},
        "Modified": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        "Context": {"a": [1, 2]},
        "Flag": False,
        "Created": datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
        "CreatedIso": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    }
    response = proto.serialize_result("PutObject", result, "r")
    headers = dict(response.headers)
    assert headers["X-Modified"] == "Mon, 06 May 2024 07:08:09 GMT"
    assert headers["x-meta-Color"] == "red"
    assert headers["X-Flag"] == "false"
    assert json.loads(response.body) == {
        "Created": 1714979289.5,
        "CreatedIso": "2024-05-06T07:08:09Z",
    }


def test_structure_payload_errors(synth: tuple[RestJsonProtocol, Any]) -> None:
    proto, _ = synth
    with pytest.raises(ServiceError) as caught:
        proto.parse(Request("POST", "/docs/d1", "", {}, b'{"Pages": 3}'))
    assert caught.value.message == (
        "1 validation error detected: Value null at 'doc.title' failed to satisfy constraint: "
        "Member must not be null"
    )
    with pytest.raises(ServiceError) as caught:
        proto.parse(Request("POST", "/docs/d1", "", {}, b""))
    assert "Value null at 'doc'" in caught.value.message


# -- recursive shapes ------------------------------------------------------------------------


def test_recursive_shapes_compile_and_decode() -> None:
    dynamodb = load_service("dynamodb")
    shape = dynamodb.shape("AttributeValue")
    codec = JsonCodec()
    value = {"M": {"a": {"L": [{"S": "x"}, {"N": "1"}, {"B": "AAE="}]}, "b": {"NULL": True}}}
    decoded = codec.decoder(shape)(value)
    assert decoded["M"]["a"]["L"][2] == {"B": b"\x00\x01"}
    assert codec.encoder(shape)(decoded) == value
    put = dynamodb.operation("PutItem").input
    assert put is not None
    problems = Validator(put).problems({"TableName": "t", "Item": {"k": {"M": {"x": {"S": "v"}}}}})
    assert problems == []
    assert Validator(put).problems({"Item": {}}) == [
        "Value null at 'tableName' failed to satisfy constraint: Member must not be null"
    ]


def test_model_facade_basics() -> None:
    assert (LAMBDA.protocol, LAMBDA.signing_name, LAMBDA.endpoint_prefix) == (
        "rest-json",
        "lambda",
        "lambda",
    )
    assert LAMBDA.api_version == "2015-03-31"
    invoke = LAMBDA.operation("Invoke")
    assert (invoke.http_method, invoke.request_uri, invoke.response_code) == (
        "POST",
        "/2015-03-31/functions/{FunctionName}/invocations",
        200,
    )
    assert invoke.input is not None and invoke.input.payload == "Payload"
    assert invoke.input.members["InvocationType"].location_name == "X-Amz-Invocation-Type"
    assert "ResourceNotFoundException" in invoke.error_codes
    missing = LAMBDA.error_shape("ResourceNotFoundException")
    assert missing is not None and missing.error_status == 404 and "Message" in missing.members
    assert LAMBDA.error_shape("NoSuchThing") is None
    with pytest.raises(KeyError):
        LAMBDA.operation("NoSuchThing")
    assert load_service("lambda") is LAMBDA
