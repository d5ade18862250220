"""Shape-driven conversion between JSON documents and boto3-style Python values.

Shared by the JSON-bodied protocols (rest-json now, json 1.0/1.1 next): decoding checks every
value's JSON type against its shape (a string where an integer belongs is the client's error,
reported with the member path) and converts wire encodings to Python ones (base64 -> bytes,
epoch seconds or ISO strings -> aware UTC datetimes). Encoding goes the other way for results.

Each shape is compiled once into a closure; the codec memoizes them per shape object, so
recursive shapes (DynamoDB's AttributeValue) compile to closures that reference each other.
Structure members bound to HTTP locations (uri, header...) are not part of the JSON body and
are skipped here; the REST binding handles them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fireside.aws.model import Shape
from fireside.aws.protocol import DecodeError
from fireside.aws.timestamps import format_timestamp, parse_timestamp

__all__ = ["Decoder", "Encoder", "JsonCodec", "PreEncoded", "encode_blob", "json_type"]

#: Converts one JSON value to its Python form; raises DecodeError.
Decoder = Callable[[Any], Any]
#: Converts one Python value to its JSON form.
Encoder = Callable[[Any], Any]

_INT_LIMITS = {"integer": 2**31, "long": 2**63, "short": 2**15, "byte": 2**7}
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class PreEncoded:
    """A value whose JSON text a provider already holds (a stored DynamoDB item).

    The codec passes it through untouched, like the value it stands for, and the json
    protocol splices `json_text` into the body where the value would be encoded
    (`jsonproto.JsonProtocol.serialize_result`). The text must be exactly what the protocol
    would write for the value (compact separators, non-ASCII as is, binaries in base64): a
    provider uses it only for values it encoded that way itself.
    """

    __slots__ = ("json_text",)

    def __init__(self, json_text: str) -> None:
        self.json_text = json_text


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _mismatch(expected: str, value: Any) -> DecodeError:
    kind = json_type(value)
    shown = ""
    if isinstance(value, str):
        shown = " " + json.dumps(value if len(value) <= 40 else value[:40] + "...")
    elif kind in ("number", "boolean"):
        shown = " " + json.dumps(value)
    return DecodeError(f"expected {expected} but got {kind}{shown}")


def _identity(value: Any) -> Any:
    return value


class JsonCodec:
    """Compiled JSON decoders and encoders for the shapes of one service."""

    def __init__(
        self, timestamp_format: str = "unixTimestamp", *, blobs_by_default: bool = False
    ) -> None:
        """`blobs_by_default`: the caller serializes with `json.dumps(default=encode_blob)`,
        so subtrees whose only conversion is blob -> base64 (DynamoDB's AttributeValue) are
        passed through untouched instead of being walked (see `_passes_through`)."""
        #: The protocol's default for body timestamps without a `timestampFormat` trait.
        self.timestamp_format = timestamp_format
        self._blobs_by_default = blobs_by_default
        self._decoders: dict[int, Decoder] = {}
        self._encoders: dict[int, Encoder] = {}
        self._passthrough: dict[int, bool] = {}

    # -- decoding ---------------------------------------------------------------------------

    def decoder(self, shape: Shape) -> Decoder:
        """A function turning the JSON value of `shape` into params (raises DecodeError)."""
        return _memoized(self._decoders, shape, self._build_decoder)

    def _build_decoder(self, shape: Shape) -> Decoder:
        kind = shape.type_name
        if kind == "structure":
            return _identity if shape.is_document else self._decode_structure(shape)
        if kind == "list":
            return self._decode_list(shape)
        if kind == "map":
            return self._decode_map(shape)
        if kind in _INT_LIMITS:
            return _decode_integer(kind, _INT_LIMITS[kind])
        return _SCALAR_DECODERS.get(kind, _identity)

    def _decode_structure(self, shape: Shape) -> Decoder:
        fields: dict[str, tuple[str, Decoder]] = {}
        for name, member in shape.members.items():
            if member.location is None:
                fields[member.location_name or name] = (name, self.decoder(member))

        def decode(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _mismatch("an object", value)
            out: dict[str, Any] = {}
            for key, item in value.items():
                entry = fields.get(key)
                # Unknown keys are ignored (newer clients may send members we do not model);
                # null means absent, as in botocore.
                if entry is None or item is None:
                    continue
                try:
                    out[entry[0]] = entry[1](item)
                except DecodeError as exc:
                    raise exc.at(key) from None
            return out

        return decode

    def _decode_list(self, shape: Shape) -> Decoder:
        element = self.decoder(shape.member)

        def decode(value: Any) -> list[Any]:
            if type(value) is not list:
                raise _mismatch("an array", value)
            try:
                return [None if item is None else element(item) for item in value]
            except DecodeError as exc:
                index = next(i for i, item in enumerate(value) if _fails(element, item))
                raise exc.at(str(index)) from None

        return decode

    def _decode_map(self, shape: Shape) -> Decoder:
        key_decoder = self.decoder(shape.key)
        element = self.decoder(shape.value)

        def decode(value: Any) -> dict[Any, Any]:
            if type(value) is not dict:
                raise _mismatch("an object", value)
            out: dict[Any, Any] = {}
            for key, item in value.items():
                try:
                    out[key_decoder(key)] = None if item is None else element(item)
                except DecodeError as exc:
                    raise exc.at(key) from None
            return out

        return decode

    # -- encoding ---------------------------------------------------------------------------

    def encoder(self, shape: Shape) -> Encoder:
        """A function turning a Python value of `shape` into its JSON-ready form."""
        return _memoized(self._encoders, shape, self._build_encoder)

    def _build_encoder(self, shape: Shape) -> Encoder:
        if self._blobs_by_default and self._passes_through(shape, set()):
            return _identity
        kind = shape.type_name
        if kind == "structure":
            return _identity if shape.is_document else self._encode_structure(shape)
        if kind == "list":
            element = self.encoder(shape.member)
            if element is _identity:
                return list
            return lambda value: [None if v is None else element(v) for v in value]
        if kind == "map":
            item = self.encoder(shape.value)
            if item is _identity:
                return dict
            return lambda value: {k: None if v is None else item(v) for k, v in value.items()}
        if kind == "timestamp":
            fmt = shape.timestamp_format or self.timestamp_format
            return lambda value: format_timestamp(value, fmt)
        if kind == "blob":
            return _encode_blob
        if kind in ("double", "float"):
            return _encode_double
        return _identity

    def _passes_through(self, shape: Shape, visiting: set[int]) -> bool:
        """Whether a value of `shape` is already its JSON form, but for blobs left as bytes.

        True for trees of strings, booleans, integers, blobs, lists, maps and structures
        whose members keep their names and stay in the body. The answer assumes well-formed
        values (no None members, no extra keys), which is what providers produce for these
        data shapes; timestamps and doubles (non-finite values) always need the walk.
        """
        key = id(shape)
        known = self._passthrough.get(key)
        if known is not None:
            return known
        if key in visiting:
            return True  # a cycle: decided by the rest of the shape
        visiting.add(key)
        kind = shape.type_name
        if kind in ("string", "boolean", "blob", *_INT_LIMITS):
            result = True
        elif kind == "list":
            result = self._passes_through(shape.member, visiting)
        elif kind == "map":
            result = self._passes_through(shape.value, visiting)
        elif kind == "structure" and not shape.is_document:
            result = all(
                member.location is None
                and member.location_name in (None, name)
                and self._passes_through(member, visiting)
                for name, member in shape.members.items()
            )
        else:
            result = False
        visiting.discard(key)
        if not visiting or not result:
            self._passthrough[key] = result
        return result

    def _encode_structure(self, shape: Shape) -> Encoder:
        fields: dict[str, tuple[str, Encoder]] = {}
        for name, member in shape.members.items():
            if member.location is None:
                fields[name] = (member.location_name or name, self.encoder(member))

        def encode(value: Mapping[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, item in value.items():
                entry = fields.get(name)
                # Providers may leave None for "absent" and carry extra keys; neither is sent.
                if entry is None or item is None:
                    continue
                key, child = entry
                out[key] = item if child is _identity else child(item)
            return out

        return encode


def _memoized(
    memo: dict[int, Callable[[Any], Any]],
    shape: Shape,
    build: Callable[[Shape], Callable[[Any], Any]],
) -> Callable[[Any], Any]:
    """`build(shape)` once per shape object, tolerating shapes that (indirectly) contain themselves."""
    key = id(shape)
    found = memo.get(key)
    if found is not None:
        return found
    cell: list[Callable[[Any], Any]] = []
    # While `shape` is being built, a recursive reference gets this forwarder.
    memo[key] = lambda value: cell[0](value)
    built = build(shape)
    cell.append(built)
    memo[key] = built
    return built


def _fails(decode: Decoder, item: Any) -> bool:
    if item is None:
        return False
    try:
        decode(item)
    except DecodeError:
        return True
    return False


def _decode_string(value: Any) -> str:
    if type(value) is not str:
        raise _mismatch("a string", value)
    return value


def _decode_boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise _mismatch("a boolean", value)
    return value


def _decode_integer(kind: str, limit: int) -> Decoder:
    def decode(value: Any) -> int:
        if type(value) is not int:
            raise _mismatch(f"an {kind}" if kind == "integer" else f"a {kind}", value)
        if not -limit <= value < limit:
            raise DecodeError(f"numeric value {value} out of range of {kind}")
        return value

    return decode


def _decode_double(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if type(value) is str and value in _NON_FINITE:
        return _NON_FINITE[value]
    raise _mismatch("a number", value)


def _decode_blob(value: Any) -> bytes:
    if type(value) is not str:
        raise _mismatch("a base64 string", value)
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("invalid base64 data") from None
    # Only canonical base64, as AWS's Java services read it: "+/+=" decodes but its last
    # character carries bits the padding says are not there.
    if len(value) % 4 == 0 and value.endswith("=") and base64.b64encode(decoded) != value.encode():
        raise DecodeError("invalid base64 data")
    return decoded


def _decode_timestamp(value: Any) -> datetime:
    if type(value) not in (int, float, str):
        raise _mismatch("a timestamp", value)
    try:
        return parse_timestamp(value)
    except ValueError:
        raise DecodeError(f"invalid timestamp {value!r}") from None


_SCALAR_DECODERS: dict[str, Decoder] = {
    "string": _decode_string,
    "boolean": _decode_boolean,
    "double": _decode_double,
    "float": _decode_double,
    "blob": _decode_blob,
    "timestamp": _decode_timestamp,
}


def encode_blob(value: Any) -> str:
    """`json.dumps(default=...)` for codecs made with `blobs_by_default`."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _encode_blob(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode("ascii")


def _encode_double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    # JSON has no NaN/Infinity literals; AWS sends these strings (and botocore reads them).
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
