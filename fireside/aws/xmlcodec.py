"""XML bodies read and written from the service model: the rest-xml protocol's (S3) request
and response documents and the query protocol's (STS) responses.

The model says how each member travels: under its `locationName` (else its member name), as
an attribute (`xmlAttribute`), lists wrapped (`<TagSet><Tag>..</Tag></TagSet>`) or flattened
(`<Contents>..</Contents><Contents>..</Contents>`), maps as `entry`/`key`/`value`. Element
names are matched without their namespace, as botocore does.

    element = ElementTree.fromstring(body)
    params = decode(element, shape)             # {"TagSet": [{"Key": "a", "Value": "b"}]}
    body = XmlWriter().document("Tagging", shape, params, namespace)

Writing builds text directly from functions compiled once per shape (three to five times as
fast as building and serializing an ElementTree), escaping what a parser would otherwise
change: a carriage return in text, tabs and line breaks in attributes. Characters XML 1.0
cannot carry at all (most C0 controls) are written as they are; S3 clients list keys with
`EncodingType=url`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from xml.etree import ElementTree

from fireside.aws.model import Shape
from fireside.aws.protocol import DecodeError
from fireside.aws.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "DECLARATION",
    "XmlWriter",
    "decode",
    "escape_attribute",
    "escape_text",
    "local_name",
    "member_tag",
    "xml_safe",
]

_INTEGERS = frozenset({"integer", "long", "short", "byte"})


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


# -- writing --------------------------------------------------------------------------------------

#: Writes one value as an element named by the second argument into the output parts.
Encoder = Callable[[Any, str, list[str]], None]
#: Writes a structure's child elements (not its own element) into the output parts.
MembersWriter = Callable[[Mapping[str, Any], list[str]], None]
#: A structure's attributes and namespace declarations, as text for its start tag.
AttributesWriter = Callable[[Mapping[str, Any]], str]

DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'


def escape_text(text: str) -> str:
    """`text` safe as element content, read back unchanged: besides `&`, `<` and `>`, a
    carriage return is written as `&#13;` (a parser would read a raw one as a newline)."""
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("\r", "&#13;")
        )
    return text


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry (`?` for each): for error messages
    that echo a client's bad value, which must stay a document the client can read."""
    return _NOT_XML.sub("?", text)


def escape_attribute(text: str) -> str:
    """`text` safe inside a double-quoted attribute, read back unchanged: parsers turn raw
    tabs and line breaks in attribute values into spaces, so they are character references."""
    return escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


