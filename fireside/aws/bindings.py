"""Members bound to the HTTP envelope: URI labels, query parameters, headers, status code.

REST protocols (rest-json, rest-xml) share this: an `InputBinding` pulls an operation's
located input members out of a request's labels, query and headers, converting the strings to
each member's type; an `OutputBinding` writes a result's located output members (or an error's)
into response headers and the status code. Bodies are the protocol module's business.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from fireside.aws.model import Operation, Shape
from fireside.aws.protocol import DecodeError
from fireside.aws.timestamps import format_timestamp, parse_timestamp

__all__ = ["InputBinding", "OutputBinding", "text_decoder", "text_encoder"]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_INT_LIMITS = {"integer": 2**31, "long": 2**63, "short": 2**15, "byte": 2**7}

TextDecoder = Callable[[str], Any]
TextEncoder = Callable[[Any], str]


class InputBinding:
    """Reads one operation's uri/querystring/header(s)-located input members."""

    def __init__(self, operation: Operation, literal_query_keys: frozenset[str]) -> None:
        labels: list[tuple[str, str, TextDecoder]] = []
        query: list[tuple[str, str, TextDecoder, bool]] = []
        headers: list[tuple[str, str, TextDecoder]] = []
        header_maps: list[tuple[str, str]] = []
        self.query_map: tuple[str, bool] | None = None
        shape = operation.input
        members = shape.members if shape is not None else {}
        for name, member in members.items():
            wire = member.location_name or name
            if member.location == "uri":
                labels.append((wire, name, text_decoder(member)))
            elif member.location == "querystring":
                if member.type_name == "map":
                    self.query_map = (name, member.value.type_name == "list")
                elif member.type_name == "list":
                    query.append((wire, name, text_decoder(member.member), True))
                else:
                    query.append((wire, name, text_decoder(member), False))
            elif member.location == "header":
                headers.append((wire.lower(), name, text_decoder(member)))
            elif member.location == "headers":
                header_maps.append((wire.lower(), name))
        self.labels = tuple(labels)
        self.query = tuple(query)
        self.headers = tuple(headers)
        self.header_maps = tuple(header_maps)
        # Keys a map-typed querystring member must not swallow.
        self._claimed = frozenset(key for key, *_ in query) | literal_query_keys

    def bind(
        self,
        labels: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        params: dict[str, Any],
    ) -> None:
        """Add the located members present in the request to `params` (raises DecodeError)."""
        for wire, name, decode in self.labels:
            raw = labels.get(wire)
            if raw is not None:
                params[name] = _convert(decode, unquote(raw), wire)
        if query:
            for wire, name, decode, is_list in self.query:
                values = query.get(wire)
                if values is None:
                    continue
                if is_list:
                    params[name] = [_convert(decode, v, wire) for v in values]
                else:
                    params[name] = _convert(decode, values[0], wire)
            if self.query_map is not None:
                name, multi = self.query_map
                rest = {k: v if multi else v[0] for k, v in query.items() if k not in self._claimed}
                if rest:
                    params[name] = rest
        for wire, name, decode in self.headers:
            raw = headers.get(wire)
            if raw is not None:
                params[name] = _convert(decode, raw, wire)
        for prefix, name in self.header_maps:
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found


class OutputBinding:
    """Writes a result's (or error's) statusCode/header(s)-located members."""

    def __init__(self, shape: Shape | None, default_timestamp_format: str = "rfc822") -> None:
        self.status_member: str | None = None
        headers: list[tuple[str, str, TextEncoder]] = []
        header_maps: list[tuple[str, str]] = []
        members = shape.members if shape is not None else {}
        for name, member in members.items():
            if member.location == "statusCode":
                self.status_member = name
            elif member.location == "header":
                wire = member.location_name or name
                headers.append((name, wire, text_encoder(member, default_timestamp_format)))
            elif member.location == "headers":
                header_maps.append((name, member.location_name or ""))
        self.headers = tuple(headers)
        self.header_maps = tuple(header_maps)
        #: Members that travel outside the body (statusCode/header/headers).
        self.located = frozenset(
            name for name, member in members.items() if member.location is not None
        )

    def render(self, values: Mapping[str, Any], out: list[tuple[str, str]]) -> int | None:
        """Append header members of `values` to `out`; return the statusCode member, if set."""
        for name, wire, encode in self.headers:
            value = values.get(name)
            # An empty list is no header at all (as botocore does for requests).
            if value is not None and (value or not isinstance(value, list | tuple)):
                out.append((wire, encode(value)))
        for name, prefix in self.header_maps:
            for key, value in (values.get(name) or {}).items():
                out.append((prefix + key, str(value)))
        if self.status_member is not None:
            status = values.get(self.status_member)
            if status is not None:
                return int(status)
        return None


