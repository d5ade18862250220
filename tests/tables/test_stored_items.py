"""Stored items answered as stored: the spliced body is byte for byte the codec's.

GetItem, Query and Scan answer whole items as `StoredItem`s, whose stored text the json
protocol splices into the body instead of decoding and re-encoding each item. These tests
check, over generated items of every attribute type, that the body (and its x-amz-crc32) is
exactly what the protocol writes for the decoded items, and that botocore reads it back as
the item that was stored.
"""

from __future__ import annotations

from typing import Any

import botocore.parsers
import botocore.session
from hypothesis import given, settings
from hypothesis import strategies as st

from fireside.aws.model import load_service
from fireside.aws.protocol import protocol_for
from fireside.http.types import Response
from fireside.tables.values import StoredItem, dump_item, load_item, normalize_item

PROTO = protocol_for(load_service("dynamodb"))
BOTO_DYNAMODB = botocore.session.get_session().get_service_model("dynamodb")
PARSER = botocore.parsers.create_parser("json")

# Text SQLite can hold (no lone surrogates), with quotes, escapes, controls and non-ASCII.
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_NAME = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6)
_NUMBER = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    # Within DynamoDB's 38 significant digits (with 3 places, 35 before the point at most).
    st.decimals(
        min_value=-(10**34), max_value=10**34, allow_nan=False, allow_infinity=False, places=3
    ).map(str),
)
_SCALAR = st.one_of(
    _TEXT.map(lambda s: {"S": s}),
    _NUMBER.map(lambda n: {"N": n}),
    st.binary(max_size=12).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(_TEXT, min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=3, unique=True).map(
        lambda v: {"NS": [str(n) for n in v]}
    ),
    st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=3, unique=True).map(
        lambda v: {"BS": v}
    ),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(_NAME, inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)
_ITEM = st.dictionaries(_NAME, _VALUE, min_size=1, max_size=5).map(normalize_item)


def _stored(item: dict[str, Any]) -> tuple[StoredItem, dict[str, Any]]:
    """An item as a read finds it: as stored, and decoded from what is stored."""
    text = dump_item(item)
    return StoredItem(text), load_item(text)


def _same_response(operation: str, raw: dict[str, Any], decoded: dict[str, Any]) -> Response:
    spliced = PROTO.serialize_result(operation, raw, "request-1")
    encoded = PROTO.serialize_result(operation, decoded, "request-1")
    assert spliced.body == encoded.body
    assert spliced.headers == encoded.headers  # x-amz-crc32 included
    return spliced


def _boto(operation: str, response: Response) -> dict[str, Any]:
    parsed: dict[str, Any] = PARSER.parse(
        {"status_code": 200, "headers": dict(response.headers), "body": response.body},
        BOTO_DYNAMODB.operation_model(operation).output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


@settings(max_examples=300, deadline=None)
@given(_ITEM)
def test_get_item_body_is_the_codecs(item: dict[str, Any]) -> None:
    raw, decoded = _stored(item)
    response = _same_response("GetItem", {"Item": raw}, {"Item": decoded})
    assert _boto("GetItem", response)["Item"] == load_item(dump_item(item))


@settings(max_examples=150, deadline=None)
@given(st.lists(_ITEM, max_size=6), st.booleans())
def test_query_page_body_is_the_codecs(items: list[dict[str, Any]], paged: bool) -> None:
    pairs = [_stored(item) for item in items]
    common: dict[str, Any] = {"Count": len(items), "ScannedCount": len(items)}
    if paged and items:
        common["LastEvaluatedKey"] = dict(list(pairs[-1][1].items())[:1])
    common["ConsumedCapacity"] = {"TableName": "t", "CapacityUnits": 0.5}
    raw = {**common, "Items": [r for r, _ in pairs]}
    decoded = {**common, "Items": [d for _, d in pairs]}
    for operation in ("Query", "Scan"):
        response = _same_response(operation, raw, decoded)
        assert _boto(operation, response)["Items"] == [d for _, d in pairs]


def test_a_stored_item_reads_as_the_item() -> None:
    item = normalize_item({"pk": {"S": 'é"\\\n'}, "b": {"B": b"\x00\xff"}, "n": {"N": "1.50"}})
    raw, decoded = _stored(item)
    assert dict(raw) == decoded == item
    assert raw["b"] == {"B": b"\x00\xff"} and len(raw) == 3 and list(raw) == ["pk", "b", "n"]


def test_values_json_cannot_hold_still_fail() -> None:
    try:
        PROTO.serialize_result("GetItem", {"Item": {"x": {"S": object()}}}, "request-1")
    except TypeError:
        return
    raise AssertionError("an object JSON cannot hold was serialized")
