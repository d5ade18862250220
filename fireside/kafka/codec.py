"""The Kafka wire codec: primitive types, and structs described by small field tables.

Kafka's messages are versioned structs: a field exists from one version to another, and from an
API's first *flexible* version on, strings, byte strings and arrays switch to "compact" encodings
(unsigned-varint length plus one) and every struct ends in a tagged-field section (KIP-482). One
table per message (`fireside.kafka.schemas`) with a version range per field lets a single decoder
and encoder serve every version we advertise, instead of a hand-written function per version.

Decoded structs are plain dicts keyed by field name; an encoder fills a missing field with its
type's zero value (0, "", empty array), so handlers only set what they mean.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Api",
    "Arr",
    "DecodeError",
    "F",
    "Reader",
    "Struct",
    "Writer",
    "decode",
    "encode",
]

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")

#: Most items an array may declare: a bound on what a frame's claimed lengths can make us build.
MAX_ARRAY_ITEMS = 1 << 20


class DecodeError(ValueError):
    """The bytes do not hold the message they claim to (truncated, or lengths out of range)."""


@dataclass(frozen=True, slots=True)
class Arr:
    """An array of `item` (a primitive type name or a `Struct`); `nullable` allows length -1."""

    item: str | Struct
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class F:
    """A field named `name` of `type`, present in versions `lo`..`hi`."""

    name: str
    type: str | Arr | Struct
    lo: int = 0
    hi: int = 0x7FFF


@dataclass(frozen=True, slots=True)
class Struct:
    fields: tuple[F, ...]

    @staticmethod
    def of(*fields: F) -> Struct:
        return Struct(tuple(fields))


@dataclass(frozen=True, slots=True)
class Api:
    key: int
    name: str
    lo: int
    hi: int
    #: First flexible version (compact types, tagged fields, header v2/v1).
    flexible: int
    request: Struct
    response: Struct


class Reader:
    """Reads primitives from a buffer; any read past its end raises `DecodeError`."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int = 0) -> None:
        self.buf = memoryview(buf)
        self.pos = pos

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise DecodeError(f"needs {n} bytes at {self.pos}, frame has {len(self.buf)}")
        view = self.buf[self.pos : self.pos + n]
        self.pos += n
        return view

    def _unpack(self, fmt: struct.Struct) -> Any:
        return fmt.unpack(self.take(fmt.size))[0]

    def i8(self) -> int:
        return int(self._unpack(_I8))

    def i16(self) -> int:
        return int(self._unpack(_I16))

    def i32(self) -> int:
        return int(self._unpack(_I32))

    def i64(self) -> int:
        return int(self._unpack(_I64))

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise DecodeError("varint longer than 10 bytes")

    def varint(self) -> int:
        raw = self.uvarint()
        return (raw >> 1) ^ -(raw & 1)

    def _len(self, compact: bool, wide: bool) -> int:
        if compact:
            return self.uvarint() - 1
        return self.i32() if wide else self.i16()

    def string(self, compact: bool, nullable: bool) -> str | None:
        n = self._len(compact, wide=False)
        if n < 0:
            if nullable:
                return None
            raise DecodeError("null in a non-nullable string")
        try:
            return str(self.take(n), "utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"string is not UTF-8: {exc}") from exc

    def bytes_(self, compact: bool, nullable: bool) -> bytes | None:
        n = self._len(compact, wide=True)
        if n < 0:
            if nullable:
                return None
            raise DecodeError("null in non-nullable bytes")
        return bytes(self.take(n))

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


class Writer:
    """Builds a message; `parts` are joined once at the end."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def raw(self, data: bytes) -> None:
        self.parts.append(data)

    def i8(self, v: int) -> None:
        self.parts.append(_I8.pack(v))

    def i16(self, v: int) -> None:
        self.parts.append(_I16.pack(v))

    def i32(self, v: int) -> None:
        self.parts.append(_I32.pack(v))

    def i64(self, v: int) -> None:
        self.parts.append(_I64.pack(v))

    def u32(self, v: int) -> None:
        self.parts.append(_U32.pack(v))

    def uvarint(self, v: int) -> None:
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        self.parts.append(bytes(out))

    def _len(self, n: int, compact: bool, wide: bool) -> None:
        if compact:
            self.uvarint(n + 1)
        elif wide:
            self.i32(n)
        else:
            self.i16(n)

    def string(self, v: str | None, compact: bool) -> None:
        if v is None:
            self._len(-1, compact, wide=False)
            return
        data = v.encode()
        self._len(len(data), compact, wide=False)
        self.parts.append(data)

    def bytes_(self, v: bytes | None, compact: bool) -> None:
        if v is None:
            self._len(-1, compact, wide=True)
            return
        self._len(len(v), compact, wide=True)
        self.parts.append(bytes(v))

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def _read_value(r: Reader, typ: str | Arr | Struct, version: int, flexible: bool) -> Any:
    if isinstance(typ, Struct):
        return decode(r, typ, version, flexible)
    if isinstance(typ, Arr):
        n = r._len(flexible, wide=True)
        if n < 0:
            if typ.nullable:
                return None
            raise DecodeError("null in a non-nullable array")
        if n > MAX_ARRAY_ITEMS or n > len(r.buf) - r.pos:
            raise DecodeError(f"array claims {n} items, more than the frame can hold")
        return [_read_value(r, typ.item, version, flexible) for _ in range(n)]
    if typ == "i32":
        return r.i32()
    if typ == "i16":
        return r.i16()
    if typ == "i64":
        return r.i64()
    if typ == "i8":
        return r.i8()
    if typ == "bool":
        return r.i8() != 0
    if typ == "str":
        return r.string(flexible, nullable=False)
    if typ == "nstr":
        return r.string(flexible, nullable=True)
    if typ == "bytes":
        return r.bytes_(flexible, nullable=False)
    if typ in ("nbytes", "records"):
        return r.bytes_(flexible, nullable=True)
    if typ == "uuid":
        return uuid.UUID(bytes=bytes(r.take(16)))
    raise AssertionError(f"unknown field type {typ!r}")


def decode(
    r: Reader, schema: Struct, version: int, flexible: bool, out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One struct of `schema` at `version` from `r`, filled into `out` as it is read: when a
    `DecodeError` cuts it short, `out` holds what came before (the broker answers those parts)."""
    out = {} if out is None else out
    for field in schema.fields:
        if not field.lo <= version <= field.hi:
            continue
        typ = field.type
        if isinstance(typ, Arr) and isinstance(typ.item, Struct):
            n = r._len(flexible, wide=True)
            if n < 0:
                if not typ.nullable:
                    raise DecodeError("null in a non-nullable array")
                out[field.name] = None
                continue
            if n > MAX_ARRAY_ITEMS or n > len(r.buf) - r.pos:
                raise DecodeError(f"array claims {n} items, more than the frame can hold")
            items: list[dict[str, Any]] = []
            out[field.name] = items
            for _ in range(n):
                item: dict[str, Any] = {}
                items.append(item)
                decode(r, typ.item, version, flexible, item)
        else:
            out[field.name] = _read_value(r, typ, version, flexible)
    if flexible:
        r.skip_tags()
    return out


_ZERO: dict[str, Any] = {
    "i8": 0, "i16": 0, "i32": 0, "i64": 0, "bool": False, "str": "", "nstr": None,
    "bytes": b"", "nbytes": None, "records": None,
}  # fmt: skip


def _write_value(w: Writer, typ: str | Arr | Struct, v: Any, version: int, flex: bool) -> None:
    if isinstance(typ, Struct):
        encode(w, typ, v or {}, version, flex)
    elif isinstance(typ, Arr):
        if v is None and typ.nullable:
            w._len(-1, flex, wide=True)
            return
        items = v or []
        w._len(len(items), flex, wide=True)
        for item in items:
            _write_value(w, typ.item, item, version, flex)
    elif typ == "i32":
        w.i32(v)
    elif typ == "i16":
        w.i16(v)
    elif typ == "i64":
        w.i64(v)
    elif typ in ("i8", "bool"):
        w.i8(int(v))
    elif typ in ("str", "nstr"):
        w.string(v, flex)
    elif typ in ("bytes", "nbytes", "records"):
        w.bytes_(v, flex)
    elif typ == "uuid":
        w.raw((v or uuid.UUID(int=0)).bytes)
    else:
        raise AssertionError(f"unknown field type {typ!r}")


def encode(w: Writer, schema: Struct, value: dict[str, Any], version: int, flex: bool) -> None:
    """Append `value` as a struct of `schema` at `version` to `w`."""
    for field in schema.fields:
        if field.lo <= version <= field.hi:
            if field.name in value:
                v = value[field.name]
            elif isinstance(field.type, str):
                v = _ZERO.get(field.type)
            else:
                v = None
            _write_value(w, field.type, v, version, flex)
    if flex:
        w.uvarint(0)