def _convert(decode: TextDecoder, raw: str, wire: str) -> Any:
    try:
        return decode(raw)
    except DecodeError as exc:
        raise exc.at(wire) from None


def text_decoder(shape: Shape) -> Callable[[str], Any]:
    """How to turn a label/query/header string into the Python value for `shape`."""
    kind = shape.type_name
    if kind == "string":
        return _decode_json_value if shape.json_value else _identity
    if kind in _INT_LIMITS:
        limit = _INT_LIMITS[kind]

        def decode_int(text: str) -> int:
            text = text.strip()
            if _INTEGER.fullmatch(text) is None:
                raise DecodeError(f"expected an integer but got {text!r}")
            value = int(text)
            if not -limit <= value < limit:
                raise DecodeError(f"numeric value {value} out of range of {kind}")
            return value

        return decode_int
    if kind in ("double", "float"):
        return _decode_double
    if kind == "boolean":
        return _decode_boolean
    if kind == "timestamp":
        return _decode_timestamp
    if kind == "blob":
        return _decode_blob
    if kind == "list":
        element = text_decoder(shape.member)
        return lambda text: [element(item) for item in _split_header_list(text)]
    return _identity


def text_encoder(shape: Shape, default_timestamp_format: str) -> Callable[[Any], str]:
    """How to write a value of `shape` as a header (or label/query) string."""
    kind = shape.type_name
    if kind == "timestamp":
        fmt = shape.timestamp_format or default_timestamp_format
        return lambda value: str(format_timestamp(value, fmt))
    if kind == "boolean":
        return lambda value: "true" if value else "false"
    if kind in ("double", "float"):
        return _encode_double
    if kind == "blob":
        return lambda value: base64.b64encode(
            value.encode() if isinstance(value, str) else bytes(value)
        ).decode("ascii")
    if kind == "string" and shape.json_value:
        return lambda value: base64.b64encode(
            json.dumps(value, separators=(",", ":")).encode()
        ).decode("ascii")
    if kind == "list":
        element = text_encoder(shape.member, default_timestamp_format)
        # Plain comma join: botocore's response parser splits on commas without unquoting,
        # so RFC 7230 quoting would reach boto3 users as literal quotes.
        return lambda value: ",".join(element(v) for v in value if v is not None)
    return str


def _identity(text: str) -> str:
    return text


def _decode_json_value(text: str) -> Any:
    try:
        return json.loads(base64.b64decode(text, validate=True))
    except (ValueError, RecursionError):
        raise DecodeError("expected base64-encoded JSON") from None


def _decode_double(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DecodeError(f"expected a number but got {text!r}") from None


def _decode_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise DecodeError(f"expected true or false but got {text!r}")


def _decode_timestamp(text: str) -> Any:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise DecodeError(f"expected a timestamp but got {text!r}") from None


def _decode_blob(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("invalid base64 data") from None


def _encode_double(value: float) -> str:
    if math.isfinite(value):
        return repr(float(value))
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _split_header_list(text: str) -> list[str]:
    if '"' not in text:
        return [item.strip() for item in text.split(",")]
    # botocore quotes items holding a comma or quote and escapes only the quotes (`\"`), so
    # an item ending in a backslash (`,\` -> `",\"`) reads the same as an escaped quote. Read
    # `\"` as an escaped quote first; if that leaves a quote open, the backslashes before a
    # quote that ends an item were the item's own.
    items = _split_quoted(text, literal_backslash_at_end=False)
    return items if items is not None else _split_quoted(text, literal_backslash_at_end=True) or []


def _split_quoted(text: str, *, literal_backslash_at_end: bool) -> list[str] | None:
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for index, char in enumerate(text):
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\" and text[index + 1 : index + 2] == '"':
            ends_item = text[index + 2 :].lstrip()[:1] in ("", ",")
            if literal_backslash_at_end and ends_item:
                current.append(char)
            else:
                escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return None if quoted else items
