"""The rest-json wire layer against botocore's own serializer and parser.

Requests are built by botocore's `RestJSONSerializer` (what boto3 sends), parsed by Fireside and
compared with the params that went in; responses are built by Fireside and read back by
botocore's `RestJSONParser` (what boto3 sees). Every Lambda operation is covered with
Hypothesis data generated from the model's own shapes.
"""

from __future__ import annotations

import io
import json
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
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

EXAMPLES = settings(
    max_examples=12,
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
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()}
    return Request(prepared.method, url.path, url.query, headers, body)


def boto_request(model: Any, operation: str, params: Mapping[str, Any]) -> Request:
    return to_request(SERIALIZER.serialize_to_request(dict(params), model.operation_model(operation)))


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
EPOCH_RANGE = {"min_value": datetime(1971, 1, 1), "max_value": datetime(2100, 1, 1)}


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
        return st.text(alphabet, min_size=lo, max_size=min(hi, lo + 12))
    top = int(shape.max) if shape.max is not None else 10**6
    return st.from_regex(regex, fullmatch=True, alphabet=alphabet).filter(
        lambda s: lo <= len(s) <= top
    )


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
                [st.fixed_dictionaries({n: strategy(m, where, depth + 1)}) for n, m in members.items()]
            )
        required = {n: strategy(members[n], where, depth + 1) for n in shape.required}
        optional = {
            n: strategy(m, where_of(m) if depth == 0 else where, depth + 1)
            for n, m in members.items()
            if n not in shape.required and depth < 4 and not m.event_stream
        }
        if depth == 0:
            required = {n: strategy(members[n], where_of(members[n]), 1) for n in shape.required}
            for n in shape.required:
                if members[n].location and members[n].type_name in ("list", "map"):
                    # An empty required list is not on the wire at all, so it is "missing".
                    required[n] = required[n].filter(bool)
        return st.fixed_dictionaries(required, optional=optional)  # type: ignore[arg-type]
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
        return st.dictionaries(keys, strategy(shape.value, where, depth + 1), min_size=lo, max_size=hi)
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
        moments = st.datetimes(**EPOCH_RANGE, timezones=st.just(UTC))
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
        if member.location in ("querystring", "header", "headers") and value in ([], {}):
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


OUTPUT_OPERATIONS = [n for n in LAMBDA.operation_names if not LAMBDA.operation(n).has_event_stream_output]


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
    for name, member in (op.output.members.items() if op.output else ()):
        if member.location == "statusCode":
            expected[name] = op.response_code
        if name == op.output.payload:  # type: ignore[union-attr]
            parsed[name] = parsed[name].read()
            expected.setdefault(name, b"")
    assert parsed == expected
