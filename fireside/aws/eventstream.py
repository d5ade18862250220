"""AWS event streams (`application/vnd.amazon.eventstream`): events serialized from the model.

An operation whose output payload is an `eventstream` shape (Lambda's InvokeWithResponseStream)
answers with a sequence of binary messages, each:

    prelude   total length (4 bytes), headers length (4), CRC32 of those 8 bytes (4)
    headers   name length (1), name, value type (1; 7 = string), value length (2), value
    payload
    CRC32 of everything before it (4)

all big-endian. An event's headers are `:message-type: event`, `:event-type: <member name>`
and `:content-type`; its payload is the member marked `eventpayload` (a blob as is, a string
as UTF-8, a structure as JSON), or else the event's other members as one JSON object. Members
marked `eventheader` travel as headers (strings only here: Lambda's events have none).

    events = EventStreamSerializer(shape, codec)
    frame = events.encode({"PayloadChunk": {"Payload": b"hello"}})
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from fireside.aws.jsoncodec import Encoder, JsonCodec
from fireside.aws.model import Shape

__all__ = ["CONTENT_TYPE", "EventStreamSerializer", "encode_message"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def encode_message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message with string headers."""
    raw_headers = b"".join(_header(name, value) for name, value in headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


class _EventPlan:
    __slots__ = ("content_type", "headers", "json", "name", "payload")

    def __init__(self, name: str, shape: Shape, codec: JsonCodec) -> None:
        self.name = name
        self.payload: str | None = None
        self.headers = [n for n, m in shape.members.items() if m.event_header]
        body: dict[str, tuple[str, Encoder]] = {}
        self.content_type = "application/json"
        for member_name, member in shape.members.items():
            if member.event_payload:
                self.payload = member_name
                self.content_type = {
                    "blob": "application/octet-stream",
                    "string": "text/plain",
                }.get(member.type_name, "application/json")
                body = {member_name: (member_name, codec.encoder(member))}
                break
            if not member.event_header:
                body[member_name] = (member.location_name or member_name, codec.encoder(member))
        self.json = body


class EventStreamSerializer:
    """Encodes the events of one `eventstream` shape: `{member name: event value}` -> bytes."""

    def __init__(self, shape: Shape, codec: JsonCodec) -> None:
        if not shape.event_stream:
            raise TypeError(f"{shape!r} is not an event stream")
        self._plans = {name: _EventPlan(name, m, codec) for name, m in shape.members.items()}

    def encode(self, event: Mapping[str, Any]) -> bytes:
        if len(event) != 1:
            raise ValueError(f"an event has exactly one member, not {sorted(event)}")
        ((name, value),) = event.items()
        plan = self._plans[name]  # KeyError: not an event of this stream (a provider bug)
        headers = [
            (":event-type", name),
            (":content-type", plan.content_type),
            (":message-type", "event"),
        ]
        headers.extend((h, str(value[h])) for h in plan.headers if value.get(h) is not None)
        if plan.payload is not None:
            raw = value.get(plan.payload, b"")
            if isinstance(raw, str):
                payload = raw.encode()
            elif isinstance(raw, bytes | bytearray | memoryview):
                payload = bytes(raw)
            else:
                payload = _dumps(plan.json[plan.payload][1](raw))
        else:
            document = {
                key: encode(value[member])
                for member, (key, encode) in plan.json.items()
                if value.get(member) is not None
            }
            payload = _dumps(document)
        return encode_message(headers, payload)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
