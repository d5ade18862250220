"""XML bodies read and written from the service model (rest-xml; S3 for now).

The model says how each member travels: under its `locationName` (else its member name), as
an attribute (`xmlAttribute`), lists wrapped (`<TagSet><Tag>..</Tag></TagSet>`) or flattened
(`<Contents>..</Contents><Contents>..</Contents>`), maps as `entry`/`key`/`value`. Element
names are matched without their namespace, as botocore does.

    element = ElementTree.fromstring(body)
    params = decode(element, shape)             # {"TagSet": [{"Key": "a", "Value": "b"}]}
    root = encode("Tagging", shape, params)     # an Element to serialize
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from fireside.aws.model import Shape
from fireside.aws.protocol import DecodeError
from fireside.aws.timestamps import format_timestamp, parse_timestamp

__all__ = ["decode", "encode", "local_name", "member_tag"]

_INTEGERS = frozenset({"integer", "long", "short", "byte"})
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def local_name(tag: str) -> str:
    """An element or attribute name without its namespace (`{uri}Key` -> `Key`)."""
    return tag.rpartition("}")[2]


def member_tag(name: str, member: Shape) -> str:
    """The element name a structure member travels under."""
    if member.type_name == "list" and member.flattened:
        return member.member.location_name or member.location_name or name
    return member.location_name or name


# -- decoding -------------------------------------------------------------------------------------


def decode(element: ElementTree.Element, shape: Shape) -> Any:
    """The Python value of `element` read as `shape` (raises DecodeError)."""
    kind = shape.type_name
    if kind == "structure":
        return _decode_structure(element, shape)
    if kind == "list":
        item_tag = shape.member.location_name or "member"
        return [
            _at(decode, child, shape.member, str(index))
            for index, child in enumerate(c for c in element if local_name(c.tag) == item_tag)
        ]
    if kind == "map":
        entries = (
            element if shape.flattened else (c for c in element if local_name(c.tag) == "entry")
        )
        return dict(_decode_entry(entry, shape) for entry in entries)
    return _decode_scalar(element.text or "", shape)


def _decode_structure(element: ElementTree.Element, shape: Shape) -> dict[str, Any]:
    children: dict[str, list[ElementTree.Element]] = {}
    for child in element:
        children.setdefault(local_name(child.tag), []).append(child)
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        if member.location is not None:
            continue
        if member.xml_attribute:
            wanted = local_name((member.location_name or name).rpartition(":")[2])
            for attribute, text in element.attrib.items():
                if local_name(attribute) == wanted:
                    out[name] = _decode_scalar(text, member)
            continue
        nodes = children.get(member_tag(name, member))
        if not nodes:
            continue
        if member.type_name == "list" and member.flattened:
            out[name] = [_at(decode, node, member.member, name) for node in nodes]
        elif member.type_name == "map" and member.flattened:
            out[name] = dict(_decode_entry(node, member) for node in nodes)
        else:
            out[name] = _at(decode, nodes[0], member, name)
    return out


def _decode_entry(entry: ElementTree.Element, shape: Shape) -> tuple[Any, Any]:
    key_tag = shape.key.location_name or "key"
    value_tag = shape.value.location_name or "value"
    key = value = None
    for child in entry:
        tag = local_name(child.tag)
        if tag == key_tag:
            key = decode(child, shape.key)
        elif tag == value_tag:
            value = decode(child, shape.value)
    if key is None:
        raise DecodeError("a map entry has no key")
    return key, value


def _at(decode_one: Any, element: ElementTree.Element, shape: Shape, where: str) -> Any:
    try:
        return decode_one(element, shape)
    except DecodeError as exc:
        raise exc.at(where) from None


def _decode_scalar(text: str, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in _INTEGERS:
        try:
            return int(text.strip())
        except ValueError:
            raise DecodeError(f"expected an integer but got {text!r}") from None
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise DecodeError(f"expected true or false but got {text!r}")
        return lowered == "true"
    if kind in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            raise DecodeError(f"expected a number but got {text!r}") from None
    if kind == "timestamp":
        try:
            return parse_timestamp(text.strip())
        except ValueError:
            raise DecodeError(f"expected a timestamp but got {text!r}") from None
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError("invalid base64 data") from None
    return text


# -- encoding -------------------------------------------------------------------------------------


def encode(tag: str, shape: Shape, value: Any, namespace: str | None = None) -> ElementTree.Element:
    """A new element `tag` holding `value` written as `shape` (`namespace`: its xmlns)."""
    element = ElementTree.Element(tag)
    if namespace:
        element.set("xmlns", namespace)
    _fill(element, shape, value)
    return element


def _child(parent: ElementTree.Element, tag: str, shape: Shape, value: Any) -> None:
    _fill(ElementTree.SubElement(parent, tag), shape, value)


def _fill(element: ElementTree.Element, shape: Shape, value: Any) -> None:
    kind = shape.type_name
    if kind == "structure":
        _fill_structure(element, shape, value)
    elif kind == "list":
        item_tag = shape.member.location_name or "member"
        for item in value:
            _child(element, item_tag, shape.member, item)
    elif kind == "map":
        for key, item in value.items():
            _entry(ElementTree.SubElement(element, "entry"), shape, key, item)
    else:
        element.text = _scalar_text(shape, value)


def _fill_structure(element: ElementTree.Element, shape: Shape, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None or member.location is not None:
            continue
        if member.xml_attribute:
            attribute = member.location_name or name
            if attribute.startswith("xsi:"):
                element.set("xmlns:xsi", _XSI)
            element.set(attribute, _scalar_text(member, item))
        elif member.type_name == "list" and member.flattened:
            tag = member_tag(name, member)
            for entry in item:
                _child(element, tag, member.member, entry)
        elif member.type_name == "map" and member.flattened:
            tag = member_tag(name, member)
            for key, entry in item.items():
                _entry(ElementTree.SubElement(element, tag), member, key, entry)
        else:
            _child(element, member_tag(name, member), member, item)


def _entry(element: ElementTree.Element, shape: Shape, key: Any, value: Any) -> None:
    _child(element, shape.key.location_name or "key", shape.key, key)
    _child(element, shape.value.location_name or "value", shape.value, value)


def _scalar_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, shape.timestamp_format or "iso8601"))
    if kind == "blob":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(data).decode("ascii")
    if kind in ("double", "float"):
        number = float(value)
        if math.isfinite(number):
            return repr(number)
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    return str(value)
