"""Attribute values: validation, number normalization, equality, ordering, size.

Values travel and are stored in DynamoDB's own tagged form, exactly as boto3's client shows
them: `{"S": "x"}`, `{"N": "1.5"}` (numbers stay decimal strings), `{"B": b"..."}`,
`{"SS": [...]}`, `{"M": {...}}`, `{"L": [...]}`, `{"NULL": True}`, `{"BOOL": False}`.
Numbers are normalized once on the way in (`1.50` -> `1.5`, `1e2` -> `100`), so equal numbers
have equal strings and comparisons elsewhere stay cheap.

Arithmetic and ordering use `decimal` with DynamoDB's 38 significant digits, never floats.
"""

from __future__ import annotations

import base64
import decimal
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from fireside.aws.jsoncodec import PreEncoded
from fireside.tables.errors import INVALID, validation

__all__ = [
    "TYPES",
    "AttributeValue",
    "Item",
    "StoredItem",
    "add_numbers",
    "dump_item",
    "equal",
    "format_number",
    "item_size",
    "load_item",
    "normalize_item",
    "normalize_value",
    "parse_number",
    "render",
    "value_type",
]

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}
_SET_ELEMENT = {"SS": "S", "NS": "N", "BS": "B"}
#: DynamoDB's number precision and exponent range (Decimal's adjusted exponent).
# Wide enough to hold any exact sum of two storable numbers (exponents span -130..125), so
# precision checks see the exact result, never a rounded one.
_WIDE = decimal.Context(prec=400, Emax=999999, Emin=-999999, traps=[decimal.InvalidOperation])
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PLAIN_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,37}")  # canonical already: at most 38 digits
#: DynamoDB's 32 levels of nesting: an attribute's value is level 1, so a map or list found at
#: depth 31 (0-based) would put its members on level 33 (measured: 31 maps around a scalar are
#: accepted, 32 refused).
_MAX_DEPTH = 32


def value_type(value: AttributeValue) -> str:
    """The type tag of a (valid) attribute value: "S", "N", "M"..."""
    for tag in value:
        return tag
    raise ValueError("empty attribute value")


# -- numbers -----------------------------------------------------------------------------------


def parse_number(text: str) -> Decimal:
    """A number attribute's value, checked against DynamoDB's range and precision."""
    if type(text) is not str or _NUMBER.fullmatch(text) is None:
        # An empty string is named by nothing at all, as DynamoDB words it.
        shown = f": {text}" if text != "" else ""
        raise validation(f"The parameter cannot be converted to a numeric value{shown}")
    return check_number(_WIDE.create_decimal(text))


