"""Primary and index keys: validation with DynamoDB's messages, and order-preserving encoding.

Storage keeps each item under two byte strings that the database compares with `memcmp`
(SQLite BLOBs, PostgreSQL bytea), so its B-tree order is DynamoDB's order:

* the partition key becomes `crc32(value) || value`: items of one partition are contiguous,
  and partitions are spread in hash order, which is what Scan returns (and what parallel
  Scan's segments divide);
* the sort key becomes its value alone: strings as UTF-8, binaries as raw bytes, numbers in
  the encoding of `encode_number`, which sorts by numeric value.

A table without a sort key stores b"" in its place.

Global secondary indexes may have multi-attribute keys (up to four partition and four sort
attributes). Their parts are joined with `encode_component`, an encoding that is prefix-free
(strings and binaries escape 0x00 and end with 0x00 0x00; the number encoding already ends in
a terminator), so the joined bytes sort like the tuple of values.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fireside.tables.errors import INVALID, validation
from fireside.tables.values import AttributeValue, value_type

__all__ = ["KeySchema", "encode_number", "encode_value", "partition_bytes"]

_MAX_HASH_BYTES = 2048
_MAX_RANGE_BYTES = 1024
_NO_MATCH = "The provided key element does not match the schema"


def encode_number(number: Decimal) -> bytes:
    """Bytes that sort like the numbers they encode (for DynamoDB's 38-digit decimals).

    Layout: a sign byte (1 negative, 2 zero, 3 positive), the adjusted exponent (one byte:
    -130..125 fits 0..255), then one byte per significant digit and a terminator, so a shorter
    mantissa sorts before a longer one with the same prefix. Negative numbers invert exponent
    and digits, and use a terminator above every digit byte.
    """
    if not number:
        return b"\x02"
    sign, digits, _ = number.normalize().as_tuple()
    exponent = number.adjusted() + 130
    if sign == 0:
        return bytes((3, exponent, *(d + 1 for d in digits), 0))
    return bytes((1, 255 - exponent, *(10 - d for d in digits), 255))


def encode_value(value: AttributeValue) -> bytes:
    """The order-preserving bytes of a key value (S, N or B)."""
    tag = value_type(value)
    inner = value[tag]
    if tag == "S":
        return str(inner).encode("utf-8", "surrogatepass")
    if tag == "N":
        return encode_number(Decimal(inner))
    return bytes(inner)


def encode_component(value: AttributeValue) -> bytes:
    """A key value as one part of a multi-attribute key (see the module docstring)."""
    raw = encode_value(value)
    if value_type(value) == "N":
        return raw
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def escape_prefix(value: AttributeValue) -> bytes:
    """A string or binary as the prefix every component starting with it begins with."""
    return encode_value(value).replace(b"\x00", b"\x00\xff")


def partition_bytes(encoded: bytes) -> bytes:
    """A partition key's stored form: its hash first, so partitions spread in hash order."""
    return zlib.crc32(encoded).to_bytes(4, "big") + encoded


def _raw_size(value: AttributeValue) -> int:
    tag = value_type(value)
    if tag == "S":
        return len(value["S"].encode("utf-8", "surrogatepass"))
    if tag == "B":
        return len(value["B"])
    return 0


@dataclass(frozen=True, slots=True)
class KeySchema:
    """A table's or index's key: partition attribute and optional sort attribute, with types."""

    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None
    #: The partition and sort attributes after the first, in order (multi-attribute GSI keys).
    more_hashes: tuple[tuple[str, str], ...] = ()
    more_ranges: tuple[tuple[str, str], ...] = ()

    @property
    def hashes(self) -> tuple[tuple[str, str], ...]:
        return ((self.hash_name, self.hash_type), *self.more_hashes)

    @property
    def ranges(self) -> tuple[tuple[str, str], ...]:
        if self.range_name is None or self.range_type is None:
            return ()
        return ((self.range_name, self.range_type), *self.more_ranges)

    @property
    def composite(self) -> bool:
        return bool(self.more_hashes or self.more_ranges)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in (*self.hashes, *self.ranges))

    def key_of(self, item: Mapping[str, Any]) -> dict[str, AttributeValue]:
        """The key attributes of an item that is known to have them."""
        return {name: item[name] for name in self.names}

    # -- table keys ----------------------------------------------------------------------------

    def item_key(self, item: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """The storage key of an item to be written; raises DynamoDB's errors for bad keys."""
        hashed = self._item_part(item, self.hash_name, self.hash_type, _MAX_HASH_BYTES)
        if self.range_name is None:
            return partition_bytes(hashed), b""
        assert self.range_type is not None
        ranged = self._item_part(item, self.range_name, self.range_type, _MAX_RANGE_BYTES)
        return partition_bytes(hashed), ranged

    def _item_part(self, item: Mapping[str, Any], name: str, kind: str, limit: int) -> bytes:
        value = item.get(name)
        if value is None:
            raise validation(f"{INVALID}Missing the key {name} in the item")
        actual = value_type(value)
        if actual != kind:
            raise validation(
                f"{INVALID}Type mismatch for key {name} expected: {kind} actual: {actual}"
            )
        if kind in ("S", "B") and _raw_size(value) == 0:
            raise validation(
                f"{INVALID}An AttributeValue may not contain an empty string. Key: {name}"
            )
        return self._checked(value, name, kind, limit)

    def lookup_key(self, key: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """The storage key named by a request's `Key` (exactly the key attributes)."""
        if len(key) != len(self.names):
            raise validation(_NO_MATCH)
        hashed = self._lookup_part(key, self.hash_name, self.hash_type, _MAX_HASH_BYTES)
        if self.range_name is None:
            return partition_bytes(hashed), b""
        assert self.range_type is not None
        ranged = self._lookup_part(key, self.range_name, self.range_type, _MAX_RANGE_BYTES)
        return partition_bytes(hashed), ranged

    def _lookup_part(self, key: Mapping[str, Any], name: str, kind: str, limit: int) -> bytes:
        value = key.get(name)
        if value is None or value_type(value) != kind:
            raise validation(_NO_MATCH)
        return self._checked(value, name, kind, limit)

    def _checked(self, value: AttributeValue, name: str, kind: str, limit: int) -> bytes:
        if kind in ("S", "B"):
            size = _raw_size(value)
            if size == 0:
                what = "string" if kind == "S" else "binary"
                raise validation(
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty {what} value. Key: {name}"
                )
            if size > limit:
                if limit == _MAX_HASH_BYTES:
                    raise validation(
                        f"{INVALID}Size of hashkey has exceeded the maximum size limit of2048 bytes"
                    )
                raise validation(
                    f"{INVALID}Aggregated size of all range keys has exceeded the size limit of "
                    "1024 bytes"
                )
        return encode_value(value)

    # -- index keys ----------------------------------------------------------------------------

    def index_key(
        self, item: Mapping[str, Any], index_name: str, *, updating: bool = False
    ) -> tuple[bytes, bytes] | None:
        """An item's storage key in a secondary index, or None when the index skips it.

        Items lacking an index key attribute are not indexed (sparse indexes); one holding a
        key attribute of the wrong type or an empty value cannot be written at all.
        """
        if self.composite:
            return self._composite_key(item, index_name, updating)
        parts: list[bytes] = []
        for name, kind in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                parts.append(b"")
                continue
            value = item.get(name)
            if value is None:
                return None
            actual = value_type(value)
            if actual != kind:
                raise validation(
                    f"{INVALID}Type mismatch for Index Key {name} Expected: {kind} Actual: "
                    f"{actual} IndexName: {index_name}"
                )
            if kind in ("S", "B") and _raw_size(value) == 0:
                if updating:
                    raise validation(
                        "One or more parameter values are not valid. The update expression "
                        "attempted to update a secondary index key to a value that is not "
                        "supported. The AttributeValue for a key attribute cannot contain an "
                        "empty string value."
                    )
                raise validation(
                    "One or more parameter values are not valid. A value specified for a "
                    "secondary index key is not supported. The AttributeValue for a key "
                    f"attribute cannot contain an empty string value. IndexName: {index_name}, "
                    f"IndexKey: {name}"
                )
            parts.append(encode_value(value))
        return partition_bytes(parts[0]), parts[1]

    def _composite_key(
        self, item: Mapping[str, Any], index_name: str, updating: bool
    ) -> tuple[bytes, bytes] | None:
        encoded: list[list[bytes]] = [[], []]
        for side, attributes in enumerate((self.hashes, self.ranges)):
            for name, kind in attributes:
                value = item.get(name)
                if value is None:
                    return None
                # One attribute at a time: the same checks as a single-attribute key.
                single = KeySchema(name, kind)
                single.index_key({name: value}, index_name, updating=updating)
                encoded[side].append(encode_component(value))
        return partition_bytes(b"".join(encoded[0])), b"".join(encoded[1])
