"""Event streams (fireside/aws/eventstream.py) read back by botocore's own parser, and the
HTTP-integration prelude of streamed responses (fireside/compute/streaming.py)."""

from __future__ import annotations

import json
import zlib

import botocore.session
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.parsers import EventStreamJSONParser
from hypothesis import given
from hypothesis import strategies as st

from fireside.aws.eventstream import EventStreamSerializer, encode_message
from fireside.aws.jsoncodec import JsonCodec
from fireside.aws.model import load_service
from fireside.compute.streaming import PreludeSplitter

LAMBDA = load_service("lambda")
SHAPE = LAMBDA.operation("InvokeWithResponseStream").output.members["EventStream"]  # type: ignore[union-attr]
EVENTS = EventStreamSerializer(SHAPE, JsonCodec("unixTimestamp"))


class _Raw:
    """What botocore's EventStream reads from: a urllib3-like response."""

    def __init__(self, data: bytes, piece: int) -> None:
        self._data = data
        self._piece = piece

    def stream(self, amount: int = 1024) -> object:
        for at in range(0, len(self._data), self._piece):
            yield self._data[at : at + self._piece]

    def close(self) -> None:
        pass


_BOTO_SHAPE = (
    botocore.session.get_session()
    .get_service_model("lambda")
    .operation_model("InvokeWithResponseStream")
    .output_shape.members["EventStream"]
)


def parse_with_botocore(data: bytes, piece: int = 7) -> list[dict[str, object]]:
    """The events as boto3's `invoke_with_response_stream` yields them (the parser botocore
    uses for rest-json event streams), the bytes arriving `piece` at a time."""
    stream = EventStream(
        _Raw(data, piece), _BOTO_SHAPE, EventStreamJSONParser(), "InvokeWithResponseStream"
    )
    return list(stream)


def test_botocore_reads_payload_chunks_and_the_completion() -> None:
    data = b"".join(
        [
            EVENTS.encode({"PayloadChunk": {"Payload": b"hello "}}),
            EVENTS.encode({"PayloadChunk": {"Payload": b"\0\xffbinary"}}),
            EVENTS.encode(
                {
                    "InvokeComplete": {
                        "ErrorCode": "Boom",
                        "ErrorDetails": '{"x": 1}',
                        "LogResult": "TG9n",
                    }
                }
            ),
        ]
    )
    assert parse_with_botocore(data) == [
        {"PayloadChunk": {"Payload": b"hello "}},
        {"PayloadChunk": {"Payload": b"\0\xffbinary"}},
        {"InvokeComplete": {"ErrorCode": "Boom", "ErrorDetails": '{"x": 1}', "LogResult": "TG9n"}},
    ]


@given(
    st.lists(st.binary(max_size=3000), max_size=8),
    st.one_of(st.none(), st.text(max_size=200)),
    st.integers(1, 5000),
)
def test_any_chunks_round_trip_through_botocore(
    chunks: list[bytes], error: str | None, piece: int
) -> None:
    complete = {} if error is None else {"ErrorCode": "E", "ErrorDetails": error}
    data = b"".join(EVENTS.encode({"PayloadChunk": {"Payload": c}}) for c in chunks)
    data += EVENTS.encode({"InvokeComplete": complete})
    events = parse_with_botocore(data, piece)
    assert [e["PayloadChunk"]["Payload"] for e in events[:-1]] == chunks  # type: ignore[index]
    assert events[-1] == {"InvokeComplete": complete}


def test_the_framing_checks_out_with_botocore_buffer() -> None:
    message = encode_message([(":event-type", "PayloadChunk")], b"abc")
    total = int.from_bytes(message[:4], "big")
    assert total == len(message)
    assert int.from_bytes(message[8:12], "big") == zlib.crc32(message[:8])
    buffer = EventStreamBuffer()
    buffer.add_data(message)
    (parsed,) = list(buffer)
    assert parsed.headers == {":event-type": "PayloadChunk"} and parsed.payload == b"abc"


def test_the_http_prelude_is_split_off_across_chunks() -> None:
    metadata = {"statusCode": 201, "headers": {"a": "b"}, "cookies": ["c=d"]}
    raw = json.dumps(metadata).encode() + b"\0" * 8 + b"body\0bytes"
    for piece in (1, 3, 8, 100):
        splitter = PreludeSplitter()
        found, body = None, b""
        for at in range(0, len(raw), piece):
            got, more = splitter.feed(raw[at : at + piece])
            found = found or got
            body += more
        body += splitter.finish()[1]
        assert found == metadata and body == b"body\0bytes"


def test_a_body_without_a_prelude_is_all_body() -> None:
    splitter = PreludeSplitter()
    assert splitter.feed(b"not json") == (None, b"")
    assert splitter.finish() == (None, b"not json")
    splitter = PreludeSplitter()
    assert splitter.feed(b"[1]" + b"\0" * 8 + b"x") == (None, b"[1]" + b"\0" * 8 + b"x")
