"""The SerializationException messages of AWS's Coral (Java) JSON services, for a bad value.

Coral binds a json-1.0/1.1 request to Java classes with Jackson, so a value of the wrong JSON
type is reported in Jackson's words, which depend on the Java type the member binds to and on
where it sits: a structure that is a member of a structure is a "field", one inside a list or
map a "value", and a list or map inside another collection is a parameterized type Coral cannot
cast. DynamoDB answers, for example:

    {"TableName": true}            TRUE_VALUE cannot be converted to String
    {"Key": "x"}                   Unexpected field type
    {"Key": {"k": "x"}}            Unexpected value type in payload
    {"Key": []}                    Unrecognized collection type java.util.Map<java.lang.String,
                                   com.amazonaws.dynamodb.v20120810.AttributeValue>

`coral_message` finds the member a `DecodeError` names (its `path`) in the operation's input
shape and the value in the document, and returns Coral's message, or None where Coral's wording
is not known (the caller keeps its own). It runs only for a request already refused.
"""

from __future__ import annotations

from typing import Any

from fireside.aws.model import Shape

__all__ = ["coral_message"]

_JAVA_SCALARS = {
    "string": "java.lang.String",
    "boolean": "java.lang.Boolean",
    "integer": "java.lang.Integer",
    "long": "java.lang.Long",
    "blob": "java.nio.ByteBuffer",
    "double": "java.lang.Double",
    "float": "java.lang.Float",
}
_CAST = (
    "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to class "
    "java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and "
    "java.lang.Class are in module java.base of loader 'bootstrap')"
)
_OBJECT_HERE = "Start of structure or map found where not expected"


def java_type(shape: Shape, namespace: str) -> str:
    """The Java type a shape binds to, as Coral names it in messages."""
    kind = shape.type_name
    if kind == "structure":
        return f"{namespace}.{shape.name}"
    if kind == "list":
        return f"java.util.List<{java_type(shape.member, namespace)}>"
    if kind == "map":
        return f"java.util.Map<java.lang.String, {java_type(shape.value, namespace)}>"
    return _JAVA_SCALARS.get(kind, "java.lang.Object")


def _token(value: Any) -> str:
    """Jackson's name for the JSON token of a scalar."""
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    if isinstance(value, int):
        return "NUMBER_VALUE"
    if isinstance(value, float):
        return "DECIMAL_VALUE"
    return "STRING_VALUE"


def _locate(root: Shape, document: Any, path: list[str]) -> tuple[Shape, Any, str] | None:
    """The shape and value at `path`, and where it sits: "field", "value" or "element"
    (a list or map inside a collection)."""
    shape, value, place = root, document, "field"
    for name in path:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            member = next(
                (m for n, m in shape.members.items() if (m.location_name or n) == name), None
            )
            if member is None:
                return None
            shape, value, place = member, value.get(name), "field"
        elif kind == "list" and isinstance(value, list) and name.isdigit():
            shape, value, place = shape.member, value[int(name)], "value"
        elif kind == "map" and isinstance(value, dict):
            shape, value, place = shape.value, value.get(name), "value"
        else:
            return None
        if place == "value" and shape.type_name in ("list", "map"):
            place = "element"
    return shape, value, place


def _blob_message(value: str) -> str:
    """For a string the codec could not decode as base64."""
    if len(value) % 4:
        return f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(value)}"
    return "Invalid last non-pad Base64 character dectected"  # sic


def coral_message(root: Shape, document: Any, path: list[str], namespace: str) -> str | None:
    """Coral's message for the bad value at `path` of `document` (an input of shape `root`)."""
    found = _locate(root, document, path)
    if found is None:
        return None
    shape, value, place = found
    kind = shape.type_name
    if isinstance(value, dict):
        if kind == "list" or kind in _JAVA_SCALARS:
            return _OBJECT_HERE
        return None
    if isinstance(value, list):
        if kind == "map":
            return f"Unrecognized collection type {java_type(shape, namespace)}"
        if kind == "structure" or kind in _JAVA_SCALARS:
            return f"Unrecognized collection type class {java_type(shape, namespace)}"
        return None
    if kind in ("list", "map"):
        return _CAST if place == "element" else "Unexpected field type"
    if kind == "structure":
        return "Unexpected field type" if place == "field" else "Unexpected value type in payload"
    if kind == "blob":
        if isinstance(value, str):
            return _blob_message(value)
        return "only base-64-encoded strings are convertible to bytes"
    if kind == "boolean" and isinstance(value, str):
        return "Unexpected token received from parser"
    if kind in ("string", "boolean", "integer", "long"):
        if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
            return None  # in range of JSON but not of the type: Fireside's own message
        return f"{_token(value)} cannot be converted to {_JAVA_SCALARS[kind].rsplit('.', 1)[1]}"
    return None