def check_number(number: Decimal) -> Decimal:
    if not number:
        return Decimal(0)
    number = number.normalize(_WIDE)
    if len(number.as_tuple().digits) > 38:
        raise validation("Attempting to store more than 38 significant digits in a Number")
    exponent = number.adjusted()
    if exponent > 125:
        raise validation(
            "Number overflow. Attempting to store a number with magnitude larger than supported "
            "range"
        )
    if exponent < -130:
        raise validation(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    return number


def format_number(number: Decimal) -> str:
    """DynamoDB's spelling of a number: plain notation, no trailing zeros."""
    if not number:
        return "0"
    return f"{number.normalize(_WIDE):f}"


def normalize_number(text: str) -> str:
    if type(text) is str and _PLAIN_INTEGER.fullmatch(text):
        return text  # already canonical and in range: the common case, without Decimal
    return format_number(parse_number(text))


def add_numbers(a: str, b: str, subtract: bool = False) -> str:
    """`a + b` (or `a - b`) as DynamoDB computes it: exact to 38 digits."""
    x, y = Decimal(a), Decimal(b)
    exact = _WIDE.subtract(x, y) if subtract else _WIDE.add(x, y)
    return format_number(check_number(exact))


# -- validation --------------------------------------------------------------------------------


def normalize_item(item: Mapping[str, Any], prefix: str = "") -> Item:
    """Validate every attribute of an item (or of ExpressionAttributeValues) in place.

    Returns the item with numbers normalized. `prefix` goes before messages that DynamoDB
    reports with a "1 validation error detected: " lead.
    """
    out: Item = {}
    for name, value in item.items():
        out[name] = normalize_value(value, 0, prefix)
    return out


def normalize_value(value: Any, depth: int = 0, prefix: str = "") -> AttributeValue:
    """One attribute value checked as DynamoDB checks it; numbers in canonical form."""
    if type(value) is not dict or not value:
        raise validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(value) > 1:
        # Numbers are read while the value is deserialized, before its type tags are counted.
        if "N" in value:
            normalize_number(value["N"])
        for number in value.get("NS") or ():
            normalize_number(number)
        raise validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes"
        )
    ((tag, inner),) = value.items()
    if tag in ("S", "B", "BOOL"):
        return value
    if tag == "N":
        return {"N": normalize_number(inner)}
    if tag == "NULL":
        if inner is not True:
            raise validation("Null attribute value types must have the value of true")
        return value
    if tag in _SET_NAMES:
        if not inner:
            raise validation(f"{prefix}{INVALID}An {_SET_NAMES[tag]} set  may not be empty")
        members = [normalize_number(n) for n in inner] if tag == "NS" else inner
        if len(set(members)) != len(members):
            shown = ", ".join(render_scalar(_SET_ELEMENT[tag], m) for m in inner)
            raise validation(f"{INVALID}Input collection [{shown}] contains duplicates.")
        return {tag: members}
    if depth + 1 >= _MAX_DEPTH:
        raise validation(
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested "
            "levels beyond supported limit"
        )
    if tag == "M":
        return {"M": {k: normalize_value(v, depth + 1, prefix) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [normalize_value(v, depth + 1, prefix) for v in inner]}
    raise validation(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    )


# -- equality and order ------------------------------------------------------------------------


def equal(a: AttributeValue, b: AttributeValue) -> bool:
    """DynamoDB equality: same type and value; sets compare as sets."""
    ((ta, va),) = a.items()
    ((tb, vb),) = b.items()
    if ta != tb:
        return False
    if ta in _SET_NAMES:
        return len(va) == len(vb) and set(va) == set(vb)
    if ta == "M":
        return va.keys() == vb.keys() and all(equal(va[k], vb[k]) for k in va)
    if ta == "L":
        return len(va) == len(vb) and all(equal(x, y) for x, y in zip(va, vb, strict=True))
    return bool(va == vb)


def scalar_key(value: AttributeValue) -> tuple[str, Any] | None:
    """A sort key for ordering comparisons (`<`, BETWEEN): only N, S and B are ordered.

    Strings order by UTF-8 bytes (code points), binaries by unsigned bytes, numbers by value.
    """
    ((tag, inner),) = value.items()
    if tag == "N":
        return ("N", Decimal(inner))
    if tag == "S":
        return ("S", inner.encode("utf-8", "surrogatepass"))
    if tag == "B":
        return ("B", bytes(inner))
    return None


# -- size --------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: AttributeValue) -> int:
    """Bytes DynamoDB charges for a value (its documented item-size rules)."""
    ((tag, inner),) = value.items()
    if tag == "S":
        return len(inner.encode("utf-8", "surrogatepass"))
    if tag == "N":
        return _number_size(inner)
    if tag == "B":
        return len(inner)
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "SS":
        return sum(len(s.encode("utf-8", "surrogatepass")) for s in inner)
    if tag == "NS":
        return sum(_number_size(n) for n in inner)
    if tag == "BS":
        return sum(len(b) for b in inner)
    if tag == "M":
        return 3 + sum(
            len(k.encode("utf-8", "surrogatepass")) + value_size(v) + 1 for k, v in inner.items()
        )
    return 3 + sum(value_size(v) + 1 for v in inner)


def item_size(item: Mapping[str, AttributeValue]) -> int:
    return sum(len(k.encode("utf-8", "surrogatepass")) + value_size(v) for k, v in item.items())


# -- rendering (for messages) ------------------------------------------------------------------


def render_scalar(tag: str, inner: Any) -> str:
    if tag == "B":
        return base64.b64encode(inner).decode()
    return str(inner)


def render(value: AttributeValue) -> str:
    """How DynamoDB prints a value inside messages: `{N:10}`, `{S:abc}`."""
    ((tag, inner),) = value.items()
    if tag in _SET_NAMES:
        return (
            "{" + tag + ":[" + ", ".join(render_scalar(_SET_ELEMENT[tag], v) for v in inner) + "]}"
        )
    if tag in ("M", "L", "NULL", "BOOL"):
        return "{" + tag + ":" + json.dumps(inner, default=str) + "}"
    return "{" + tag + ":" + render_scalar(tag, inner) + "}"


# -- storage form ------------------------------------------------------------------------------


def _b64(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot store {type(value).__name__}")


def dump_item(item: Mapping[str, AttributeValue]) -> str:
    """The stored form of an item: DynamoDB's JSON, binaries in base64 (as on the wire)."""
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False, default=_b64)


class StoredItem(PreEncoded, Mapping[str, AttributeValue]):
    """An item as stored (its `dump_item` text), answered without being decoded.

    The stored text is exactly the json protocol's encoding of the item (same separators,
    non-ASCII as is, binaries in base64), so a read that returns whole items hands the text to
    the protocol, which splices it into the body (`PreEncoded`): no `json.loads` and no
    re-encoding per item. Anything in Fireside that reads it as a mapping gets the decoded item
    (decoded once, on first use).
    """

    __slots__ = ("_item",)

    def __init__(self, text: str) -> None:  # not PreEncoded's: one call less per item
        self.json_text = text
        self._item: Item | None = None

    def _decoded(self) -> Item:
        if self._item is None:
            self._item = load_item(self.json_text)
        return self._item

    def __getitem__(self, name: str) -> AttributeValue:
        return self._decoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return f"StoredItem({self.json_text})"


def load_item(text: str) -> Item:
    item: Item = json.loads(text)
    # Only items holding binaries need a walk; most items have none.
    if '"B' in text:
        for value in item.values():
            _decode_binaries(value)
    return item


def _decode_binaries(value: AttributeValue) -> None:
    for tag, inner in value.items():
        if tag == "B":
            value["B"] = base64.b64decode(inner)
        elif tag == "BS":
            value["BS"] = [base64.b64decode(b) for b in inner]
        elif tag == "M":
            for child in inner.values():
                _decode_binaries(child)
        elif tag == "L":
            for child in inner:
                _decode_binaries(child)


def names_of(values: Iterable[str]) -> str:
    """`{a, b}` - how DynamoDB lists names in messages."""
    return "{" + ", ".join(values) + "}"