class XmlWriter:
    """Compiles (once per shape) functions writing boto3-shaped values as XML text.

    The rest-xml and query protocols lay values out the same way: members under their wire
    name (`member_tag`), lists wrapped with `member` (or the element's `locationName`) items
    unless flattened, maps as `entry`/`key`/`value`, `xmlAttribute` members on their parent's
    start tag; booleans `true`/`false`, blobs base64, doubles as Python's shortest repr (with
    `NaN`, `Infinity`, `-Infinity`), timestamps ISO 8601 unless the member names a format.

        writer = XmlWriter()
        out = [writer.start_tag("Tagging", shape, value, namespace)]
        writer.members(shape)(value, out)
        out.append("</Tagging>")
    """

    def __init__(self) -> None:
        # Keyed by id(shape); the shape is kept so its id is not reused.
        self._elements: dict[int, tuple[Shape, Encoder]] = {}
        self._members: dict[int, tuple[Shape, MembersWriter]] = {}
        self._attributes: dict[int, tuple[Shape, AttributesWriter, bool]] = {}

    def element(self, shape: Shape) -> Encoder:
        """Writes a value of `shape` as one element (none for a flattened list or map)."""
        found = self._elements.get(id(shape))
        if found is not None:
            return found[1]
        # A placeholder first, so recursive shapes find themselves while being built.
        cell: list[Encoder] = []
        self._elements[id(shape)] = (shape, lambda value, tag, out: cell[0](value, tag, out))
        built = self._build(shape)
        cell.append(built)
        self._elements[id(shape)] = (shape, built)
        return built

    def members(self, shape: Shape) -> MembersWriter:
        """Writes a structure's member elements, in model order (not its attributes)."""
        found = self._members.get(id(shape))
        if found is not None:
            return found[1]
        fields: list[tuple[str, str, Encoder]] = []
        for name, member in shape.members.items():
            if member.location is not None or member.xml_attribute:
                continue
            if member.flattened and member.type_name == "list":
                encode = self._flat_list(member)
            elif member.flattened and member.type_name == "map":
                encode = self._map(member, flattened=True)
            else:
                encode = self.element(member)
            fields.append((name, member_tag(name, member), encode))

        def write(value: Mapping[str, Any], out: list[str]) -> None:
            for name, tag, encode in fields:
                item = value.get(name)
                if item is not None:
                    encode(item, tag, out)

        self._members[id(shape)] = (shape, write)
        return write

    def start_tag(
        self, tag: str, shape: Shape, value: Mapping[str, Any], namespace: str | None = None
    ) -> str:
        """`<tag ...>` for a structure: its namespace declaration and attributes, and
        `namespace` as the default namespace unless the shape declares its own."""
        attributes, own_default = self._attributes_of(shape)
        if namespace and not own_default:
            return f'<{tag} xmlns="{escape_attribute(namespace)}"{attributes(value)}>'
        return f"<{tag}{attributes(value)}>"

    def document(
        self, tag: str, shape: Shape, value: Mapping[str, Any], namespace: str | None = None
    ) -> bytes:
        """A whole document: the XML declaration and `value` as the root element `tag`."""
        out = [DECLARATION, self.start_tag(tag, shape, value, namespace)]
        self.members(shape)(value, out)
        out.append(f"</{tag}>")
        return "".join(out).encode()

    def _attributes_of(self, shape: Shape) -> tuple[AttributesWriter, bool]:
        """The start tag's text for a structure, and whether it declares a default namespace."""
        found = self._attributes.get(id(shape))
        if found is not None:
            return found[1], found[2]
        fields = [
            (name, member.location_name or name, _converter(member))
            for name, member in shape.members.items()
            if member.xml_attribute and member.location is None
        ]
        # The model gives a namespace's URI; its prefix is the one the attributes use
        # (S3's Grantee: `xsi:type` under http://www.w3.org/2001/XMLSchema-instance).
        prefixes = sorted({attr.partition(":")[0] for _, attr, _ in fields if ":" in attr})
        declaration = ""
        uri = shape.xml_namespace
        if uri is not None:
            quoted = escape_attribute(uri)
            if prefixes:
                declaration = "".join(f' xmlns:{prefix}="{quoted}"' for prefix in prefixes)
            else:
                declaration = f' xmlns="{quoted}"'

        def write(value: Mapping[str, Any]) -> str:
            if not fields:
                return declaration
            parts = [declaration]
            for name, attr, convert in fields:
                item = value.get(name)
                if item is not None:
                    parts.append(f' {attr}="{escape_attribute(convert(item))}"')
            return "".join(parts)

        own_default = uri is not None and not prefixes
        self._attributes[id(shape)] = (shape, write, own_default)
        return write, own_default

    def _build(self, shape: Shape) -> Encoder:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape, flattened=False)
        if kind == "string":
            return _string_element
        convert = _converter(shape)

        def encode(value: Any, tag: str, out: list[str]) -> None:
            out.append(f"<{tag}>{convert(value)}</{tag}>")

        return encode

    def _structure(self, shape: Shape) -> Encoder:
        # Built on first use: a recursive shape's members would loop otherwise.
        cell: list[tuple[MembersWriter, AttributesWriter]] = []

        def encode(value: Mapping[str, Any], tag: str, out: list[str]) -> None:
            if not cell:
                cell.append((self.members(shape), self._attributes_of(shape)[0]))
            write_members, attributes = cell[0]
            out.append(f"<{tag}{attributes(value)}>")
            write_members(value, out)
            out.append(f"</{tag}>")

        return encode

    def _list(self, shape: Shape) -> Encoder:
        encode_item = self.element(shape.member)
        item_tag = shape.member.location_name or "member"

        def encode(value: list[Any], tag: str, out: list[str]) -> None:
            out.append(f"<{tag}>")
            for item in value:
                encode_item(item, item_tag, out)
            out.append(f"</{tag}>")

        return encode

    def _flat_list(self, shape: Shape) -> Encoder:
        encode_item = self.element(shape.member)

        def encode(value: list[Any], tag: str, out: list[str]) -> None:
            for item in value:
                encode_item(item, tag, out)

        return encode

    def _map(self, shape: Shape, *, flattened: bool) -> Encoder:
        encode_key = self.element(shape.key)
        encode_value = self.element(shape.value)
        key_tag = shape.key.location_name or "key"
        value_tag = shape.value.location_name or "value"

        def encode(value: Mapping[Any, Any], tag: str, out: list[str]) -> None:
            entry = tag if flattened else "entry"
            if not flattened:
                out.append(f"<{tag}>")
            for key, item in value.items():
                out.append(f"<{entry}>")
                encode_key(key, key_tag, out)
                encode_value(item, value_tag, out)
                out.append(f"</{entry}>")
            if not flattened:
                out.append(f"</{tag}>")

        return encode


def _string_element(value: Any, tag: str, out: list[str]) -> None:
    text = value if type(value) is str else str(value)
    out.append(f"<{tag}>{escape_text(text)}</{tag}>")


def _converter(shape: Shape) -> Callable[[Any], str]:
    """A scalar's text (unescaped: only strings can hold characters XML gives meaning to)."""
    kind = shape.type_name
    if kind == "boolean":
        return _format_boolean
    if kind in _INTEGERS:
        return _format_integer
    if kind in ("double", "float"):
        return _format_double
    if kind == "timestamp":
        fmt = shape.timestamp_format or "iso8601"
        return lambda value: str(format_timestamp(value, fmt))
    if kind == "blob":
        return _format_blob
    return str


def _format_boolean(value: Any) -> str:
    return "true" if value else "false"


def _format_integer(value: Any) -> str:
    return str(int(value))


def _format_double(value: Any) -> str:
    number = float(value)
    if math.isfinite(number):
        return repr(number)
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _format_blob(value: Any) -> str:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")
